"""The ONNX slot for heavier pose models (RTMO one-stage, as exported by rtmlib / mmdeploy).

pyskl ships no ONNX weights. With a model you provide (``pyskl extract ... --backend onnx
--backend-model rtmo-s.onnx``), :class:`OnnxPose` runs it with onnxruntime on CPU or CUDA.

Expected model contract (RTMO's end-to-end export):
    input  ``[1, 3, S, S]`` float32, BGR pixels letterboxed into an ``S x S`` square (S from the model,
           default 640), padded with 114, not normalised;
    output 0 ``dets [1, N, 5]``: boxes (x1, y1, x2, y2, score) in the letterboxed image;
    output 1 ``keypoints [1, N, 17, 3]``: COCO-17 (x, y, score) in the letterboxed image.
Other models (top-down RTMPose needs a person detector and SimCC decoding) need their own class
here; register it in :data:`pyskl.pose.backend.BACKENDS`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .backend import Detection

__all__ = ["OnnxPose", "letterbox"]


def letterbox(frame: np.ndarray, size: int, pad_value: int = 114) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of a ``size`` square; returns (image, scale)."""
    import cv2

    h, w = frame.shape[:2]
    scale = min(size / h, size / w)
    resized = cv2.resize(
        frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR
    )
    out = np.full((size, size, 3), pad_value, dtype=np.uint8)
    out[: resized.shape[0], : resized.shape[1]] = resized
    return out, scale


class OnnxPose:
    """RTMO-style one-stage ONNX pose model (see the module docstring for the tensor contract).

    Args:
        model: path to the ``.onnx`` file (required; none is shipped).
        max_persons: keep the highest-scoring persons.
        score_threshold: minimum person score.
        device: 'cpu' or 'cuda' (CUDAExecutionProvider when onnxruntime-gpu is installed).
    """

    layout = "coco"

    def __init__(
        self,
        model: str | None = None,
        max_persons: int = 2,
        score_threshold: float = 0.3,
        device: str = "cpu",
        **_: Any,
    ) -> None:
        if not model:
            raise ValueError(
                "the onnx pose backend needs a model file: --backend-model PATH.onnx "
                "(e.g. an RTMO export; pyskl ships no ONNX weights)"
            )
        if not os.path.isfile(model):
            raise FileNotFoundError(f"{model}: ONNX pose model not found")
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError("the onnx pose backend needs onnxruntime: pip install 'pyskl[export]'") from err
        providers = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"]
            if device == "cuda"
            else ["CPUExecutionProvider"]
        )
        self.session = ort.InferenceSession(model, providers=providers)
        shape = self.session.get_inputs()[0].shape
        self.size = int(shape[-1]) if isinstance(shape[-1], int) else 640
        self.max_persons, self.score_threshold = max_persons, score_threshold

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        image, scale = letterbox(frame, self.size)
        blob = image.transpose(2, 0, 1)[None].astype(np.float32)
        dets, kps = self.session.run(None, {self.session.get_inputs()[0].name: blob})[:2]
        return decode_rtmo(dets[0], kps[0], scale, frame.shape[:2], self.max_persons, self.score_threshold)

    def close(self) -> None:
        self.session = None


def decode_rtmo(
    dets: np.ndarray,
    kps: np.ndarray,
    scale: float,
    frame_shape: tuple[int, int],
    max_persons: int,
    score_threshold: float,
) -> list[Detection]:
    """RTMO outputs (letterboxed coordinates) -> detections in frame pixels, best first."""
    h, w = frame_shape
    keep = np.flatnonzero(dets[:, 4] >= score_threshold)
    keep = keep[np.argsort(-dets[keep, 4])][:max_persons]
    out = []
    for i in keep:
        xy = np.clip(kps[i, :, :2] / scale, 0, [w - 1, h - 1]).astype(np.float32)
        out.append(
            Detection(
                xy,
                np.clip(kps[i, :, 2], 0, 1).astype(np.float32),
                (dets[i, :4] / scale).astype(np.float32),
                {"person_score": float(dets[i, 4])},
            )
        )
    return out
