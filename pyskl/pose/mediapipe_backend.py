"""mediapipe 0.10.14 Hands (legacy ``mp.solutions``; the models ship in the wheel, run offline on CPU).

``MediaPipeHands``: 21 hand landmarks (layout 'handmp'); optionally run on square crops (e.g. around
pose wrists) when hands are too small for the full-frame palm detector. Body pose is
:mod:`pyskl.pose.blazepose` (multi-person, from the same wheel's models).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backend import Detection, keypoint_box

__all__ = ["MediaPipeHands", "require_mediapipe", "wrist_crops"]


def require_mediapipe() -> Any:
    """Import mediapipe or raise an ImportError saying how to install it."""
    import os
    import warnings

    # mediapipe/TFLite log through glog and absl: keep only errors on the console
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    try:
        import mediapipe as mp
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the mediapipe hands backend needs mediapipe==0.10.14: pip install 'pyskl[demo]' "
            "(or pip install --no-deps mediapipe==0.10.14 'protobuf<5' absl-py attrs flatbuffers)"
        ) from err
    return mp


def _to_rgb(frame: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """RGB copy of a BGR frame, shrunk (INTER_AREA) so its longer side is at most ``max_side``."""
    import cv2

    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a BGR frame [H, W, 3], got shape {frame.shape}")
    h, w = frame.shape[:2]
    if max_side and max(h, w) > max_side:
        f = max_side / max(h, w)
        frame = cv2.resize(frame, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def _landmarks(landmark_list: Any, with_visibility: bool) -> tuple[np.ndarray, np.ndarray]:
    lms = landmark_list.landmark
    xy = np.array([(lm.x, lm.y) for lm in lms], dtype=np.float32)
    vis = (
        np.array([lm.visibility for lm in lms], dtype=np.float32)
        if with_visibility
        else np.ones(len(lms), np.float32)
    )
    return xy, np.clip(vis, 0.0, 1.0)


class MediaPipeHands:
    """mediapipe Hands as a backend: 21 landmarks per hand (layout 'handmp').

    Args:
        max_num_hands: hands per image (per crop when crops are given).
        static_image_mode: True runs palm detection on every image (PYSKL's gesture demo does).
        model_complexity: 0 or 1.
        min_detection_confidence: palm detector threshold.
        max_side: full frames are shrunk to this longer side first (crops are used at full resolution).

    Each detection's ``score`` is the handedness confidence for every joint (mediapipe Hands gives no
    per-landmark score); ``extra`` holds ``normalized`` (x / W, y / H in the full frame), ``crop_normalized``
    (relative to the crop it was found in, == ``normalized`` for full-frame detections), ``handedness``
    and ``crop`` (the crop box or None).
    """

    layout = "handmp"

    def __init__(
        self,
        max_num_hands: int = 1,
        static_image_mode: bool = True,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        max_side: int | None = 960,
    ) -> None:
        mp = require_mediapipe()
        self.max_side = max_side
        self._model = mp.solutions.hands.Hands(
            static_image_mode=static_image_mode,
            max_num_hands=max_num_hands,
            model_complexity=model_complexity,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def __call__(self, frame: np.ndarray, crops: Sequence[Sequence[int]] | None = None) -> list[Detection]:
        """Hands in the full frame, or in each ``(x1, y1, x2, y2)`` crop when ``crops`` is given."""
        h, w = frame.shape[:2]
        if crops is None:
            return self._detect(_to_rgb(frame, self.max_side), 0, 0, w, h, w, h, None)
        out: list[Detection] = []
        for box in crops:
            x1, y1, x2, y2 = (int(v) for v in box)
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
            if x2 - x1 < 16 or y2 - y1 < 16:
                continue
            crop = _to_rgb(frame[y1:y2, x1:x2])
            out += self._detect(crop, x1, y1, x2 - x1, y2 - y1, w, h, (x1, y1, x2, y2))
        return out

    def _detect(
        self, rgb: np.ndarray, ox: int, oy: int, cw: int, ch: int, w: int, h: int, crop: Any
    ) -> list[Detection]:
        """Hands in ``rgb``, which shows the ``cw`` x ``ch`` frame region at (ox, oy) (maybe shrunk)."""
        result = self._model.process(rgb)
        if not result.multi_hand_landmarks:
            return []
        out = []
        handedness = result.multi_handedness or [None] * len(result.multi_hand_landmarks)
        for landmarks, hand in zip(result.multi_hand_landmarks, handedness):
            xy, _ = _landmarks(landmarks, with_visibility=False)
            pix = xy * np.array([cw, ch], dtype=np.float32) + np.array([ox, oy], dtype=np.float32)
            label, conf = (
                ("", 1.0) if hand is None else (hand.classification[0].label, hand.classification[0].score)
            )
            score = np.full(len(pix), conf, dtype=np.float32)
            extra = {
                "normalized": pix / np.array([w, h], dtype=np.float32),
                "crop_normalized": xy,
                "handedness": label,
                "crop": crop,
            }
            out.append(Detection(pix.astype(np.float32), score, keypoint_box(pix, score, -1.0), extra))
        return out

    def close(self) -> None:
        self._model.close()

    def __enter__(self) -> MediaPipeHands:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wrist_crops(
    pose: Detection,
    frame_shape: tuple[int, int],
    size: int = 320,
    threshold: float = 0.3,
    layout: str = "coco",
) -> list[tuple[int, int, int, int]]:
    """Square ``size`` px crops centred on the confident wrists of a pose detection."""
    from ..utils.layouts import get_layout

    names = get_layout(layout).joint_names
    h, w = frame_shape
    crops = []
    for name in ("left_wrist", "right_wrist"):
        j = names.index(name)
        if pose.score[j] <= threshold:
            continue
        cx, cy = pose.keypoint[j]
        half = size // 2
        x1 = int(np.clip(cx - half, 0, max(0, w - size)))
        y1 = int(np.clip(cy - half, 0, max(0, h - size)))
        crops.append((x1, y1, min(w, x1 + size), min(h, y1 + size)))
    return crops
