"""Synthetic RGB+pose data for RGBPoseConv3D: the COCO-17 2D synthetic set plus one small video per sample.

Each video shows the sample's 2D skeleton drawn as limbs (left side, right side and trunk in three
colours) over a background of blocky noise whose tint varies per video, at ``scale`` of the annotation's
1080x1920 frame. The annotation keeps ``img_shape = (1080, 1920)``, so ``MMDecode`` rescales the
keypoints to the decoded frames, as with PYSKL's downscaled NTU videos. Videos are
``frame_dir + '.mp4'`` (MPEG-4 Part 2, OpenCV's ``mp4v``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["render_skeleton_frames", "write_rgbpose_synthetic"]

# COCO-17 limbs (PYSKL's heatmap skeleton) by side: left (odd joints), right (even joints), trunk/head.
_LIMBS = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10), (5, 11), (11, 13),
          (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))
_COLORS = {"left": (255, 80, 40), "right": (40, 120, 255), "trunk": (240, 240, 90)}  # RGB


def _side(a: int, b: int) -> str:
    if a and b and a % 2 == b % 2:
        return "left" if a % 2 else "right"
    return "trunk"


def render_skeleton_frames(keypoint: np.ndarray, score: np.ndarray, img_shape: tuple[int, int], scale: float,
                           rng: np.random.Generator) -> np.ndarray:
    """RGB uint8 frames ``[T, h, w, 3]`` of the persons in ``keypoint [M, T, 17, 2]`` (``img_shape`` pixels).

    Joints with score 0 (absent persons, dropped frames) are not drawn.
    """
    h, w = int(round(img_shape[0] * scale)), int(round(img_shape[1] * scale))
    frames = keypoint.shape[1]
    tint = rng.uniform(40, 120, size=3)
    # blocky noise (4x4-pixel cells): as distracting as pixel noise, far cheaper to draw and to encode
    cells = rng.normal(0.0, 18.0, size=(frames, -(-h // 4), -(-w // 4), 3))
    noise = cells.repeat(4, axis=1).repeat(4, axis=2)[:, :h, :w]
    video = np.clip(tint + noise, 0, 255).astype(np.uint8)
    thickness = max(1, int(round(2 * scale * 12)))
    for t in range(frames):
        frame = np.ascontiguousarray(video[t])
        for person, person_score in zip(keypoint[:, t], score[:, t]):
            pts = np.round(person * scale).astype(np.int32)
            for a, b in _LIMBS:
                if person_score[a] > 0 and person_score[b] > 0:
                    cv2.line(frame, tuple(map(int, pts[a])), tuple(map(int, pts[b])), _COLORS[_side(a, b)],
                             thickness, cv2.LINE_AA)
        video[t] = frame
    return video


def _write_mp4(path: Path, frames: np.ndarray, fps: int = 30) -> None:
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise ValueError(f"OpenCV cannot write {path} (no mp4v encoder in this OpenCV build)")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def write_rgbpose_synthetic(path: str | os.PathLike, video_dir: str | os.PathLike | None = None,
                            scale: float = 1 / 12, shuffle_labels: bool = False, **kwargs: Any) -> Path:
    """Write the COCO-17 2D synthetic annotation to ``path`` and a video per sample to ``video_dir``.

    Args:
        path: output ``.pkl``.
        video_dir: where ``<frame_dir>.mp4`` go (default: ``videos/`` next to ``path``); a config's
            ``data_prefix``.
        scale: video size relative to the annotation's 1080x1920 frame (default 1/12: 90x160).
        shuffle_labels: permute the labels over all samples (seeded), a control in which nothing can be
            learned; the videos are the same as without it.
        **kwargs: :func:`pyskl.datasets.synthetic.make_synthetic` arguments except ``kind``.

    Returns:
        The written annotation path.
    """
    from .io import save_annotations
    from .synthetic import make_synthetic

    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    data = make_synthetic(kind="coco2d", **kwargs)
    seed = kwargs.get("seed", 0)
    if shuffle_labels:
        labels = [sample["label"] for sample in data["annotations"]]
        for sample, label in zip(data["annotations"], np.random.default_rng([seed, 23]).permutation(labels)):
            sample["label"] = int(label)
    path = Path(path)
    video_dir = Path(video_dir) if video_dir is not None else path.parent / "videos"
    video_dir.mkdir(parents=True, exist_ok=True)
    for index, sample in enumerate(data["annotations"]):
        rng = np.random.default_rng([seed, index, 17])
        frames = render_skeleton_frames(sample["keypoint"], sample["keypoint_score"], sample["img_shape"],
                                        scale, rng)
        _write_mp4(video_dir / f"{sample['frame_dir']}.mp4", frames)
    return save_annotations(data, path)
