"""Pose on every n-th frame, interpolated in between (the demo's speed fallback)."""

from __future__ import annotations

import numpy as np
import pytest

from pyskl.pose.backend import Detection, keypoint_box
from pyskl.pose.strided import interpolate_detections, strided_poses


def _person(x: float, y: float = 0.0, score: float = 0.9) -> Detection:
    kp = np.stack([np.linspace(x, x + 40, 17), np.linspace(y, y + 100, 17)], axis=-1).astype(np.float32)
    sc = np.full(17, score, np.float32)
    return Detection(kp, sc, keypoint_box(kp, sc))


def test_interpolate_matches_by_box_and_blends_linearly():
    before = [_person(0), _person(200)]
    after = [_person(210, score=0.5), _person(10)]  # listed the other way round
    mid = interpolate_detections(before, after, 0.25)
    assert len(mid) == 2
    np.testing.assert_allclose(mid[0].keypoint, _person(2.5).keypoint, atol=1e-4)
    np.testing.assert_allclose(mid[1].keypoint, _person(202.5).keypoint, atol=1e-4)
    np.testing.assert_allclose(mid[1].score, 0.8, atol=1e-6)
    np.testing.assert_allclose(mid[0].box, [2.5, 0, 42.5, 100], atol=1e-4)
    for w, d in ((0.0, before), (1.0, [after[1], after[0]])):
        out = interpolate_detections(before, after, w)
        for a, b in zip(out, d):
            np.testing.assert_allclose(a.keypoint, b.keypoint, atol=1e-5)


def test_interpolate_person_who_arrives_or_leaves_switches_half_way():
    before, after = [_person(0)], [_person(5), _person(500)]
    assert len(interpolate_detections(before, after, 0.4)) == 1
    out = interpolate_detections(before, after, 0.5)
    assert len(out) == 2 and out[1].keypoint[0, 0] == 500
    assert len(interpolate_detections(after, before, 0.4)) == 2
    assert len(interpolate_detections(after, before, 0.6)) == 1
    assert interpolate_detections([], [], 0.3) == []
    with pytest.raises(ValueError, match="weight"):
        interpolate_detections(before, after, 1.5)


class _CountingPose:
    """Pose 'estimator' reading the person's x position from the frame's first pixel."""

    def __init__(self):
        self.calls = []

    def __call__(self, frame):
        x = float(frame[0, 0, 0])
        self.calls.append(x)
        return [] if x < 0 else [_person(x)]


@pytest.mark.parametrize("n, every", [(10, 2), (10, 3), (9, 4), (1, 3), (0, 2), (5, 1)])
def test_strided_poses_calls_every_nth_and_last_frame(n, every):
    frames = [np.full((2, 2, 3), 5.0 * t, np.float32) for t in range(n)]
    pose = _CountingPose()
    out = list(strided_poses(iter(frames), pose, every))
    assert len(out) == n and all(f is g for (f, _), g in zip(out, frames))  # every frame, in order
    posed = sorted(set(range(0, n, every)) | ({n - 1} if n else set()))
    assert pose.calls == [5.0 * t for t in posed]
    for t, (_, dets) in enumerate(out):  # linear motion is reproduced exactly
        assert len(dets) == 1
        np.testing.assert_allclose(dets[0].keypoint[0, 0], 5.0 * t, atol=1e-4)
    with pytest.raises(ValueError, match="every"):
        list(strided_poses(iter(frames), pose, 0))
