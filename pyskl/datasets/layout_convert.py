"""Pure-numpy conversions between skeleton layouts (mediapipe-33, COCO-17, OpenPose-18, hand-21).

Every function works on ``keypoint [..., V, C]`` (any leading axes, C = 2 or 3) and an optional
``keypoint_score [..., V]``; joints are matched by name through :mod:`pyskl.utils.layouts`.
A joint that a target layout needs but the source lacks is synthesised only where the
convention is standard (OpenPose's neck = the shoulders' midpoint, its score the smaller of the
two shoulder scores, and zero wherever a shoulder is missing).
"""

from __future__ import annotations

import numpy as np

from ..utils.layouts import get_layout

__all__ = [
    "MEDIAPIPE_POSE_JOINTS",
    "LAYOUT_ALIASES",
    "convert_keypoints",
    "convert_annotation",
    "supported_conversions",
    "normalize_hand21",
]

# MediaPipe Pose landmark order (33).
MEDIAPIPE_POSE_JOINTS: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

# user-facing names -> canonical layout name
LAYOUT_ALIASES = {
    "coco": "coco",
    "coco17": "coco",
    "coco-17": "coco",
    "openpose": "openpose",
    "openpose18": "openpose",
    "openpose-18": "openpose",
    "coco18": "openpose",
    "mediapipe": "mediapipe",
    "mediapipe33": "mediapipe",
    "mediapipe-33": "mediapipe",
    "blazepose": "mediapipe",
    "handmp": "handmp",
    "hand21": "handmp",
    "hand-21": "handmp",
    "mediapipe_hand": "handmp",
    "nturgb+d": "nturgb+d",
    "ntu": "nturgb+d",
    "ntu25": "nturgb+d",
}


def _canonical(name: str) -> str:
    key = name.lower()
    if key not in LAYOUT_ALIASES:
        raise ValueError(f"unknown layout {name!r}; known: {', '.join(sorted(set(LAYOUT_ALIASES)))}")
    return LAYOUT_ALIASES[key]


def _joint_names(layout: str) -> tuple[str, ...]:
    return MEDIAPIPE_POSE_JOINTS if layout == "mediapipe" else get_layout(layout).joint_names


# (src, dst) pairs the converters support; identity is always allowed.
_CONVERSIONS = {("mediapipe", "coco"), ("openpose", "coco"), ("coco", "openpose"), ("mediapipe", "openpose")}


def supported_conversions() -> list[tuple[str, str]]:
    """The ``(source, target)`` layout pairs :func:`convert_keypoints` handles (besides identity)."""
    return sorted(_CONVERSIONS)


def convert_keypoints(
    keypoint: np.ndarray, keypoint_score: np.ndarray | None, src: str, dst: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Reorder / synthesise joints from layout ``src`` to layout ``dst``.

    Args:
        keypoint: ``[..., V_src, C]``.
        keypoint_score: ``[..., V_src]`` or None. When None and C == 3, channel 2 is treated as the
            score for synthesised joints.
        src, dst: layout names or aliases (``'mediapipe33'``, ``'coco'``, ``'openpose'``, ``'hand21'``).

    Returns:
        ``(keypoint [..., V_dst, C], keypoint_score [..., V_dst] or None)``, same dtypes as the inputs.
    """
    src, dst = _canonical(src), _canonical(dst)
    keypoint = np.asarray(keypoint)
    src_names = _joint_names(src)
    if keypoint.ndim < 2 or keypoint.shape[-2] != len(src_names):
        raise ValueError(
            f"keypoint has shape {keypoint.shape}; layout {src!r} needs [..., {len(src_names)}, C]"
        )
    if keypoint_score is not None and np.shape(keypoint_score) != keypoint.shape[:-1]:
        raise ValueError(
            f"keypoint_score has shape {np.shape(keypoint_score)}; expected {keypoint.shape[:-1]}"
        )
    if src == dst:
        return keypoint.copy(), None if keypoint_score is None else np.array(keypoint_score)
    if (src, dst) not in _CONVERSIONS:
        raise ValueError(f"no conversion from {src!r} to {dst!r}; supported: {supported_conversions()}")
    index = {name: i for i, name in enumerate(src_names)}
    dst_names = _joint_names(dst)
    out = np.zeros(keypoint.shape[:-2] + (len(dst_names), keypoint.shape[-1]), dtype=keypoint.dtype)
    score_out = (
        None if keypoint_score is None else np.zeros(out.shape[:-1], dtype=np.asarray(keypoint_score).dtype)
    )
    for j, name in enumerate(dst_names):
        if name in index:
            out[..., j, :] = keypoint[..., index[name], :]
            if score_out is not None:
                score_out[..., j] = keypoint_score[..., index[name]]
        elif name == "neck":
            left, right = index["left_shoulder"], index["right_shoulder"]
            if keypoint_score is not None:
                score = np.minimum(keypoint_score[..., left], keypoint_score[..., right])
            elif keypoint.shape[-1] == 3:
                score = np.minimum(keypoint[..., left, 2], keypoint[..., right, 2])
            else:
                score = None
            present = np.any(keypoint[..., left, :2] != 0, -1) & np.any(keypoint[..., right, :2] != 0, -1)
            neck = (keypoint[..., left, :].astype(np.float64) + keypoint[..., right, :]) / 2
            if keypoint.shape[-1] == 3 and score is not None:
                neck[..., 2] = score
            out[..., j, :] = np.where(present[..., None], neck, 0).astype(keypoint.dtype)
            if score_out is not None:
                score_out[..., j] = np.where(present, score, 0)
        else:
            raise ValueError(f"layout {src!r} has no joint {name!r} needed by {dst!r}")
    return out, score_out


def convert_annotation(annotation: dict, src: str, dst: str) -> dict:
    """A copy of one PYSKL annotation with ``keypoint`` (and ``keypoint_score``) in layout ``dst``."""
    out = dict(annotation)
    keypoint, score = convert_keypoints(annotation["keypoint"], annotation.get("keypoint_score"), src, dst)
    out["keypoint"] = keypoint
    if score is not None:
        out["keypoint_score"] = score
    return out


def normalize_hand21(
    keypoint: np.ndarray, root: int = 0, scale_pair: tuple[int, int] = (0, 9), eps: float = 1e-6
) -> np.ndarray:
    """Translate a 21-joint hand to its wrist and scale it to unit wrist->middle-MCP length.

    Works on ``[..., 21, C]``; only the first two (or three) coordinate channels up to C are used,
    so a score channel (C == 3 in 2D data) should be split off first. Hands whose reference length
    is ~0 (missing detections) are only translated.
    """
    keypoint = np.asarray(keypoint, dtype=np.float64)
    if keypoint.ndim < 2 or keypoint.shape[-2] != 21:
        raise ValueError(f"keypoint has shape {keypoint.shape}; a hand-21 layout needs [..., 21, C]")
    centred = keypoint - keypoint[..., root : root + 1, :]
    length = np.linalg.norm(centred[..., scale_pair[1], :] - centred[..., scale_pair[0], :], axis=-1)
    scale = np.where(length > eps, length, 1.0)
    return centred / scale[..., None, None]
