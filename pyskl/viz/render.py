"""Render a PYSKL annotation sample (2D over its video or a blank canvas, 3D projected) as frames."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

__all__ = ["guess_layout", "heatmap_volume", "is_3d", "render_annotation"]

_LAYOUT_BY_JOINTS = {17: "coco", 25: "nturgb+d", 21: "handmp", 18: "openpose"}


def guess_layout(num_joints: int) -> str:
    """The layout with ``num_joints`` joints (17 COCO, 25 NTU, 21 hand, 18 OpenPose)."""
    if num_joints not in _LAYOUT_BY_JOINTS:
        raise ValueError(f"no known layout has {num_joints} joints; pass --layout")
    return _LAYOUT_BY_JOINTS[num_joints]


def is_3d(annotation: dict) -> bool:
    """3D when keypoints have 3 channels and there is no separate 2D score (PYSKL's 3D files)."""
    return np.shape(annotation["keypoint"])[-1] == 3 and "keypoint_score" not in annotation


def render_annotation(
    annotation: dict,
    video: str | os.PathLike | None = None,
    layout: str | None = None,
    size: tuple[int, int] | None = None,
    azimuth: float = 0.0,
    elevation: float = 0.0,
    rotate: float = 0.0,
    threshold: float = 0.3,
    title: bool = True,
) -> Iterator[np.ndarray]:
    """Yield one BGR frame per annotation frame.

    Args:
        annotation: one PYSKL sample (``keypoint [M, T, V, C]``, ``keypoint_score``, ``img_shape``).
        video: draw 2D skeletons over this video's frames (else a black canvas of ``img_shape``).
        layout: joint layout (default: guessed from the joint count).
        size: ``(H, W)`` of the canvas (3D default 480 x 480; 2D default ``img_shape``).
        azimuth, elevation: 3D view angles in degrees; ``rotate`` adds degrees of azimuth per frame.
    """
    from .projection import project_3d
    from .skeleton import blank_canvas, draw_skeleton, draw_text_block

    kp = np.asarray(annotation["keypoint"], dtype=np.float32)
    if kp.ndim != 4:
        raise ValueError(
            f"sample {annotation.get('frame_dir')!r}: keypoint must be [M, T, V, C], got {kp.shape}"
        )
    layout = layout or guess_layout(kp.shape[2])
    three_d = is_3d(annotation)
    score = annotation.get("keypoint_score")
    if score is None and kp.shape[-1] == 3 and not three_d:
        score = kp[..., 2]
    frames_iter = None
    if video is not None and not three_d:
        from ..pose.video_reader import iter_frames

        frames_iter = iter_frames(video)
    name = str(annotation.get("frame_dir", ""))
    img_shape = tuple(annotation.get("img_shape") or (int(kp[..., 1].max()) + 1, int(kp[..., 0].max()) + 1))
    h, w = size or ((480, 480) if three_d else img_shape)
    for t in range(kp.shape[1]):
        if three_d:
            pts = project_3d(kp[:, t], (h, w), azimuth + rotate * t, elevation)
            canvas = blank_canvas(h, w)
            draw_skeleton(canvas, pts, None, layout, threshold=0.0)
        else:
            frame = next(frames_iter, None) if frames_iter is not None else None
            canvas = blank_canvas(h, w) if frame is None else frame
            if size is not None and canvas.shape[:2] != (h, w):
                import cv2

                canvas = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
            pts = kp[:, t, :, :2]
            if canvas.shape[:2] != img_shape:
                # coordinates are in img_shape pixels: scale them to the canvas (missing joints stay at 0)
                pts = pts * np.array(
                    [canvas.shape[1] / img_shape[1], canvas.shape[0] / img_shape[0]], np.float32
                )
            draw_skeleton(canvas, pts, None if score is None else np.asarray(score)[:, t], layout, threshold)
        if title:
            draw_text_block(canvas, [f"{name} frame {t}"], (4, 4))
        yield canvas


def heatmap_volume(
    annotation: dict,
    config: str | os.PathLike | dict | None = None,
    size: int = 64,
    clip_len: int | None = None,
    sigma: float = 0.6,
    with_limb: bool = False,
) -> np.ndarray:
    """The PoseC3D input volume ``[C, T, H, W]`` of one 2D sample.

    With ``config``, its test pipeline makes the volume (first clip). Without, a default PoseC3D test
    pipeline: all frames (or ``clip_len``), PoseCompact, resize to ``size`` x ``size``, keypoint (or limb)
    heatmaps.
    """
    import copy

    from ..datasets.pipelines import Compose

    sample = dict(copy.deepcopy(annotation))
    sample.setdefault("start_index", 0)
    sample.setdefault("modality", "Pose")
    sample.setdefault("label", -1)
    if config is not None:
        from ..apis.inference import build_test_pipeline
        from ..config import load_config

        cfg = load_config(config) if not isinstance(config, dict) else config
        pipeline = build_test_pipeline(cfg, num_clips=1)
    else:
        pipeline = Compose(
            [
                dict(
                    type="UniformSampleFrames", clip_len=clip_len or int(sample["total_frames"]), num_clips=1
                ),
                dict(type="PoseDecode"),
                dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=True),
                dict(type="Resize", scale=(size, size), keep_ratio=False),
                dict(type="GeneratePoseTarget", sigma=sigma, with_kp=not with_limb, with_limb=with_limb),
                dict(type="FormatShape", input_format="NCTHW_Heatmap"),
            ]
        )
    imgs = np.asarray(pipeline(sample)["imgs"])
    while imgs.ndim > 4:
        imgs = imgs[0]
    return imgs
