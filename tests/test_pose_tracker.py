"""Tracker, track packing, replay backend and backend registry (no mediapipe needed)."""

from __future__ import annotations

import numpy as np
import pytest

from pyskl.pose import (
    Detection,
    PoseTracker,
    TrackStore,
    box_iou,
    build_pose_backend,
    keypoint_box,
    keypoint_similarity,
)


def _det(x: float, y: float, w: float = 40.0, h: float = 100.0, v: int = 17, score: float = 0.9) -> Detection:
    rng = np.random.default_rng(0)  # one body shape, placed at (x, y)
    kp = np.stack([x + rng.uniform(0, w, v), y + rng.uniform(0, h, v)], axis=-1).astype(np.float32)
    kp[0], kp[1] = (x, y), (x + w, y + h)  # exact box corners
    s = np.full(v, score, np.float32)
    return Detection(kp, s, keypoint_box(kp, s))


def test_box_iou_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 10]])
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0, 0.5])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_keypoint_similarity_identity_and_far():
    d = _det(0, 0)
    far = _det(500, 500)
    sim = keypoint_similarity(
        np.stack([d.keypoint]),
        np.stack([d.score]),
        np.stack([d.keypoint, far.keypoint]),
        np.stack([d.score, far.score]),
    )
    assert sim[0, 0] == pytest.approx(1.0)
    assert sim[0, 1] < 1e-6


def test_keypoint_box_ignores_low_scores():
    kp = np.array([[0, 0], [10, 20], [500, 500]], np.float32)
    assert keypoint_box(kp, np.array([0.9, 0.9, 0.1])).tolist() == [0, 0, 10, 20]
    assert keypoint_box(kp[:1], np.ones(1)).tolist() == [0, 0, 1, 1]  # never empty
    assert keypoint_box(kp, np.zeros(3)).tolist() == [0, 0, 500, 500]  # none confident: all joints


@pytest.mark.parametrize("similarity", ["iou", "oks"])
def test_tracker_keeps_ids_for_moving_people(similarity):
    tracker = PoseTracker(similarity=similarity, threshold=0.2)
    ids_a, ids_b = [], []
    for t in range(10):
        dets = [_det(100 + 3 * t, 50), _det(400 - 3 * t, 60)]
        if t % 2:  # detection order must not matter
            dets = dets[::-1]
            b, a = tracker.update(dets)
        else:
            a, b = tracker.update(dets)
        ids_a.append(a), ids_b.append(b)
    assert set(ids_a) == {0} and set(ids_b) == {1}


def test_tracker_max_age_and_max_tracks():
    tracker = PoseTracker(threshold=0.3, max_age=2, max_tracks=2)
    assert tracker.update([_det(0, 0), _det(300, 0)]) == [0, 1]
    assert tracker.update([_det(0, 0)]) == [0]  # track 1 missing for a frame
    assert tracker.update([_det(0, 0), _det(300, 0)]) == [0, 1]  # comes back within max_age
    for _ in range(3):
        tracker.update([_det(0, 0)])
    # track 1 expired: a person at the same place starts a new track
    assert tracker.update([_det(0, 0), _det(300, 0)]) == [0, 2]
    # a third person while two tracks are live and matched is dropped (-1)
    assert tracker.update([_det(0, 0), _det(300, 0), _det(600, 0)]) == [0, 2, -1]


def test_tracker_rejects_unknown_similarity():
    with pytest.raises(ValueError, match="similarity"):
        PoseTracker(similarity="cosine")


def test_track_store_orders_by_total_score_and_fills_gaps():
    store = TrackStore()
    weak, strong = _det(0, 0, score=0.2), _det(300, 0, score=0.9)
    store.add([0, 1], [weak, strong])
    store.add([1], [strong])
    store.add([0, -1], [weak, strong])  # id -1 (dropped) is not stored
    kp, score = store.to_arrays(17)
    assert kp.shape == (2, 3, 17, 2) and score.shape == (2, 3, 17)
    np.testing.assert_array_equal(kp[0, 0], strong.keypoint)  # strongest track first
    assert np.all(kp[0, 2] == 0) and np.all(score[1, 1] == 0)  # absent frames are zeros
    kp1, _ = store.to_arrays(17, max_persons=1)
    assert kp1.shape[0] == 1
    empty_kp, _ = TrackStore().to_arrays(17)
    assert empty_kp.shape == (1, 0, 17, 2)


def test_replay_backend_yields_annotation_frames():
    kp = np.zeros((2, 3, 17, 2), np.float32)
    kp[0] = 10.0
    kp[1, 1] = 20.0
    backend = build_pose_backend("replay", annotation={"keypoint": kp}, max_persons=2)
    counts = [len(backend(None)) for _ in range(4)]
    assert counts == [1, 2, 1, 0]


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="mediapipe"):
        build_pose_backend("openpifpaf")


def test_onnx_slot_explains_missing_model(tmp_path):
    with pytest.raises(ValueError, match="ONNX weights"):
        build_pose_backend("onnx")
    with pytest.raises(FileNotFoundError, match="not found"):
        build_pose_backend("onnx", model=str(tmp_path / "rtmo.onnx"))


def test_onnx_rtmo_decoding():
    from pyskl.pose.onnx_backend import decode_rtmo, letterbox

    img, scale = letterbox(np.zeros((100, 200, 3), np.uint8), 64)
    assert img.shape == (64, 64, 3) and scale == pytest.approx(0.32)
    assert np.all(img[40:] == 114)  # padded below the resized image
    dets = np.array([[0, 0, 32, 16, 0.9], [0, 0, 8, 8, 0.1]], np.float32)
    kps = np.zeros((2, 17, 3), np.float32)
    kps[0, :, :2] = 16
    kps[0, :, 2] = 0.8
    out = decode_rtmo(dets, kps, 0.32, (100, 200), max_persons=2, score_threshold=0.3)
    assert len(out) == 1
    np.testing.assert_allclose(out[0].keypoint, 50.0)
    np.testing.assert_allclose(out[0].box, [0, 0, 100, 50])


def _walker(x0: float, y0: float, vx: float, t: int, score: float = 0.9, body: int = 1) -> Detection:
    """A 17-joint figure 40 x 100 px (joint layout drawn with seed ``body``) at (x0 + vx * t, y0)."""
    rng = np.random.default_rng(body)
    offsets = np.stack([rng.uniform(0, 40, 17), rng.uniform(0, 100, 17)], axis=-1)
    kp = (offsets + [x0 + vx * t, y0]).astype(np.float32)
    s = np.full(17, score, np.float32)
    return Detection(kp, s, keypoint_box(kp, s))


def _run(tracker, frames, store=None):
    """Track ``frames`` (lists of (true_id, detection)); returns true_id -> set of track ids."""
    seen: dict[int, set[int]] = {}
    for people in frames:
        ids = tracker.update([d for _, d in people])
        if store is not None:
            store.add(ids, [d for _, d in people])
        for (true_id, _), tid in zip(people, ids):
            seen.setdefault(true_id, set()).add(tid)
    return seen


def _crossing() -> list[list[tuple[int, Detection]]]:
    """Two people of the same build walk through each other, 10 px per frame, 4 px apart in height: from
    t = 11 to t = 12 each moves to where the other was (x 210 <-> 220), so their previous poses alone
    cannot tell them apart."""
    return [[(0, _walker(100, 50, 10, t)), (1, _walker(330, 54, -10, t))] for t in range(24)]


def _one_id_each(seen: dict[int, set[int]]) -> bool:
    ids = [next(iter(v)) for v in seen.values() if len(v) == 1]
    return len(ids) == len(seen) and len(set(ids)) == len(ids)


def test_crossing_people_keep_their_ids():
    frames = _crossing()
    for t in range(24):
        if t % 3 == 0:
            frames[t].reverse()  # the detection order must not matter
    store = TrackStore()
    seen = _run(PoseTracker(), frames, store)
    assert _one_id_each(seen), seen
    report = store.report()
    assert report == {"frames": 24, "people_per_frame": {2: 24}, "track_ids": 2, "id_switches": 0}


def test_crossing_people_with_a_greedy_matcher_would_swap():
    """The constant-velocity prediction is what keeps the ids: matched against their last poses instead
    (no motion), the two people swap ids when they overlap, and the report counts the swap."""
    frames = _crossing()
    store = TrackStore()
    seen = _run(PoseTracker(max_extrapolation=0), frames, store)
    assert seen[0] == {0, 1} and seen[1] == {0, 1}
    assert store.report()["id_switches"] >= 1


def test_occluded_person_keeps_the_id_and_no_new_track_starts():
    # B is hidden for 8 frames (behind A, or missed by the detector) and reappears further along its path
    frames = []
    for t in range(40):
        people = [(0, _walker(100, 50, 0, t))]
        if not 15 <= t < 23:
            people.append((1, _walker(200, 60, 4, t)))
        frames.append(people)
    store = TrackStore()
    seen = _run(PoseTracker(max_age=15), frames, store)
    assert seen == {0: {0}, 1: {1}}
    report = store.report()
    assert report["track_ids"] == 2 and report["people_per_frame"] == {1: 8, 2: 32}


def test_sporadic_missed_detections_do_not_fragment_tracks():
    rng = np.random.default_rng(3)
    frames = []
    for t in range(60):
        people = [(0, _walker(50, 40, 3, t)), (1, _walker(400, 40, -2, t))]
        frames.append([p for p in people if rng.random() > 0.3])  # each missed in 30% of frames
    seen = _run(PoseTracker(), frames)
    assert seen == {0: {0}, 1: {1}}


def test_count_swaps_flags_exchanged_poses_only():
    from pyskl.pose.tracker import count_swaps

    a0, b0 = _walker(0, 0, 0, 0), _walker(300, 0, 0, 0)
    a1, b1 = _walker(5, 0, 0, 0), _walker(305, 0, 0, 0)
    assert count_swaps([{0: a0, 1: b0}, {0: a1, 1: b1}]) == 0
    assert count_swaps([{0: a0, 1: b0}, {0: b1, 1: a1}]) == 1
    assert count_swaps([{0: a0}, {1: a1}]) == 0  # no track seen in both frames
    # people passing through each other at constant speed are not a swap; their ids exchanged are one
    walk = [{0: _walker(100, 50, 10, t), 1: _walker(330, 54, -10, t)} for t in range(24)]
    assert count_swaps(walk) == 0
    walk[12] = {0: walk[12][1], 1: walk[12][0]}
    assert count_swaps(walk[:13]) == 1
