"""Orthographic projection of 3D skeletons for drawing (rotatable by azimuth / elevation)."""

from __future__ import annotations

import numpy as np

__all__ = ["project_3d", "rotation_matrix"]


def rotation_matrix(azimuth: float, elevation: float) -> np.ndarray:
    """Rotation turning the scene by ``azimuth`` degrees about the vertical (y) axis, then tilting it
    by ``elevation`` degrees about the horizontal (x) axis."""
    a, e = np.deg2rad(azimuth), np.deg2rad(elevation)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return rx @ ry


def project_3d(
    keypoint: np.ndarray,
    size: tuple[int, int] = (480, 480),
    azimuth: float = 0.0,
    elevation: float = 0.0,
    margin: float = 0.1,
    y_up: bool = True,
) -> np.ndarray:
    """Project ``[..., V, 3]`` points (NTU: metres, y up) to pixels ``[..., V, 2]`` on a ``(H, W)`` canvas.

    One scale and centre fit all points of all frames (so motion stays visible); all-zero joints (missing)
    stay at (0, 0) so the drawer skips them.
    """
    kp = np.asarray(keypoint, dtype=np.float64)
    if kp.shape[-1] != 3:
        raise ValueError(f"project_3d needs [..., V, 3] points, got shape {kp.shape}")
    missing = np.all(kp == 0, axis=-1)
    rotated = kp @ rotation_matrix(azimuth, elevation).T
    xy = rotated[..., :2].copy()
    if y_up:
        xy[..., 1] = -xy[..., 1]
    present = xy[~missing]
    h, w = size
    out = np.zeros(kp.shape[:-1] + (2,), dtype=np.float32)
    if present.size == 0:
        return out
    lo, hi = present.min(axis=0), present.max(axis=0)
    span = max(float((hi - lo).max()), 1e-6)
    scale = (1 - 2 * margin) * min(h, w) / span
    centre = (lo + hi) / 2
    proj = (xy - centre) * scale + np.array([w / 2, h / 2])
    out[~missing] = proj[~missing]
    return out
