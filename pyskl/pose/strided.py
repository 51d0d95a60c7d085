"""Pose estimation on every n-th frame only, the frames between filled in by linear interpolation.

A speed fallback (pose cost divided by ``every``) for when the pose backend cannot keep up: fast motion
between posed frames is smoothed away. :func:`strided_poses` streams ``(frame, detections)`` like calling
the backend on every frame, holding at most ``every - 1`` frames back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .backend import Detection, keypoint_box
from .tracker import box_iou

__all__ = ["interpolate_detections", "strided_poses"]


def interpolate_detections(
    before: list[Detection], after: list[Detection], weight: float, threshold: float = 0.1
) -> list[Detection]:
    """Persons at ``weight`` (0: ``before``, 1: ``after``) between two posed frames.

    Persons are matched by box IoU (greedy, highest first, at least ``threshold``); a matched pair's
    keypoints and scores are interpolated linearly. A person seen in one frame only is kept as seen there
    while that frame is the nearer one (``weight < 0.5`` for ``before``), so people appear and leave
    half-way between posed frames. Order: matched persons in ``before``'s order, then the unmatched.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    pairs: list[tuple[int, int]] = []
    if before and after:
        iou = box_iou(np.stack([d.box for d in before]), np.stack([d.box for d in after]))
        used_b, used_a = set(), set()
        for flat in np.argsort(-iou, axis=None):
            i, j = np.unravel_index(flat, iou.shape)
            if iou[i, j] < threshold:
                break
            if i not in used_b and j not in used_a:
                used_b.add(i), used_a.add(j)
                pairs.append((int(i), int(j)))
        pairs.sort()
    out = []
    for i, j in pairs:
        kp = (1 - weight) * before[i].keypoint + weight * after[j].keypoint
        score = (1 - weight) * before[i].score + weight * after[j].score
        out.append(Detection(kp.astype(np.float32), score.astype(np.float32), keypoint_box(kp, score)))
    matched_b, matched_a = {i for i, _ in pairs}, {j for _, j in pairs}
    if weight < 0.5:
        out += [d for i, d in enumerate(before) if i not in matched_b]
    else:
        out += [d for j, d in enumerate(after) if j not in matched_a]
    return out


def strided_poses(
    frames: Iterator[np.ndarray], pose: Callable[[np.ndarray], list[Detection]], every: int = 2
) -> Iterator[tuple[np.ndarray, list[Detection]]]:
    """``(frame, detections)`` for every frame, calling ``pose`` on frames 0, every, 2 * every, ... and
    on the last frame; the others get :func:`interpolate_detections` of their two posed neighbours."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    last: list[Detection] | None = None
    held: list[np.ndarray] = []
    for frame in frames:
        if last is not None and len(held) < every - 1:
            held.append(frame)
            continue
        found = pose(frame)
        yield from _fill(held, last, found)
        held, last = [], found
        yield frame, found
    if held:  # the stream ended between posed frames: pose its last frame too
        found = pose(held[-1])
        yield from _fill(held[:-1], last, found)
        yield held[-1], found


def _fill(held: list[np.ndarray], before: list[Detection] | None, after: list[Detection]) -> Iterator:
    gap = len(held) + 1
    for k, frame in enumerate(held, start=1):
        yield frame, interpolate_detections(before or [], after, k / gap)
