"""SSD anchors and box/keypoint decoding for BlazePose's person detector.

The facts follow mediapipe's ``pose_detection_cpu`` graph: anchors from ``SsdAnchorsCalculator`` with
5 layers of strides (8, 16, 32, 32, 32) over a 224 x 224 input, aspect ratio 1 plus one interpolated
anchor per layer, fixed anchor size (every anchor is 1 x 1), centres at cell centres; outputs decoded
as ``TensorsToDetectionsCalculator`` does with ``reverse_output_order`` (x, y, w, h) and scale 224.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DETECTOR_STRIDES", "decode_detections", "ssd_anchors"]

DETECTOR_STRIDES = (8, 16, 32, 32, 32)


def ssd_anchors(input_size: int = 224, strides: tuple[int, ...] = DETECTOR_STRIDES) -> np.ndarray:
    """Anchor centres ``[N, 2]`` (x, y) in [0, 1] in the detector's output order.

    Consecutive layers with the same stride share one feature map; each layer contributes two anchors per
    cell (aspect ratio 1 and the interpolated scale), so the map's cells carry ``2 * layers`` anchors each,
    ordered row by row, then column, then anchor. For BlazePose: 28*28*2 + 14*14*2 + 7*7*6 = 2254.
    """
    out = []
    i = 0
    while i < len(strides):
        stride, layers = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            layers, i = layers + 1, i + 1
        cells = math.ceil(input_size / stride)
        centres = (np.arange(cells) + 0.5) / cells
        y, x = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([x.ravel(), y.ravel()], axis=-1)  # row by row
        out.append(np.repeat(grid, 2 * layers, axis=0))
    return np.concatenate(out).astype(np.float32)


def decode_detections(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    input_size: int = 224,
    min_score: float = 0.5,
    num_keypoints: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the detector's raw outputs into the candidates scoring at least ``min_score``.

    Args:
        raw_boxes: ``[N, 4 + 2 * K]``: box centre offset x, y, size w, h, then K keypoint offsets (x, y),
            all in input pixels relative to the anchor centre.
        raw_scores: ``[N]`` or ``[N, 1]`` logits (clipped to +-100 before the sigmoid, as mediapipe does).
        anchors: ``[N, 2]`` from :func:`ssd_anchors`.

    Returns:
        ``boxes [D, 4]`` (x1, y1, x2, y2), ``keypoints [D, K, 2]`` (x, y), ``scores [D]``, all coordinates
        normalised to the (letterboxed) input square.
    """
    logits = np.clip(np.asarray(raw_scores, np.float64).reshape(-1), -100.0, 100.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    raw = np.asarray(raw_boxes, np.float64)[keep] / input_size
    centre = anchors[keep].astype(np.float64)
    xy = raw[:, :2] + centre
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([xy - half, xy + half], axis=-1)
    keypoints = raw[:, 4 : 4 + 2 * num_keypoints].reshape(-1, num_keypoints, 2) + centre[:, None]
    return boxes, keypoints, scores[keep]
