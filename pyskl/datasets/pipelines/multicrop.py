"""Multi-view test crops of RGB frames, PYSKL's (MMAction2's) ``ThreeCrop`` and ``TenCrop``.

The crops of all views are concatenated view by view in ``results['imgs']``; ``FormatShape`` then
folds the views into the clip axis.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require

__all__ = ["TenCrop", "ThreeCrop", "three_crop_offsets", "ten_crop_offsets"]


def _crop_size(op: str, crop_size: Any) -> tuple[int, int]:
    """``(w, h)`` from an int or a ``(w, h)`` pair (MMAction2's order)."""
    if isinstance(crop_size, (int, np.integer)) and not isinstance(crop_size, bool):
        return int(crop_size), int(crop_size)
    if isinstance(crop_size, (tuple, list)) and len(crop_size) == 2:
        return int(crop_size[0]), int(crop_size[1])
    raise ValueError(f"{op}: crop_size must be an int or a (w, h) pair, got {crop_size!r}")


def three_crop_offsets(img_h: int, img_w: int, crop_w: int, crop_h: int) -> list[tuple[int, int]]:
    """``(x, y)`` of the three crops along the longer side: start, end, centre (one side must match)."""
    if crop_h == img_h:
        step = (img_w - crop_w) // 2
        return [(0, 0), (2 * step, 0), (step, 0)]
    if crop_w == img_w:
        step = (img_h - crop_h) // 2
        return [(0, 0), (0, 2 * step), (0, step)]
    raise ValueError(f"ThreeCrop: the crop {crop_w}x{crop_h} (w x h) must span the frame's height or width "
                     f"(frame {img_w}x{img_h}); resize the short side to the crop size first")


def ten_crop_offsets(img_h: int, img_w: int, crop_w: int, crop_h: int) -> list[tuple[int, int]]:
    """``(x, y)`` of the four corner crops and the centre crop."""
    w_step, h_step = (img_w - crop_w) // 4, (img_h - crop_h) // 4
    return [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]


def _frames(op: str, results: dict, crop_w: int, crop_h: int) -> list:
    imgs = require(op, results, "imgs")
    if not len(imgs):
        raise PipelineError(f"{op}: results['imgs'] is empty")
    img_h, img_w = imgs[0].shape[:2]
    if crop_w > img_w or crop_h > img_h:
        raise PipelineError(f"{op}: crop {crop_w}x{crop_h} (w x h) is larger than the frames "
                            f"({img_w}x{img_h})")
    return imgs


@TRANSFORMS.register()
class ThreeCrop(Transform):
    """Three crops along the frame's longer side (start, end, centre) of every frame.

    Required keys: imgs (list of ``[H, W, C]``).
    Modified keys: imgs (3x as many), img_shape. Added keys: crop_bbox (int ``[3 * len(imgs), 4]``).

    Args:
        crop_size: int or ``(w, h)``; one of them must equal the frame's size.
    """

    def __init__(self, crop_size: Any) -> None:
        self.crop_size = crop_size
        self._wh = _crop_size("ThreeCrop", crop_size)

    def __call__(self, results: dict) -> dict:
        crop_w, crop_h = self._wh
        imgs = _frames("ThreeCrop", results, crop_w, crop_h)
        img_h, img_w = imgs[0].shape[:2]
        try:
            offsets = three_crop_offsets(img_h, img_w, crop_w, crop_h)
        except ValueError as err:
            raise PipelineError(str(err)) from err
        crops, boxes = [], []
        for x, y in offsets:
            crops.extend(img[y:y + crop_h, x:x + crop_w] for img in imgs)
            boxes.extend([[x, y, x + crop_w, y + crop_h]] * len(imgs))
        results["imgs"] = crops
        results["crop_bbox"] = np.array(boxes)
        results["img_shape"] = crops[0].shape[:2]
        return results


@TRANSFORMS.register()
class TenCrop(Transform):
    """Four corner and one centre crop of every frame, each followed by its horizontal flip.

    Required keys: imgs (list of ``[H, W, C]``).
    Modified keys: imgs (10x as many: per view the crops, then their flips), img_shape.
    Added keys: crop_bbox (int ``[10 * len(imgs), 4]``).

    Args:
        crop_size: int or ``(w, h)``.
    """

    def __init__(self, crop_size: Any) -> None:
        self.crop_size = crop_size
        self._wh = _crop_size("TenCrop", crop_size)

    def __call__(self, results: dict) -> dict:
        crop_w, crop_h = self._wh
        imgs = _frames("TenCrop", results, crop_w, crop_h)
        img_h, img_w = imgs[0].shape[:2]
        crops, boxes = [], []
        for x, y in ten_crop_offsets(img_h, img_w, crop_w, crop_h):
            view = [img[y:y + crop_h, x:x + crop_w] for img in imgs]
            crops.extend(view)
            crops.extend(np.flip(c, axis=1).copy() for c in view)
            boxes.extend([[x, y, x + crop_w, y + crop_h]] * (2 * len(imgs)))
        results["imgs"] = crops
        results["crop_bbox"] = np.array(boxes)
        results["img_shape"] = crops[0].shape[:2]
        return results
