"""Weighted non-max suppression, as mediapipe's ``NonMaxSuppressionCalculator`` (``WEIGHTED``) does it."""

from __future__ import annotations

import numpy as np

from .tracker import box_iou

__all__ = ["weighted_nms"]


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping detections into one each, best score first.

    The best remaining candidate takes every remaining detection whose box IoU with it exceeds
    ``iou_threshold`` (itself included); its box and keypoints become their score-weighted mean, its
    score stays the best one. Repeats on what is left.

    Args:
        boxes: ``[D, 4]`` (x1, y1, x2, y2); keypoints ``[D, K, 2]``; scores ``[D]``.

    Returns:
        ``(boxes, keypoints, scores)`` of the merged detections, best first.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], np.asarray(scores)[order]
    out_b, out_k, out_s = [], [], []
    left = np.arange(len(scores))
    while len(left):
        iou = box_iou(boxes[left[:1]], boxes[left])[0]
        group = left[iou > iou_threshold]
        group = group if len(group) else left[:1]  # a degenerate (zero-area) box still counts once
        w = scores[group] / scores[group].sum()
        out_b.append(np.tensordot(w, boxes[group], axes=1))
        out_k.append(np.tensordot(w, keypoints[group], axes=1))
        out_s.append(scores[left[0]])
        left = left[~np.isin(left, group)]
    if not out_s:
        return np.zeros((0, 4)), np.zeros((0,) + keypoints.shape[1:]), np.zeros(0)
    return np.stack(out_b), np.stack(out_k), np.array(out_s)
