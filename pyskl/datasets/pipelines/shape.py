"""Layout ops for 3D-CNN inputs: ``FormatShape`` (PYSKL's formats) and RGB ``Normalize``."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...registry import TRANSFORMS
from .compose import Transform

__all__ = ["FormatShape", "Normalize"]

_FORMATS = ("NCTHW", "NCHW", "NCTHW_Heatmap", "NPTCHW")


def _clip_len(results: dict, modality: str) -> int:
    clip_len = results["clip_len"]
    return clip_len[modality] if isinstance(clip_len, dict) else clip_len


def _views_first(frames: np.ndarray, num_clips: int, clip_len: int, channel_axis: int) -> np.ndarray:
    """``[views * num_clips * clip_len, ...]`` frames -> ``[views * num_clips, C, clip_len, H, W]``.

    ``channel_axis`` is where C sits in one frame (0 for ``[C, H, W]`` heatmaps, 2 for ``[H, W, C]``
    images). The result is a view when numpy can express it (as in PYSKL).
    """
    clips = frames.reshape((-1, num_clips, clip_len) + frames.shape[1:])
    if channel_axis == 0:  # N_crops, N_clips, T, C, H, W
        clips = clips.transpose(0, 1, 3, 2, 4, 5)
    else:  # N_crops, N_clips, T, H, W, C
        clips = clips.transpose(0, 1, 5, 2, 3, 4)
    return clips.reshape((-1,) + clips.shape[2:])


@TRANSFORMS.register()
class FormatShape(Transform):
    """Arrange frames into the network's input layout, PYSKL's ``FormatShape``.

    - ``NCTHW_Heatmap``: ``imgs [V*T, K, H, W]`` -> ``[V, K, clip_len, H, W]`` with
      ``V = views * num_clips`` (views 0..nc-1 original, nc..2nc-1 flipped with ``double``).
    - ``NCTHW``: RGB ``imgs [V*T, H, W, C]`` -> ``[V, C, clip_len, H, W]``; with RGB+Pose also
      ``heatmap_imgs`` (``clip_len['Pose']``) and ``heatmap_input_shape``.
    - ``NCHW``: ``[N, H, W, C]`` -> ``[N, C, H, W]``.
    - ``NPTCHW``: ``[P*T, H, W, C]`` -> ``[P, T, C, H, W]`` (``num_proposals``).

    Required keys: ``imgs``, ``num_clips``, ``clip_len`` (int or ``{modality: int}``).
    Modified keys: ``imgs`` (and ``heatmap_imgs``). Added keys: ``input_shape``
    (and ``heatmap_input_shape``).

    Args:
        input_format: one of ``'NCTHW'``, ``'NCHW'``, ``'NCTHW_Heatmap'``, ``'NPTCHW'``.
        collapse: squeeze the leading axis (requires a single view).
    """

    def __init__(self, input_format: str, collapse: bool = False) -> None:
        if input_format not in _FORMATS:
            raise ValueError(f"FormatShape: unsupported input_format {input_format!r}, "
                             f"choose from {_FORMATS}")
        self.input_format = input_format
        self.collapse = collapse

    def __call__(self, results: dict) -> dict:
        if "imgs" in results and not isinstance(results["imgs"], np.ndarray):
            results["imgs"] = np.array(results["imgs"])
        if self.collapse and results.get("num_clips", 1) != 1:
            raise ValueError("FormatShape: collapse=True needs num_clips == 1")
        fmt = self.input_format
        if fmt == "NCTHW":
            if "imgs" in results:
                imgs = _views_first(results["imgs"], results["num_clips"], _clip_len(results, "RGB"), 2)
                results["imgs"] = self._collapse(imgs)
                results["input_shape"] = results["imgs"].shape
            if "heatmap_imgs" in results:
                heat = _views_first(results["heatmap_imgs"], results["num_clips"],
                                    _clip_len(results, "Pose"), 0)
                results["heatmap_imgs"] = self._collapse(heat)
                results["heatmap_input_shape"] = results["heatmap_imgs"].shape
            return results
        imgs = results["imgs"]
        if fmt == "NCTHW_Heatmap":
            imgs = _views_first(imgs, results["num_clips"], _clip_len(results, "Pose"), 0)
        elif fmt == "NCHW":
            imgs = np.transpose(imgs, (0, 3, 1, 2))
        else:  # NPTCHW
            num_proposals = results["num_proposals"]
            frames = results["num_clips"] * results["clip_len"]
            imgs = imgs.reshape((num_proposals, frames) + imgs.shape[1:]).transpose(0, 1, 4, 2, 3)
        results["imgs"] = self._collapse(imgs)
        results["input_shape"] = results["imgs"].shape
        return results

    def _collapse(self, imgs: np.ndarray) -> np.ndarray:
        if not self.collapse:
            return imgs
        if imgs.shape[0] != 1:
            raise ValueError(f"FormatShape: collapse=True needs one view, got shape {imgs.shape}")
        return imgs[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_format={self.input_format!r}, collapse={self.collapse})"


@TRANSFORMS.register()
class Normalize(Transform):
    """Normalise RGB frames with a per-channel mean and std, PYSKL's ``Normalize``.

    Like mmcv's ``imnormalize_``: optional BGR->RGB swap, then ``(img - mean) * (1 / std)`` in
    float64 rounded to float32 at each step.

    Required keys: ``imgs`` (list or array of ``[H, W, C]``), ``modality`` ('RGB').
    Modified keys: ``imgs`` (float32 ``[N, H, W, C]``). Added keys: ``img_norm_cfg``.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_bgr: bool = False,
                 adjust_magnitude: bool = False) -> None:
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be 1-D of equal length, got {mean!r}, {std!r}")
        self.to_bgr = to_bgr
        self.adjust_magnitude = adjust_magnitude

    def __call__(self, results: dict) -> dict:
        modality = results.get("modality", "RGB")
        if modality != "RGB" and not (isinstance(modality, list) and "RGB" in modality):
            raise NotImplementedError(f"Normalize: only the RGB modality is supported, got {modality!r}")
        imgs = np.stack([np.asarray(img, dtype=np.float32) for img in results["imgs"]])
        if self.to_bgr:
            imgs = imgs[..., ::-1]
        mean64 = self.mean.astype(np.float64)
        inv_std64 = 1 / self.std.astype(np.float64)
        imgs = (imgs - mean64).astype(np.float32)
        imgs = (imgs * inv_std64).astype(np.float32)
        results["imgs"] = imgs
        results["img_norm_cfg"] = dict(mean=self.mean, std=self.std, to_bgr=self.to_bgr)
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(mean={self.mean.tolist()}, std={self.std.tolist()}, "
                f"to_bgr={self.to_bgr}, adjust_magnitude={self.adjust_magnitude})")
