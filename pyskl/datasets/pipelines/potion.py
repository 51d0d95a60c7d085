"""PoTion: colourise pose heatmaps by time and sum them into one image, PYSKL's ``Heatmap2Potion``.

Paper: "PoTion: Pose MoTion Representation for Action Recognition", CVPR 2018 (Choutas et al.).
"""
from __future__ import annotations

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require

__all__ = ["Heatmap2Potion", "heatmaps_to_potion", "potion_colors"]

_EPS = 1e-4
_OPTIONS = ("U", "N", "I", "full")


def potion_colors(clip_len: int, channels: int) -> np.ndarray:
    """``[clip_len, channels]`` float32: frame t's colour, linear between neighbouring one-hot colours."""
    colors = np.zeros((clip_len, channels), dtype=np.float32)
    for t in range(clip_len):
        if t == clip_len - 1:
            colors[t, channels - 1] = 1.0
            continue
        pos = t / (clip_len - 1) * (channels - 1)
        low = int(pos)
        frac = pos - low
        colors[t, low] += 1 - frac
        colors[t, low + 1] += frac
    return colors


def heatmaps_to_potion(heatmaps: np.ndarray, clip_len: int, channels: int,
                       option: str = "full") -> np.ndarray:
    """PoTion images ``[clips, H, W, K * C']`` from heatmaps ``[clips * clip_len, K, H, W]``.

    ``C'`` is ``channels`` for ``'U'`` (colourised, normalised per joint and colour), 1 for ``'I'``
    (intensity), ``channels`` for ``'N'`` (U / (I + 1)), ``2 * channels + 1`` for ``'full'`` (U, I, N).
    """
    heat = heatmaps.reshape((-1, clip_len) + heatmaps.shape[1:]).transpose(0, 1, 3, 4, 2)  # N, T, H, W, K
    colors = potion_colors(clip_len, channels)
    summed = sum(heat[:, t, ..., None] * colors[t] for t in range(clip_len))  # N, H, W, K, C
    norm = summed.max(axis=(1, 2), keepdims=True)
    u = summed / (norm + _EPS)
    i = u.sum(axis=-1, keepdims=True)
    n = u / (i + 1)
    out = {"U": u, "I": i, "N": n}.get(option)
    if out is None:
        out = np.concatenate([u, i, n], axis=-1)
    return out.reshape(out.shape[:3] + (-1,))


@TRANSFORMS.register()
class Heatmap2Potion(Transform):
    """Heatmap volumes to PoTion images.

    Required keys: imgs (heatmaps ``[clips * clip_len, K, H, W]``, as ``GeneratePoseTarget`` makes
    them), clip_len (optional: all frames form one clip).
    Modified keys: imgs (``[clips, H, W, K * C']``).

    Args:
        C: colour channels (>= 2).
        option: ``'U'``, ``'N'``, ``'I'`` or ``'full'``.
    """

    def __init__(self, C: int, option: str = "full") -> None:
        if not isinstance(C, (int, np.integer)) or isinstance(C, bool) or C < 2:
            raise ValueError(f"Heatmap2Potion: C must be an int >= 2, got {C!r}")
        if option not in _OPTIONS:
            raise ValueError(f"Heatmap2Potion: option must be one of {_OPTIONS}, got {option!r}")
        self.C = int(C)
        self.option = option

    def __call__(self, results: dict) -> dict:
        heatmaps = np.asarray(require(self, results, "imgs"))
        clip_len = results.get("clip_len", heatmaps.shape[0])
        if heatmaps.ndim != 4 or heatmaps.shape[0] % clip_len:
            raise PipelineError(f"Heatmap2Potion: results['imgs'] must be heatmaps "
                                f"[clips * {clip_len}, K, H, W], got shape {heatmaps.shape}")
        results["imgs"] = heatmaps_to_potion(heatmaps, clip_len, self.C, self.option)
        return results
