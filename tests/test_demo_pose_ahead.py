"""``run_demo(pose_ahead=True)``: the next frame is posed on a worker thread; results as without it."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from pyskl.apis.demo import run_demo
from pyskl.pose.replay import ReplayBackend
from tests.test_apis_inference import TINY_COCO
from tests.test_demo_video import _synthetic_clip


class _Recording(ReplayBackend):
    """A replay backend that records the thread of each call and can fail at a given frame."""

    def __init__(self, annotation: dict, fail_at: int | None = None) -> None:
        super().__init__(annotation)
        self.fail_at, self.threads, self.shapes = fail_at, [], []

    def __call__(self, frame=None):
        if self.frame == self.fail_at:
            raise RuntimeError(f"pose failed on frame {self.frame}")
        self.threads.append(threading.current_thread().name)
        self.shapes.append(frame.shape)
        return super().__call__(frame)


def _demo(tmp_path, video, backend, out=None, **options):
    """``run_demo`` of the tiny COCO model (no checkpoint), seeded, timeline to ``tmp_path/t.json``."""
    torch.manual_seed(0)
    options = {"window": 8, "stride": 4, "progress": False, "timeline": tmp_path / "t.json", **options}
    return run_demo(video, out, TINY_COCO, None, backend=backend, **options)


def _run(tmp_path, ann, video, pose_ahead, backend=None, draw=True):
    name = "ahead" if pose_ahead else "inline"
    return _demo(tmp_path, video, backend or ReplayBackend(ann), tmp_path / f"{name}.mp4" if draw else None,
                 window=12, timeline=tmp_path / f"{name}.json", save_pose=tmp_path / f"{name}.pkl",
                 draw=draw, pose_ahead=pose_ahead)


def test_pose_ahead_gives_the_same_poses_and_timeline(tmp_path):
    from pyskl.datasets.io import load_annotations

    video, ann = _synthetic_clip(tmp_path)
    backend = _Recording(ann)
    ahead = _run(tmp_path, ann, video, True, backend)
    inline = _run(tmp_path, ann, video, False)
    assert ahead.pose_ahead and not inline.pose_ahead
    assert ahead.frames == inline.frames == 24 and ahead.tracks == inline.tracks == 1
    # every frame posed once, in order, off the main thread
    assert len(backend.threads) == 24 and all(t.startswith("demo-pose") for t in backend.threads)
    assert all(s == (270, 480, 3) for s in backend.shapes)
    docs = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("ahead", "inline")]
    segs = [[{k: v for k, v in seg.items() if k != "score"} for seg in d["segments"]] for d in docs]
    assert segs[0] == segs[1] and segs[0]
    scores = [[seg["score"] for seg in d["segments"]] for d in docs]
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)  # float summation order may differ
    poses = [
        load_annotations(tmp_path / f"{n}.pkl", validate=False)["annotations"][0] for n in ("ahead", "inline")
    ]
    np.testing.assert_array_equal(poses[0]["keypoint"], poses[1]["keypoint"])
    assert set(ahead.seconds) == {"pose", "tracking", "recognition", "drawing", "total"}


def test_pose_ahead_passes_backend_errors_on_and_stops_its_worker(tmp_path):
    video, ann = _synthetic_clip(tmp_path)
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(RuntimeError, match="pose failed on frame 5"):
        _run(tmp_path, ann, video, True, _Recording(ann, fail_at=5), draw=False)
    assert not {t.name for t in threading.enumerate() if t.name.startswith("demo-")} - before


def test_pose_ahead_with_max_frames_and_a_person_who_leaves(tmp_path):
    video, ann = _synthetic_clip(tmp_path)
    ann["keypoint_score"][:, 10:] = 0  # the person is gone after frame 9
    docs = []
    for pose_ahead in (True, False):
        result = _demo(tmp_path, video, ReplayBackend(ann), max_frames=15, pose_ahead=pose_ahead)
        assert result.frames == 15 and result.tracks == 1
        doc = json.loads((tmp_path / "t.json").read_text())
        assert doc["frames"] == 15
        docs.append([(seg["track"], seg["start"], seg["end"], seg["label"]) for seg in doc["segments"]])
    assert docs[0] == docs[1] and docs[0]


class _IndexedReplay(ReplayBackend):
    """Replays the annotation frame whose index the video frame shows (grey level 10 * t)."""

    def __init__(self, annotation: dict) -> None:
        super().__init__(annotation)
        self.calls = []

    def __call__(self, frame=None):
        self.frame = int(round(float(frame[100:170, 200:280].mean()) / 10))
        self.calls.append(self.frame)
        return super().__call__(frame)


@pytest.mark.parametrize("pose_ahead", [True, False])
def test_pose_every_second_frame_interpolates_the_others(tmp_path, pose_ahead):
    from pyskl.datasets.io import load_annotations
    from pyskl.viz import VideoWriter

    _, ann = _synthetic_clip(tmp_path, frames=9)
    video = tmp_path / "indexed.mp4"
    with VideoWriter(video, fps=15) as w:
        for t in range(9):
            w.write(np.full((270, 480, 3), 10 * t, np.uint8))
    backend = _IndexedReplay(ann)
    result = _demo(tmp_path, video, backend, save_pose=tmp_path / "p.pkl", pose_ahead=pose_ahead,
                   pose_every=2)
    assert result.frames == 9 and backend.calls == [0, 2, 4, 6, 8]
    kp = load_annotations(tmp_path / "p.pkl", validate=False)["annotations"][0]["keypoint"][0]
    ref = ann["keypoint"][0]
    np.testing.assert_allclose(kp[::2], ref[::2], atol=1e-4)
    np.testing.assert_allclose(kp[1::2], (ref[0:-1:2] + ref[2::2]) / 2, atol=1e-3)
    with pytest.raises(ValueError, match="pose_every"):
        run_demo(video, None, TINY_COCO, None, backend=backend, timeline=tmp_path / "t.json", pose_every=0)


def test_torch_threads_during_the_demo_and_restored_after(tmp_path):
    video, ann = _synthetic_clip(tmp_path, frames=8)
    seen = []

    class _Threads(ReplayBackend):
        def __call__(self, frame=None):
            seen.append(torch.get_num_threads())
            return super().__call__(frame)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for pose_ahead, threads, expected in ((True, None, 1), (False, None, 2), (False, 1, 1), (True, 2, 2)):
            seen.clear()
            _demo(tmp_path, video, _Threads(ann), window=4, stride=2, pose_ahead=pose_ahead,
                  torch_threads=threads)
            assert set(seen) == {expected}, (pose_ahead, threads, seen)
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_run_ahead_keeps_depth_items_in_flight_in_order():
    from concurrent.futures import ThreadPoolExecutor

    from pyskl.apis.demo import _run_ahead

    produced = []

    def items():
        for i in range(10):
            produced.append(i)
            yield i

    with ThreadPoolExecutor(1) as pool:
        it = _run_ahead(items(), pool, 3)
        assert next(it) == 0
        pool.submit(lambda: None).result()  # one worker, FIFO: every step submitted so far has run
        assert produced == [0, 1, 2, 3]  # the current item and 3 ahead, no more
        assert list(it) == list(range(1, 10))


def test_cli_passes_pose_every(monkeypatch):
    import pyskl.apis.demo as demo_api
    from pyskl.cli import main

    seen = {}

    class Stop(Exception):
        pass

    def fake_run_demo(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(demo_api, "run_demo", fake_run_demo)
    with pytest.raises(Stop):
        main(["demo", "in.mp4", "out.mp4", "--config", "c.py", "--checkpoint", "none", "--pose-every", "2"])
    assert seen["pose_every"] == 2 and seen["torch_threads"] is None
