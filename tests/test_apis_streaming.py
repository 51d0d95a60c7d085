"""StreamingRecognizer (one frame at a time, sliding windows per track) and the timeline it feeds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pyskl.apis import (
    SCENE,
    SceneRecognizer,
    StreamingRecognizer,
    Timeline,
    TrackPrediction,
    inference_recognizer,
    init_recognizer,
    validate_timeline,
)
from tests.test_apis_inference import TINY_COCO


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return init_recognizer(TINY_COCO, num_clips=1)


def _pose(t, shift=0.0):
    kp = np.stack([np.arange(17) * 4 + 100 + shift + t, np.arange(17) * 6 + 50.0], -1).astype(np.float32)
    return kp, np.full(17, 0.9, np.float32)


def test_windows_strides_and_bounded_memory(model):
    stream = StreamingRecognizer(model, window=8, stride=4, min_frames=4, img_shape=(480, 640))
    preds = []
    for t in range(20):
        poses = {0: _pose(t)}
        if t >= 6:
            poses[5] = _pose(t, 200)  # a second person enters at frame 6
        preds += stream.push(t, poses)
        assert all(len(b.keypoint) <= 8 for b in stream.tracks.values())
    by_track = {tid: [(p.start, p.end) for p in preds if p.track == tid] for tid in (0, 5)}
    assert by_track[0] == [(0, 3), (4, 7), (8, 11), (12, 15), (16, 19)]
    assert by_track[5] == [(6, 9), (10, 13), (14, 17)]
    assert all(p.scores.shape == (5,) and p.scores.sum() == pytest.approx(1, abs=1e-5) for p in preds)
    tail = stream.flush()
    assert [(p.track, p.start, p.end) for p in tail] == [(5, 18, 19)]
    assert stream.flush() == []


def test_missing_frames_and_dropped_tracks(model):
    stream = StreamingRecognizer(model, window=6, stride=3, img_shape=(480, 640), max_missing=2)
    assert stream.push(0, {1: _pose(0)}) == []
    assert stream.push(1, {}) == []  # missing frame: a zero pose keeps the window aligned
    assert np.all(stream.tracks[1].keypoint[-1] == 0)
    assert stream.push(2, {}) == []  # a track not seen in this frame is not predicted
    for t in range(2, 5):
        stream.push(t, {})
    assert 1 not in stream.tracks  # unseen for more than max_missing frames
    with pytest.raises(ValueError, match=">= 1"):
        StreamingRecognizer(model, window=0)


def test_single_frame_stream_matches_offline_inference(model):
    stream = StreamingRecognizer(model, window=8, stride=8, min_frames=8, img_shape=(480, 640))
    kps, scores = zip(*(_pose(t) for t in range(8)))
    preds = [p for t in range(8) for p in stream.push(t, {0: (kps[t], scores[t])})]
    assert len(preds) == 1
    offline = inference_recognizer(
        model,
        np.stack(kps)[None],
        return_scores=True,
        keypoint_score=np.stack(scores)[None],
        img_shape=(480, 640),
    )
    np.testing.assert_allclose(preds[0].scores, offline, atol=1e-5)


def test_scene_windows_hold_everyone_in_slot_order(model):
    """One prediction per window for the whole frame; the sample holds every person seen in the window, in
    the order of their slots (first come), equal to offline inference on those people together."""
    stream = SceneRecognizer(model, window=8, stride=4, min_frames=4, img_shape=(480, 640), max_people=2)
    preds, frames = [], []
    for t in range(16):
        poses = {9: _pose(t)}
        if t >= 6:
            poses[3] = _pose(t, 200)  # a second person enters at frame 6: slot 1, though its id is lower
        frames.append(poses)
        got = stream.push(t, poses)
        preds += got
        if t == 11:  # window 4-11: person 3 is in frames 6-11 only, zeros before
            assert len(got) == 1
            kp = np.zeros((2, 8, 17, 2), np.float32)
            score = np.zeros((2, 8, 17), np.float32)
            for i, f in enumerate(frames[4:12]):
                for slot, tid in enumerate((9, 3)):
                    if tid in f:
                        kp[slot, i], score[slot, i] = f[tid]
            offline = inference_recognizer(model, kp, return_scores=True, keypoint_score=score,
                                           img_shape=(480, 640))
            np.testing.assert_allclose(got[0].scores, offline, atol=1e-5)
    assert [(p.track, p.start, p.end) for p in preds] == [(SCENE, 0, 3), (SCENE, 4, 7), (SCENE, 8, 11),
                                                           (SCENE, 12, 15)]
    assert stream.slots == {9: 0, 3: 1} and len(stream.keypoint) == 8
    assert stream.flush() == []  # every frame is covered


def test_scene_slots_are_reused_and_an_empty_scene_starts_afresh(model):
    stream = SceneRecognizer(model, window=6, stride=3, min_frames=3, img_shape=(480, 640), max_missing=2,
                             max_people=2)
    for t in range(3):
        stream.push(t, {1: _pose(t), 2: _pose(t, 100), 4: _pose(t, 200)})  # a third person gets no slot
    assert stream.slots == {1: 0, 2: 1}
    for t in range(3, 6):
        stream.push(t, {2: _pose(t, 100), 4: _pose(t, 200)})
    assert stream.slots == {2: 1, 4: 0}  # person 1 unseen for more than max_missing frames: its slot goes
    for t in range(6, 9):
        assert stream.push(t, {}) == []
    assert len(stream.keypoint) == 0  # nobody for more than max_missing frames
    preds = [p for t in range(9, 12) for p in stream.push(t, {7: _pose(t)})]
    assert [(p.start, p.end) for p in preds] == [(9, 11)]  # a new scene, not a continuation
    with pytest.raises(ValueError, match=">= 1"):
        SceneRecognizer(model, max_people=0)


def test_timeline_merges_same_label_and_validates(tmp_path):
    def pred(track, start, end, label, p):
        s = np.full(3, (1 - p) / 2)
        s[label] = p
        return TrackPrediction(track, start, end, s)

    lines = Timeline(["wave", "clap", "jump"], fps=10)
    for p in [pred(0, 0, 3, 1, 0.6), pred(1, 0, 5, 2, 0.9), pred(0, 4, 7, 1, 0.8), pred(0, 8, 11, 0, 0.5)]:
        lines.add(p)
    lines.write(
        tmp_path / "t.json",
        tmp_path / "t.csv",
        video="v.mp4",
        frames=12,
        width=64,
        height=48,
        window=8,
        stride=4,
    )
    doc = json.loads((tmp_path / "t.json").read_text())
    validate_timeline(doc)
    segs = [
        (s["track"], s["start"], s["end"], s["label_name"], round(s["score"], 3)) for s in doc["segments"]
    ]
    assert segs == [(0, 0, 7, "clap", 0.7), (0, 8, 11, "wave", 0.5), (1, 0, 5, "jump", 0.9)]
    assert doc["segments"][0]["end_time"] == pytest.approx(0.8)
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows[0] == "track,start,end,start_time,end_time,label,label_name,score" and len(rows) == 4
    bad = dict(doc, segments=[dict(doc["segments"][0], score=1.5)])
    with pytest.raises(ValueError, match="maximum"):
        validate_timeline(bad)
    with pytest.raises(ValueError, match="missing keys"):
        validate_timeline({k: v for k, v in doc.items() if k != "fps"})
    with pytest.raises(ValueError, match="outside"):
        validate_timeline(dict(doc, frames=6))
