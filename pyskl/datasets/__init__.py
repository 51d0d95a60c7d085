"""Datasets: safe annotation loading and validation, ``PoseDataset``, wrappers, synthetic data."""
from ..registry import DATASETS
from . import pipelines  # noqa: F401  (registers the pipeline ops)
from .builder import ConcatDataset, RepeatDataset, build_dataset
from .io import AnnotationFileNotFoundError, load_annotations, loads_annotations, save_annotations
from .pose_dataset import PoseDataset
from .synthetic import SYNTHETIC_CLASSES, make_synthetic, write_synthetic
from .validation import AnnotationError, validate_annotations

__all__ = [
    "DATASETS",
    "AnnotationError",
    "AnnotationFileNotFoundError",
    "ConcatDataset",
    "PoseDataset",
    "RepeatDataset",
    "SYNTHETIC_CLASSES",
    "build_dataset",
    "load_annotations",
    "loads_annotations",
    "make_synthetic",
    "save_annotations",
    "validate_annotations",
    "write_synthetic",
]
