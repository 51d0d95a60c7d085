"""High-level API (PYSKL's names): build a recognizer from a config + checkpoint and run it."""

from .inference import (
    build_test_pipeline,
    inference_recognizer,
    init_recognizer,
    make_annotation,
    predict_scores,
)
from .streaming import SCENE, SceneRecognizer, StreamingRecognizer, TrackPrediction
from .timeline import TIMELINE_SCHEMA, Timeline, validate_timeline

__all__ = [
    "SCENE",
    "TIMELINE_SCHEMA",
    "SceneRecognizer",
    "StreamingRecognizer",
    "Timeline",
    "TrackPrediction",
    "build_test_pipeline",
    "inference_recognizer",
    "init_recognizer",
    "make_annotation",
    "predict_scores",
    "validate_timeline",
]
