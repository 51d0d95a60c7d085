"""``PoseDataset``: PYSKL's skeleton dataset over an annotation pickle (or a packed annotation folder)."""
from __future__ import annotations

import copy
import os
import os.path as osp
import pickle
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from ..registry import DATASETS
from .io import load_annotations, loads_annotations
from .validation import AnnotationError, sample_identifier

__all__ = ["PoseDataset"]

# PYSKL only allows these detector-box thresholds (the keys of Kinetics' ``valid`` dicts).
_BOX_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


@DATASETS.register()
class PoseDataset:
    """Skeleton samples from a PYSKL annotation file, run through a pipeline.

    ``dataset[i]`` deep-copies annotation ``i``, adds ``modality``, ``start_index`` and ``test_mode`` (and, with
    ``memcached``, the keypoints fetched from memcached) and returns ``pipeline(results)``.

    Args:
        ann_file: a PYSKL annotation pickle, or a packed annotation folder (``pyskl.datasets.packed``).
        pipeline: op dicts (built through ``TRANSFORMS``) or callables, run by ``Compose``.
        split: the split to keep (e.g. ``'xsub_train'``); annotation order is preserved. ``None`` keeps all.
        data_prefix: joined in front of every ``frame_dir`` / ``filename``.
        test_mode: passed to the pipeline as ``results['test_mode']``.
        valid_ratio: Kinetics only: when > 0, keep samples whose ``valid[box_thr] / total_frames >= valid_ratio``
            and add ``anno_inds = box_score >= box_thr`` (PYSKL ignores ``None`` and ``0.0``, which configs use).
        box_thr: detector-box threshold, one of 0.5, 0.6, 0.7, 0.8, 0.9 (PYSKL's default 0.5).
        class_prob: per-class sampling multipliers, a list or a ``{label: multiplier}`` dict, for the
            training sampler (``pyskl.engine.class_sampler``).
        memcached: fetch each sample's arrays from memcached under the key ``frame_dir`` (needs ``pymemcache``).
        mc_cfg: memcached ``(host, port)``.
        start_index: added to frame indices by the sampling ops.
        modality: ``results['modality']``.
        multi_class: labels are lists of class indices, turned into one-hot vectors.
        num_classes: number of classes; inferred as ``max(label) + 1`` when not given (single-label only).
        validate: validate the annotation file on load (default); ``False`` skips it.
    """

    def __init__(self,
                 ann_file: str | os.PathLike,
                 pipeline: Sequence[dict | Callable],
                 split: str | None = None,
                 data_prefix: str | None = None,
                 test_mode: bool = False,
                 valid_ratio: float | None = None,
                 box_thr: float | None = 0.5,
                 class_prob: Sequence[float] | dict | None = None,
                 memcached: bool = False,
                 mc_cfg: Sequence = ("localhost", 22077),
                 start_index: int = 0,
                 modality: str = "Pose",
                 multi_class: bool = False,
                 num_classes: int | None = None,
                 validate: bool = True) -> None:
        from .pipelines import Compose  # the pipelines package registers its ops on import

        self.ann_file = os.fspath(ann_file)
        self.split = split
        self.data_prefix = data_prefix
        self.test_mode = test_mode
        self.start_index = start_index
        self.modality = modality
        self.multi_class = multi_class
        self.memcached = memcached
        self.mc_cfg = tuple(mc_cfg) if mc_cfg is not None else None
        self.cli: Any = None
        if class_prob is not None and not isinstance(class_prob, dict):
            class_prob = list(class_prob)
        self.class_prob = class_prob
        if box_thr is not None:
            threshold = _as_float(box_thr)
            if threshold is None or not any(abs(threshold - t) < 1e-9 for t in _BOX_THRESHOLDS):
                raise ValueError(f"PoseDataset: box_thr must be one of {_BOX_THRESHOLDS} or None, got {box_thr!r}")
            box_thr = threshold
        self.box_thr = box_thr
        if valid_ratio is not None and (isinstance(valid_ratio, bool)
                                        or not isinstance(valid_ratio, (int, float))):
            raise TypeError(f"PoseDataset: valid_ratio must be a float, got {valid_ratio!r}")
        self.valid_ratio = None if valid_ratio is None else float(valid_ratio)
        # PYSKL thresholds only for a positive ratio (K400 configs pass 0.0 and keep every sample as is).
        self._use_valid = self.valid_ratio is not None and self.valid_ratio > 0
        if self._use_valid and box_thr is None:
            raise ValueError("PoseDataset: valid_ratio needs box_thr (the key of each sample's 'valid' dict)")

        self.pipeline = Compose(pipeline)
        if osp.isdir(self.ann_file):
            self.video_infos: Sequence[dict] = self._load_packed()
        else:
            self.video_infos = self._load_pickle(validate, num_classes)
        if self._use_valid:
            self.video_infos = [x for x in self.video_infos if self._passes_valid_ratio(x)]
        self._labels: np.ndarray | None = None
        self.num_classes = num_classes
        if num_classes is None and not multi_class:
            labels = self.labels
            self.num_classes = int(labels.max()) + 1 if len(labels) else 0

    # ----------------------------------------------------------------------------------------------- loading
    def _load_pickle(self, validate: bool, num_classes: int | None) -> list[dict]:
        data = load_annotations(self.ann_file, validate=validate, split=self.split, num_classes=num_classes,
                                multi_class=self.multi_class)
        if self.split is not None:
            if not isinstance(data, dict) or not isinstance(data.get("split"), dict):
                raise AnnotationError(f"{self.ann_file}: split {self.split!r} requested but the file has no "
                                      "'split' dict")
            if self.split not in data["split"]:
                raise AnnotationError(f"{self.ann_file}: split {self.split!r} not found; available splits: "
                                      f"{', '.join(map(str, data['split']))}")
            annotations = data["annotations"]
            if annotations:
                ident = sample_identifier(annotations[0])
                keep = set(data["split"][self.split])
                annotations = [x for x in annotations if x[ident] in keep]
        else:
            annotations = data["annotations"] if isinstance(data, dict) else data
        return [self._prepare_info(item, copy_item=False) for item in annotations]

    def _load_packed(self) -> Sequence[dict]:
        from .packed import open_packed

        split_dict, annotations = open_packed(self.ann_file)
        if self.split is None:
            indices = range(len(annotations))
        else:
            if not split_dict or self.split not in split_dict:
                raise AnnotationError(f"{self.ann_file}: split {self.split!r} not found; available splits: "
                                      f"{', '.join(map(str, split_dict or {})) or '(none)'}")
            names = _column(annotations, "filename") or _column(annotations, "frame_dir")
            if names is None:
                names = [annotations[i].get("filename", annotations[i].get("frame_dir"))
                         for i in range(len(annotations))]
            keep = set(split_dict[self.split])
            indices = [i for i, name in enumerate(names) if name in keep]
        return _LazyInfos(annotations, indices, self._prepare_info)

    def _prepare_info(self, item: dict, copy_item: bool = True) -> dict:
        """PYSKL's per-sample fix-ups: data_prefix, Kinetics ``anno_inds``, drop ``valid``/``box_score``."""
        if copy_item:
            item = dict(item)
        if self.data_prefix is not None:
            for key in ("filename", "frame_dir"):
                if key in item:
                    item[key] = osp.join(self.data_prefix, item[key])
        if self._use_valid:
            if "box_score" not in item:
                raise AnnotationError(f"{self.ann_file}: sample {item.get('frame_dir')!r}: box_score is missing; "
                                      "valid_ratio needs per-box scores")
            item["_valid"] = item.get("valid")
            item["anno_inds"] = np.asarray(item["box_score"]) >= self.box_thr
        item.pop("valid", None)
        item.pop("box_score", None)
        if self.memcached:
            item["key"] = item["frame_dir"]
        return item

    def _passes_valid_ratio(self, item: dict) -> bool:
        valid = item.pop("_valid", None)
        if not isinstance(valid, dict) or self.box_thr not in valid:
            raise AnnotationError(f"{self.ann_file}: sample {item.get('frame_dir')!r}: valid is {valid!r:.60}; "
                                  f"valid_ratio needs a dict with the key box_thr={self.box_thr}")
        return valid[self.box_thr] / item["total_frames"] >= self.valid_ratio

    # ----------------------------------------------------------------------------------------------- access
    @property
    def labels(self) -> np.ndarray:
        """Every sample's label (int64 array; an object array of lists for ``multi_class``)."""
        if self._labels is None:
            labels = getattr(self.video_infos, "labels", None)
            if labels is None:
                labels = [info["label"] for info in self.video_infos]
            if self.multi_class:
                self._labels = np.empty(len(labels), dtype=object)
                self._labels[:] = list(labels)
            else:
                self._labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        return self._labels

    def __len__(self) -> int:
        return len(self.video_infos)

    def __getitem__(self, idx: int) -> Any:
        results = copy.deepcopy(self.video_infos[idx])
        if self.memcached and "key" in results:
            results.update(self._fetch_memcached(results))
        results["modality"] = self.modality
        results["start_index"] = self.start_index
        if self.multi_class and isinstance(results["label"], list):
            import torch

            onehot = torch.zeros(self.num_classes)
            onehot[results["label"]] = 1.0
            results["label"] = onehot
        results["test_mode"] = self.test_mode
        return self.pipeline(results)

    def _fetch_memcached(self, results: dict) -> dict:
        key = results.pop("key")
        if self.cli is None:
            self.cli = _memcached_client(self.mc_cfg)
        pack = self.cli.get(key)
        if not isinstance(pack, dict):
            # Not cached yet: read the raw file that holds this sample and cache all of its entries.
            raw_file = results.get("raw_file")
            if raw_file is None:
                raise AnnotationError(f"{self.ann_file}: sample {key!r}: not in memcached and has no raw_file")
            data = load_annotations(raw_file, validate=False)
            if not isinstance(data, dict) or key not in data:
                raise AnnotationError(f"{raw_file}: holds no entry for sample {key!r}")
            pack = data[key]
            for name, value in data.items():
                self.cli.set(name, value)
        return pack

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(ann_file={self.ann_file!r}, split={self.split!r}, len={len(self)}, "
                f"test_mode={self.test_mode})")


def _as_float(value: Any) -> float | None:
    """``value`` as a float (PYSKL's older configs give thresholds as strings), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, np.floating)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


class _LazyInfos(Sequence):
    """A split of a packed annotation sequence, fixed up per access (nothing loaded up front)."""

    def __init__(self, annotations: Sequence, indices: Sequence[int], prepare: Callable[[dict], dict]) -> None:
        self._annotations = annotations
        self._indices = indices
        self._prepare = prepare

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, idx: int) -> dict:  # type: ignore[override]
        return self._prepare(self._annotations[self._indices[idx]])

    @property
    def labels(self) -> list | None:
        """Labels read from the packed index without touching arrays (``None`` if it cannot)."""
        labels = _column(self._annotations, "label")
        return None if labels is None else [labels[i] for i in self._indices]


def _column(annotations: Any, key: str) -> list | None:
    """A scalar field of every sample from a packed sequence's index, or ``None``."""
    column = getattr(annotations, "column", None)
    if column is None:
        return None
    try:
        values = column(key)
    except KeyError:
        return None
    return None if any(v is None for v in values) else values


class _SafePickleSerde:
    """pymemcache serde that stores pickles but reads them back through the restricted unpickler."""

    def serialize(self, key: Any, value: Any) -> tuple[bytes, int]:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), 1

    def deserialize(self, key: Any, value: bytes, flags: int) -> Any:
        return loads_annotations(value, f"memcached:{key!r}", validate=False) if flags == 1 else value


def _memcached_client(mc_cfg: tuple | None) -> Any:
    try:
        from pymemcache.client.base import Client
    except ImportError as err:  # pragma: no cover - optional extra
        raise ImportError("PoseDataset(memcached=True) needs pymemcache: pip install 'pyskl[mc]'") from err
    return Client(mc_cfg, serde=_SafePickleSerde(), default_noreply=False)  # sets acknowledged before reuse
