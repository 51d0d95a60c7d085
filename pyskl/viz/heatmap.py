"""Rendering PoseC3D heatmap volumes as colour frames."""

from __future__ import annotations

import numpy as np

__all__ = ["heatmap_frames"]


def heatmap_frames(volume: np.ndarray, layout: str = "CTHW", size: int | None = 256) -> list[np.ndarray]:
    """Colour frames (BGR uint8) of a heatmap volume: per time step, the max over channels, JET-coloured.

    Args:
        volume: ``[C, T, H, W]`` (``layout='CTHW'``, PYSKL's NCTHW_Heatmap without N) or ``[T, H, W, C]``
            (``'THWC'``, ``GeneratePoseTarget``'s ``imgs`` before FormatShape); a leading clips axis of
            size 1 is dropped.
        size: the longer side of the output frames in pixels (None keeps the heatmap size).
    """
    import cv2

    vol = np.asarray(volume, dtype=np.float32)
    if vol.ndim == 5 and vol.shape[0] == 1:
        vol = vol[0]
    if vol.ndim != 4:
        raise ValueError(f"heatmap volume must be 4-D ({layout}), got shape {vol.shape}")
    if layout == "THWC":
        vol = vol.transpose(3, 0, 1, 2)
    elif layout != "CTHW":
        raise ValueError(f"layout must be 'CTHW' or 'THWC', got {layout!r}")
    peak = vol.max(axis=0)  # T, H, W
    top = float(peak.max()) or 1.0
    frames = []
    for t in range(peak.shape[0]):
        img = cv2.applyColorMap(np.clip(peak[t] / top * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
        if size:
            h, w = img.shape[:2]
            f = size / max(h, w)
            img = cv2.resize(
                img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_NEAREST
            )
        frames.append(img)
    return frames
