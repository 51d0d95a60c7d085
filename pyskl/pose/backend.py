"""The pose-backend interface: one frame in, a list of person detections out.

A backend is any callable ``backend(frame_bgr) -> list[Detection]`` with a ``layout`` attribute
(the joint order of ``Detection.keypoint``) and a ``close()`` method; a backend that keeps state from
frame to frame also has ``reset()``, called before each video. :func:`build_pose_backend` makes one
by name:

- ``'mediapipe'`` (default, also called ``'blazepose'``): multi-person BlazePose from mediapipe
  0.10.14's detector and landmark models, run with ai-edge-litert, offline on CPU; COCO-17 or the
  33 landmarks (:mod:`pyskl.pose.blazepose`).
- ``'onnx'``: the slot for heavier top-down / one-stage models (RTMPose, RTMO) exported to ONNX.
  pyskl ships no such weights; pass ``model=PATH.onnx`` that you provide
  (:mod:`pyskl.pose.onnx_backend` documents the expected input/output tensors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = ["BACKENDS", "Detection", "PoseBackend", "build_pose_backend", "keypoint_box"]


@dataclass
class Detection:
    """One person (or hand) in one frame.

    Attributes:
        keypoint: float32 ``[V, 2]`` pixel coordinates (x, y) in the backend's ``layout``.
        score: float32 ``[V]`` per-joint confidence in [0, 1].
        box: float32 ``[4]`` (x1, y1, x2, y2) in pixels.
        extra: backend-specific data (e.g. mediapipe's normalised landmarks, handedness).
    """

    keypoint: np.ndarray
    score: np.ndarray
    box: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


class PoseBackend(Protocol):
    layout: str

    def __call__(self, frame: np.ndarray) -> list[Detection]: ...

    def close(self) -> None: ...


def keypoint_box(keypoint: np.ndarray, score: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """Box (x1, y1, x2, y2) around joints scoring above ``threshold`` (all joints when none do)."""
    keep = score > threshold
    pts = keypoint[keep] if keep.any() else keypoint
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    hi = np.maximum(hi, lo + 1)  # at least 1 px wide and tall, so IoU stays defined for degenerate poses
    return np.array([lo[0], lo[1], hi[0], hi[1]], dtype=np.float32)


# name -> "module:factory" under pyskl.pose; imported only when used (heavy optional deps).
BACKENDS: dict[str, str] = {
    "mediapipe": "blazepose:BlazePose",
    "blazepose": "blazepose:BlazePose",
    "mediapipe_hands": "mediapipe_backend:MediaPipeHands",
    "onnx": "onnx_backend:OnnxPose",
    "replay": "replay:ReplayBackend",
}


def build_pose_backend(name: str = "mediapipe", **kwargs: Any) -> PoseBackend:
    """Instantiate a pose backend by name (see :data:`BACKENDS`)."""
    import importlib

    if name not in BACKENDS:
        raise ValueError(f"unknown pose backend {name!r}; available: {', '.join(BACKENDS)}")
    module_name, factory = BACKENDS[name].split(":")
    module = importlib.import_module(f"pyskl.pose.{module_name}")
    return getattr(module, factory)(**kwargs)
