"""Rotated square regions of interest (BlazePose's person crops) and the warps in and out of them.

A region is centred on one alignment point (the mid-hip), rotated so that the vector from it to the
second point (a point that encodes the body's size and rotation) points up, and ``2 * scale`` times
that vector's length wide, in pixels, as mediapipe's ``AlignmentPointsRectsCalculator`` followed by
``RectTransformationCalculator(scale 1.25, square_long)`` builds it for the landmark model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RotatedRect", "alignment_rect", "crop_matrix", "from_crop", "warp_crop"]


@dataclass(frozen=True)
class RotatedRect:
    """A square of side ``size`` pixels centred at (``cx``, ``cy``), rotated by ``angle`` radians
    (clockwise on screen, y pointing down)."""

    cx: float
    cy: float
    size: float
    angle: float

    def corners(self) -> np.ndarray:
        """``[4, 2]`` corners in image pixels: top-left, top-right, bottom-right, bottom-left of the crop."""
        unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
        return from_crop(self, unit, 1)

    def box(self) -> np.ndarray:
        """Axis-aligned (x1, y1, x2, y2) around the rotated square."""
        c = self.corners()
        return np.concatenate([c.min(axis=0), c.max(axis=0)])


def _normalize_angle(angle: float) -> float:
    return float(angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi)))


def alignment_rect(centre: np.ndarray, scale_point: np.ndarray, scale: float = 1.25) -> RotatedRect:
    """The region for a person whose alignment points are ``centre`` and ``scale_point`` (pixels)."""
    dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
    angle = _normalize_angle(np.pi / 2 - np.arctan2(-dy, dx))
    return RotatedRect(float(centre[0]), float(centre[1]), 2 * np.hypot(dx, dy) * scale, angle)


def crop_matrix(rect: RotatedRect, out_size: int) -> np.ndarray:
    """``[2, 3]`` affine map from image pixels to crop pixels (the rect's corners go to the crop's)."""
    cos, sin = np.cos(rect.angle), np.sin(rect.angle)
    k = out_size / rect.size
    rot = np.array([[cos, sin], [-sin, cos]]) * k  # inverse rotation, then scale
    shift = out_size / 2 - rot @ np.array([rect.cx, rect.cy])
    return np.concatenate([rot, shift[:, None]], axis=1)


def from_crop(rect: RotatedRect, points: np.ndarray, crop_size: float) -> np.ndarray:
    """Crop coordinates ``[..., 2]`` (0..``crop_size``) -> image pixels."""
    cos, sin = np.cos(rect.angle), np.sin(rect.angle)
    u = (np.asarray(points, np.float64) / crop_size - 0.5) * rect.size
    x = cos * u[..., 0] - sin * u[..., 1] + rect.cx
    y = sin * u[..., 0] + cos * u[..., 1] + rect.cy
    return np.stack([x, y], axis=-1)


def warp_crop(image: np.ndarray, rect: RotatedRect, out_size: int, border_zero: bool = False) -> np.ndarray:
    """The ``out_size`` square crop of ``image`` under ``rect`` (bilinear; outside the image: the edge
    pixels repeated, or zeros with ``border_zero``)."""
    import cv2

    border = cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE
    return cv2.warpAffine(
        image, crop_matrix(rect, out_size), (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=border
    )
