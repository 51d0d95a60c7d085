"""Spatial ops of the PoseC3D (heatmap) pipelines: compact, resize, crop and flip.

Each op works on 2D keypoints (``keypoint [M, T, V, 2]``, ``img_shape (h, w)``) and, where PYSKL's
does, on a list of ``imgs`` ``[H, W, C]``. The semantics follow PYSKL exactly, quirks included
(see ../shared/oracle/pipelines/README.md): crops subtract the box corner from *all* coordinates
(missing ``(0, 0)`` joints become negative) and, because the box is int64, leave keypoints float64;
``Flip`` maps ``x -> W - x`` (not ``W - 1 - x``) for non-zero ``x`` only.
"""
from __future__ import annotations

import random
from typing import Any, Sequence

import numpy as np

from ...registry import TRANSFORMS
from .compose import MissingKeyError, PipelineError, Transform

__all__ = ["PoseCompact", "Resize", "RandomResizedCrop", "RandomCrop", "CenterCrop", "Flip",
           "require_2d_pose", "combine_quadruple", "compact_box", "random_crop_offset",
           "random_resized_crop_box"]

_INTERPOLATIONS = {"nearest": 0, "bilinear": 1, "bicubic": 2, "area": 3, "lanczos": 4}  # cv2.INTER_*


def _pair(value: Any) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"expected a pair, got {value!r}")
        return tuple(value)
    return (value, value)


def _sample_name(results: dict) -> str:
    name = results.get("frame_dir", results.get("filename"))
    return f" (sample {name!r})" if name is not None else ""


def require_2d_pose(results: dict, op: str, need_img_shape: bool = True) -> None:
    """Raise a clear error when a heatmap op is fed something other than a 2D pose annotation.

    PYSKL fails with a bare ``KeyError: 'img_shape'`` (or worse, silently uses ``z``) when a 3D
    skeleton annotation reaches a heatmap pipeline.
    """
    kp = results.get("keypoint")
    if kp is None:
        raise MissingKeyError(f"{op}: the results have no 'keypoint'{_sample_name(results)}")
    kp_dim = np.shape(kp)[-1]
    if kp_dim != 2 and "keypoint_score" not in results:
        raise PipelineError(
            f"{op}: 'keypoint' has {kp_dim} coordinates per joint and there is no 'keypoint_score'"
            f"{_sample_name(results)}: this looks like a {kp_dim}D skeleton annotation (e.g. NTU 3D), "
            "but heatmap (PoseC3D) pipelines need 2D keypoints [M, T, V, 2] with 'keypoint_score' "
            "and 'img_shape'. Use a 2D annotation file (e.g. the HRNet one) or a GCN pipeline.")
    if need_img_shape and "img_shape" not in results:
        raise MissingKeyError(f"{op}: the results have no 'img_shape'{_sample_name(results)}; heatmap "
                       "pipelines need a 2D pose annotation with 'img_shape' (h, w)")


def combine_quadruple(old: Sequence[float], new: Sequence[float]) -> tuple:
    """Compose two ``(x, y, w, h)`` crop boxes given in relative units of their parent image."""
    return (old[0] + old[2] * new[0], old[1] + old[3] * new[1], old[2] * new[2], old[3] * new[3])


def compact_box(kp: np.ndarray, img_shape: Sequence[int], padding: float, threshold: float,
                hw_ratio: tuple | None, allow_imgpad: bool) -> tuple[int, int, int, int] | None:
    """PYSKL's pose-compact box ``(min_x, min_y, max_x, max_y)`` (ints), or None when too small.

    The box spans the non-zero x's and y's of all persons and frames, grows by ``padding`` around
    its centre, optionally to ``hw_ratio``, and is truncated toward zero with ``int()``.
    """
    h, w = img_shape
    kp_x, kp_y = kp[..., 0], kp[..., 1]
    xs, ys = kp_x[kp_x != 0], kp_y[kp_y != 0]
    if xs.size == 0 or ys.size == 0:
        return None
    min_x, max_x, min_y, max_y = xs.min(), xs.max(), ys.min(), ys.max()
    if max_x - min_x < threshold or max_y - min_y < threshold:
        return None
    # numpy-1 scalar promotion (PYSKL's reference env): float32 sums stay float32, the products
    # with Python floats become float64.
    center_x, center_y = float((max_x + min_x) / 2), float((max_y + min_y) / 2)
    half_w = float((max_x - min_x) / 2) * (1 + padding)
    half_h = float((max_y - min_y) / 2) * (1 + padding)
    if hw_ratio is not None:
        half_h = max(hw_ratio[0] * half_w, half_h)
        half_w = max(1 / hw_ratio[1] * half_h, half_w)
    box = (center_x - half_w, center_y - half_h, center_x + half_w, center_y + half_h)
    if not allow_imgpad:
        box = (max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3]))
    return tuple(int(v) for v in box)


@TRANSFORMS.register()
class PoseCompact(Transform):
    """Crop the frame to the box around all keypoints (with padding), PYSKL's ``PoseCompact``.

    Required keys: ``keypoint`` (modified in place), ``img_shape``.
    Modified keys: ``keypoint`` (non-zero x/y shifted by the box corner), ``img_shape``.
    Added or modified keys: ``crop_quadruple`` (tuple, combined with an existing one).

    Args:
        padding: relative growth of the half sizes around the box centre.
        threshold: boxes narrower or lower than this (pixels) leave the sample unchanged.
        hw_ratio: enforce ``h / w`` (a float or an ``(h, w)`` pair); None keeps the box's ratio.
        allow_imgpad: allow the box to extend beyond the frame.
    """

    def __init__(self, padding: float = 0.25, threshold: float = 10, hw_ratio: Any = None,
                 allow_imgpad: bool = True) -> None:
        self.padding = padding
        self.threshold = threshold
        self.hw_ratio = _pair(hw_ratio) if hw_ratio is not None else None
        self.allow_imgpad = allow_imgpad
        if padding < 0:
            raise ValueError(f"PoseCompact: padding must be >= 0, got {padding}")

    def __call__(self, results: dict) -> dict:
        require_2d_pose(results, "PoseCompact")
        h, w = results["img_shape"]
        kp = results["keypoint"]
        kp[np.isnan(kp)] = 0.0
        box = compact_box(kp, (h, w), self.padding, self.threshold, self.hw_ratio, self.allow_imgpad)
        if box is None:
            return results
        min_x, min_y, max_x, max_y = box
        kp_x, kp_y = kp[..., 0], kp[..., 1]
        kp_x[kp_x != 0] -= min_x
        kp_y[kp_y != 0] -= min_y
        results["img_shape"] = (max_y - min_y, max_x - min_x)
        new_quad = (min_x / w, min_y / h, (max_x - min_x) / w, (max_y - min_y) / h)
        results["crop_quadruple"] = combine_quadruple(results.get("crop_quadruple", (0.0, 0.0, 1.0, 1.0)),
                                                      new_quad)
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(padding={self.padding}, threshold={self.threshold}, "
                f"hw_ratio={self.hw_ratio}, allow_imgpad={self.allow_imgpad})")


def rescale_size(w: int, h: int, scale: Any) -> tuple[int, int]:
    """mmcv's ``rescale_size``: the size after scaling by a factor or fitting into ``(long, short)``."""
    if isinstance(scale, tuple):
        factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    else:
        factor = scale
    return int(w * float(factor) + 0.5), int(h * float(factor) + 0.5)


@TRANSFORMS.register()
class Resize(Transform):
    """Resize keypoints (and images) to a scale, PYSKL's ``Resize``.

    Required keys: ``img_shape``; optional ``keypoint``, ``imgs``, ``scale_factor``.
    Modified keys: ``img_shape``, ``keypoint`` (times float32 ``[new_w/w, new_h/h]``), ``imgs``.
    Added or modified keys: ``scale_factor`` (float32, accumulates), ``keep_ratio``.

    Args:
        scale: a float factor, or ``(w, h)``; with ``keep_ratio`` a ``(long, short)`` edge bound,
            where ``(-1, s)`` means short side ``s``.
        keep_ratio: keep the aspect ratio (mmcv ``rescale_size``) or resize to exactly ``(w, h)``.
        interpolation: ``'bilinear'`` (default), ``'nearest'``, ``'bicubic'``, ``'area'``, ``'lanczos'``.
    """

    def __init__(self, scale: Any, keep_ratio: bool = True, interpolation: str = "bilinear") -> None:
        if isinstance(scale, list):
            scale = tuple(scale)
        if isinstance(scale, (int, float)) and not isinstance(scale, bool):
            if scale <= 0:
                raise ValueError(f"Resize: invalid scale {scale}, must be positive")
        elif isinstance(scale, tuple) and len(scale) == 2:
            if min(scale) == -1:
                scale = (np.inf, max(scale))
        else:
            raise TypeError(f"Resize: scale must be a float or a (w, h) tuple of ints, got {scale!r}")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"Resize: unknown interpolation {interpolation!r}, "
                             f"choose from {sorted(_INTERPOLATIONS)}")
        self.scale = scale
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def __call__(self, results: dict) -> dict:
        if "img_shape" not in results:
            require_2d_pose(results, "Resize")
        if "scale_factor" not in results:
            results["scale_factor"] = np.array([1, 1], dtype=np.float32)
        img_h, img_w = results["img_shape"]
        if self.keep_ratio or not isinstance(self.scale, tuple):
            new_w, new_h = rescale_size(img_w, img_h, self.scale)
        else:
            new_w, new_h = self.scale
        factor = np.array([new_w / img_w, new_h / img_h], dtype=np.float32)
        results["img_shape"] = (new_h, new_w)
        results["keep_ratio"] = self.keep_ratio
        results["scale_factor"] = results["scale_factor"] * factor
        if "imgs" in results:
            import cv2

            interp = _INTERPOLATIONS[self.interpolation]
            results["imgs"] = [cv2.resize(img, (int(new_w), int(new_h)), interpolation=interp)
                               for img in results["imgs"]]
        if "keypoint" in results:
            results["keypoint"] = results["keypoint"] * factor
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(scale={self.scale}, keep_ratio={self.keep_ratio}, "
                f"interpolation={self.interpolation})")


def _apply_crop(results: dict, left: Any, top: Any, right: Any, bottom: Any) -> dict:
    """Shared tail of the crops: crop_quadruple (float32 array), crop_bbox, img_shape, kps, imgs."""
    img_h, img_w = results["img_shape"]
    new_h, new_w = bottom - top, right - left
    old = results.get("crop_quadruple", None)
    if old is None:
        old = np.array([0, 0, 1, 1], dtype=np.float32)
    ox, oy, ow, oh = (float(v) for v in old[:4])
    # PYSKL computes these in float64 (numpy 1 scalar promotion) and stores float32
    quad = [ox + left / img_w * ow, oy + top / img_h * oh, new_w / img_w * ow, new_h / img_h * oh]
    results["crop_quadruple"] = np.array(quad, dtype=np.float32)
    crop_bbox = np.array([left, top, right, bottom], dtype=np.int64)
    results["crop_bbox"] = crop_bbox
    results["img_shape"] = (new_h, new_w)
    if "keypoint" in results:
        # int64 box -> float64 keypoints, and missing (0, 0) joints go negative: PYSKL's behaviour
        results["keypoint"] = results["keypoint"] - crop_bbox[:2]
    if "imgs" in results:
        results["imgs"] = [img[top:bottom, left:right] for img in results["imgs"]]
    return results


def random_resized_crop_box(img_shape: Sequence[int], area_range: Sequence[float],
                            aspect_ratio_range: Sequence[float], max_attempts: int = 10, rng: Any = np.random,
                            py_rng: Any = random) -> tuple:
    """``(left, top, right, bottom)`` of a random area/aspect-ratio crop, PYSKL's rule and draws.

    ``rng`` draws the ``max_attempts`` log aspect ratios then areas (``uniform``), ``py_rng`` the x then
    y offset (``randint``) of the first candidate that fits; without one, the centred square. The
    defaults are numpy's and python's global RNGs, which PYSKL uses.
    """
    img_h, img_w = img_shape
    area = img_h * img_w
    min_ar, max_ar = aspect_ratio_range
    ratios = np.exp(rng.uniform(np.log(min_ar), np.log(max_ar), size=max_attempts))
    areas = rng.uniform(*area_range, size=max_attempts) * area
    cand_w = np.round(np.sqrt(areas * ratios)).astype(np.int32).astype(np.int64)
    cand_h = np.round(np.sqrt(areas / ratios)).astype(np.int32).astype(np.int64)
    for crop_w, crop_h in zip(cand_w, cand_h):
        if crop_h <= img_h and crop_w <= img_w:
            x_offset = py_rng.randint(0, int(img_w - crop_w))
            y_offset = py_rng.randint(0, int(img_h - crop_h))
            return x_offset, y_offset, x_offset + crop_w, y_offset + crop_h
    crop_size = min(img_h, img_w)
    x_offset = (img_w - crop_size) // 2
    y_offset = (img_h - crop_size) // 2
    return x_offset, y_offset, x_offset + crop_size, y_offset + crop_size


def random_crop_offset(img_shape: Sequence[int], size: int, rng: Any = np.random) -> tuple[int, int]:
    """``(x, y)`` of a random ``size`` square inside the frame: ``rng.randint`` for y, then x (PYSKL's order),
    each only when the frame is larger than ``size`` along that axis."""
    img_h, img_w = img_shape
    y_offset = int(rng.randint(0, img_h - size)) if img_h > size else 0
    x_offset = int(rng.randint(0, img_w - size)) if img_w > size else 0
    return x_offset, y_offset


@TRANSFORMS.register()
class RandomResizedCrop(Transform):
    """Crop a random area/aspect-ratio box, PYSKL's ``RandomResizedCrop`` (no resize here).

    Draws from numpy's and python's global RNGs like PYSKL (see ``random_resized_crop_box``).

    Required keys: ``img_shape``; optional ``keypoint``, ``imgs``, ``crop_quadruple``.
    Modified keys: ``img_shape`` (int64 elements), ``keypoint`` (float64), ``imgs``.
    Added or modified keys: ``crop_bbox`` (int64 ``[x1, y1, x2, y2]``), ``crop_quadruple`` (float32).

    Args:
        area_range: range of the crop area relative to the frame.
        aspect_ratio_range: range of the crop's w/h ratio (sampled log-uniformly).
    """

    def __init__(self, area_range: Sequence[float] = (0.08, 1.0),
                 aspect_ratio_range: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        self.area_range = tuple(area_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        for name, rng in (("area_range", self.area_range), ("aspect_ratio_range", self.aspect_ratio_range)):
            if len(rng) != 2 or not all(isinstance(v, (int, float)) for v in rng) or rng[0] > rng[1]:
                raise TypeError(f"RandomResizedCrop: {name} must be an increasing pair of floats, "
                                f"got {rng!r}")

    def __call__(self, results: dict) -> dict:
        if "img_shape" not in results:
            require_2d_pose(results, "RandomResizedCrop")
        box = random_resized_crop_box(results["img_shape"], self.area_range, self.aspect_ratio_range)
        return _apply_crop(results, *box)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(area_range={self.area_range}, "
                f"aspect_ratio_range={self.aspect_ratio_range})")


@TRANSFORMS.register()
class RandomCrop(Transform):
    """Crop a random ``size`` x ``size`` square, PYSKL's ``RandomCrop``.

    Draws from numpy's global RNG like PYSKL (see ``random_crop_offset``).

    Required keys: ``img_shape``; optional ``keypoint``, ``imgs``, ``crop_quadruple``.
    Modified keys: ``img_shape``, ``keypoint`` (float64), ``imgs``.
    Added or modified keys: ``crop_bbox``, ``crop_quadruple`` (float32).
    """

    def __init__(self, size: int) -> None:
        if not isinstance(size, int):
            raise TypeError(f"RandomCrop: size must be an int, got {type(size).__name__}")
        self.size = size

    def __call__(self, results: dict) -> dict:
        if "img_shape" not in results:
            require_2d_pose(results, "RandomCrop")
        img_h, img_w = results["img_shape"]
        if self.size > img_h or self.size > img_w:
            raise PipelineError(f"RandomCrop: size {self.size} exceeds the frame {img_h}x{img_w}"
                             f"{_sample_name(results)}")
        x_offset, y_offset = random_crop_offset((img_h, img_w), self.size)
        return _apply_crop(results, x_offset, y_offset, x_offset + self.size, y_offset + self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


@TRANSFORMS.register()
class CenterCrop(Transform):
    """Crop the centred ``crop_size`` box, PYSKL's ``CenterCrop``.

    Required keys: ``img_shape``; optional ``keypoint``, ``imgs``, ``crop_quadruple``.
    Modified keys: ``img_shape``, ``keypoint`` (float64), ``imgs``.
    Added or modified keys: ``crop_bbox``, ``crop_quadruple`` (float32).

    Args:
        crop_size: an int or ``(w, h)``.
    """

    def __init__(self, crop_size: Any) -> None:
        self.crop_size = _pair(crop_size)

    def __call__(self, results: dict) -> dict:
        if "img_shape" not in results:
            require_2d_pose(results, "CenterCrop")
        img_h, img_w = results["img_shape"]
        crop_w, crop_h = self.crop_size
        left, top = (img_w - crop_w) // 2, (img_h - crop_h) // 2
        return _apply_crop(results, left, top, left + crop_w, top + crop_h)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(crop_size={self.crop_size})"


@TRANSFORMS.register()
class Flip(Transform):
    """Horizontal flip of keypoints (and images), PYSKL's ``Flip``.

    Always draws one ``np.random.rand()``; flips when it is below ``flip_ratio``. Keypoints map
    ``x -> W - x`` where ``x != 0`` (PYSKL's choice, 1 px off a pixel mirror), then the
    ``left_kp``/``right_kp`` joints (and their scores) swap.

    Required keys: ``img_shape``, ``modality``; optional ``keypoint``, ``keypoint_score``, ``imgs``.
    Modified keys: ``keypoint``, ``keypoint_score``, ``imgs``, ``label`` (via ``flip_label_map``).
    Added keys: ``flip`` (bool), ``flip_direction``.

    Args:
        flip_ratio: probability of flipping.
        direction: only ``'horizontal'`` is supported for skeletons.
        flip_label_map: optional ``{label: flipped_label}``.
        left_kp: joints swapped with ``right_kp`` on a flip.
        right_kp: see ``left_kp``.
    """

    def __init__(self, flip_ratio: float = 0.5, direction: str = "horizontal",
                 flip_label_map: dict | None = None, left_kp: Sequence[int] | None = None,
                 right_kp: Sequence[int] | None = None) -> None:
        if direction not in ("horizontal", "vertical"):
            raise ValueError(f"Flip: direction must be 'horizontal' or 'vertical', got {direction!r}")
        if (left_kp is None) != (right_kp is None) or (left_kp is not None and len(left_kp) != len(right_kp)):
            raise ValueError("Flip: left_kp and right_kp must be given together, with equal lengths")
        self.flip_ratio = flip_ratio
        self.direction = direction
        self.flip_label_map = flip_label_map
        self.left_kp = list(left_kp) if left_kp is not None else None
        self.right_kp = list(right_kp) if right_kp is not None else None

    def _flip_order(self, num_joints: int) -> list[int]:
        order = list(range(num_joints))
        if self.left_kp is not None:
            for left, right in zip(self.left_kp, self.right_kp):
                order[left], order[right] = right, left
        return order

    def __call__(self, results: dict) -> dict:
        modality = results.get("modality", "Pose")
        if modality == "Flow":
            raise NotImplementedError("Flip: optical-flow modality is not supported")
        flip = bool(np.random.rand() < self.flip_ratio)
        results["flip"] = flip
        results["flip_direction"] = self.direction
        if self.flip_label_map is not None and flip:
            results["label"] = self.flip_label_map.get(results["label"], results["label"])
        if not flip:
            return results
        if "imgs" in results:
            axis = 1 if self.direction == "horizontal" else 0
            results["imgs"] = [np.ascontiguousarray(np.flip(img, axis=axis)) for img in results["imgs"]]
        if "keypoint" in results:
            if self.direction != "horizontal":
                raise NotImplementedError("Flip: keypoints can only be flipped horizontally")
            if "img_shape" not in results:
                require_2d_pose(results, "Flip")
            img_width = results["img_shape"][1]
            kp = results["keypoint"]
            kp_x = kp[..., 0]
            nonzero = kp_x != 0
            kp_x[nonzero] = img_width - kp_x[nonzero]
            order = self._flip_order(kp.shape[2])
            results["keypoint"] = kp[:, :, order]
            if "keypoint_score" in results:
                results["keypoint_score"] = results["keypoint_score"][:, :, order]
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(flip_ratio={self.flip_ratio}, direction={self.direction}, "
                f"flip_label_map={self.flip_label_map}, left_kp={self.left_kp}, right_kp={self.right_kp})")
