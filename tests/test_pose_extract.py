"""``pyskl extract``: video lists, resumable extraction, per-video errors, and BlazePose on the NTU sample."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from pyskl.pose.extract import VideoItem, extract_video, extract_videos, read_video_list
from pyskl.pose.replay import ReplayBackend
from pyskl.pose.video_reader import VideoError, probe_video
from tests.conftest import require_shared


def _mediapipe_or_skip():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed (pip install 'pyskl[demo]')")
    return pytest.importorskip("mediapipe", reason="mediapipe not installed (pip install 'pyskl[demo]')")


def _write_video(path, frames=12, size=(64, 96)):
    from pyskl.viz import VideoWriter

    with VideoWriter(path, fps=10) as w:
        for t in range(frames):
            img = np.zeros(size + (3,), np.uint8)
            img[10:40, 5 + t : 25 + t] = 255
            w.write(img)
    return path


def _replay(frames=12, persons=1):
    kp = np.zeros((persons, frames, 17, 2), np.float32)
    kp[..., 0] = np.arange(17) * 3 + 5
    kp[..., 1] = np.arange(frames)[:, None] + np.arange(17) * 2 + 10
    kp[1:, ..., 0] += 40 if persons > 1 else 0
    return ReplayBackend({"keypoint": kp, "keypoint_score": np.full(kp.shape[:3], 0.8, np.float32)})


def test_read_video_list_folder_and_list_file(tmp_path):
    for name in ("b.mp4", "a.avi", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [i.path.name for i in read_video_list(tmp_path)] == ["a.avi", "b.mp4"]
    lst = tmp_path / "list.txt"
    lst.write_text("# videos\na.avi 3\n/abs/c d.mp4 12  # with a space in the name\nb.mp4\n\n")
    items = read_video_list(lst)
    assert [(i.path.name, i.label) for i in items] == [("a.avi", 3), ("c d.mp4", 12), ("b.mp4", -1)]
    assert items[0].path == tmp_path / "a.avi" and items[0].frame_dir == "a"
    (tmp_path / "dup.txt").write_text("x/a.mp4\ny/a.avi\n")
    with pytest.raises(ValueError, match="share the name"):
        read_video_list(tmp_path / "dup.txt")
    with pytest.raises(FileNotFoundError):
        read_video_list(tmp_path / "missing")


def test_probe_reports_each_kind_of_bad_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.avi").write_text("not a video at all\n" * 20)
    with pytest.raises(VideoError, match="zero-length"):
        probe_video(tmp_path / "empty.mp4")
    with pytest.raises(VideoError, match="not a readable video"):
        probe_video(tmp_path / "text.avi")
    with pytest.raises(VideoError, match="no such file"):
        probe_video(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="directory"):
        probe_video(tmp_path)


def test_extract_video_builds_pyskl_annotation(tmp_path):
    video = _write_video(tmp_path / "clip.mp4")
    ann = extract_video(video, _replay(persons=2), label=4, max_persons=2)
    assert ann["frame_dir"] == "clip" and ann["label"] == 4
    assert ann["img_shape"] == (64, 96) and ann["total_frames"] == 12
    assert ann["keypoint"].shape == (2, 12, 17, 2) and ann["keypoint"].dtype == np.float32
    assert ann["keypoint_score"].shape == (2, 12, 17)
    np.testing.assert_allclose(ann["keypoint"][:, 5, :, 1], 15.0 + np.arange(17)[None].repeat(2, 0) * 2)


def test_extract_videos_errors_resume_and_atomic(tmp_path):
    good = _write_video(tmp_path / "good.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.avi").write_text("hello")
    listing = tmp_path / "list.txt"
    listing.write_text("good.mp4 2\nempty.mp4 1\ntext.avi 0\nmissing.mp4 5\n")
    out = tmp_path / "out" / "skeletons.pkl"
    report = extract_videos(read_video_list(listing), out, backend=_replay(), progress=False)
    assert report.done == ["good"] and report.skipped == []
    assert set(report.errors) == {str(tmp_path / n) for n in ("empty.mp4", "text.avi", "missing.mp4")}
    assert "zero-length" in report.errors[str(tmp_path / "empty.mp4")]
    assert json.loads((tmp_path / "out" / "skeletons.pkl.errors.json").read_text()) == report.errors
    from pyskl.datasets.io import load_annotations

    data = load_annotations(out)  # labelled: passes full validation
    assert data["split"] == {"extract": ["good"]}
    assert data["annotations"][0]["label"] == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "skeletons.pkl",
        "skeletons.pkl.errors.json",
        "skeletons.pkl.parts",
        "skeletons.pkl.tracks.json",
    ]  # no temp files left
    tracks = json.loads((tmp_path / "out" / "skeletons.pkl.tracks.json").read_text())
    assert set(tracks) == {"good"} and tracks["good"]["people_per_frame"] == {"1": 12}
    assert tracks["good"]["track_ids"] == 1 and tracks["good"]["id_switches"] == 0
    # a re-run skips the finished video and does not call the backend for it
    calls = []

    class Counting:
        layout = "coco"

        def __call__(self, frame):
            calls.append(1)
            return []

        def close(self):
            pass

    again = extract_videos([VideoItem(good, 2)], out, backend=Counting(), progress=False)
    assert again.skipped == ["good"] and again.done == [] and not calls
    assert not (tmp_path / "out" / "skeletons.pkl.errors.json").exists()
    # a finished part survives a lost combined file (crash between the two writes)
    out.unlink()
    third = extract_videos([VideoItem(good, 2)], out, backend=Counting(), progress=False)
    assert (
        third.skipped == ["good"] and pickle.loads(out.read_bytes())["annotations"][0]["frame_dir"] == "good"
    )


def test_extract_cli_reports_failures(tmp_path, capsys):
    from pyskl.cli import main
    from pyskl.datasets.io import save_annotations

    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "empty.mp4").write_bytes(b"")
    out = tmp_path / "o.pkl"
    # nothing extracted: an error (status 2), after the reason of each failed video, all on stderr
    assert main(["extract", str(videos), str(out), "--no-progress"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and not out.exists()
    assert lines[0].startswith("extract: failed: ") and "empty.mp4" in lines[0] and "zero-length" in lines[0]
    assert lines[-1].startswith("error: none of the 1 videos could be extracted") and str(out) in lines[-1]
    # a partial result: the video done before stays in OUT, status 1, the failure on stderr
    (videos / "good.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    save_annotations([dict(frame_dir="good", label=-1, total_frames=1, img_shape=(8, 8),
                           keypoint=np.zeros((1, 1, 17, 2), np.float32),
                           keypoint_score=np.zeros((1, 1, 17), np.float32))], out, validate=False)
    assert main(["extract", str(videos), str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "0 done, 1 skipped (already done), 1 failed" in captured.out and "zero-length" not in captured.out
    assert "zero-length" in captured.err and f"1 video(s) failed (reasons in {out}.errors.json)" in captured.err
    assert "error:" not in captured.err
    assert main(["extract", str(tmp_path / "nothing.txt"), str(tmp_path / "o.pkl")]) == 2


@pytest.fixture(scope="module")
def ntu_extract(tmp_path_factory):
    _mediapipe_or_skip()
    video = require_shared("samples", "ntu_sample.avi")
    out = tmp_path_factory.mktemp("extract") / "ntu.pkl"
    report = extract_videos([VideoItem(video, 54)], out, max_persons=2, max_frames=6, progress=False)
    return video, out, report


def _check_ntu_annotation(ann, frames):
    assert ann["frame_dir"] == "ntu_sample" and ann["img_shape"] == (1080, 1920)
    assert ann["total_frames"] == frames
    kp, score = ann["keypoint"], ann["keypoint_score"]
    assert kp.shape == (2, frames, 17, 2) and score.shape == (2, frames, 17)  # both men found
    assert score.min() >= 0 and score.max() <= 1
    visible = score > 0.5
    assert visible.mean() > 0.5
    xy = kp[visible]
    assert np.all((xy >= 0) & (xy[:, :1] < 1920) & (xy[:, 1:] < 1080))
    # the two people stand side by side in the middle of the frame, about 500 px tall
    for m in range(2):
        heights = np.ptp(kp[m, :, :, 1], axis=-1)
        assert 300 < np.median(heights) < 700
        assert 500 < np.median(kp[m, :, :, 0]) < 1300


def test_extract_mediapipe_on_ntu_sample_first_frames(ntu_extract):
    _, out, report = ntu_extract
    assert report.done == ["ntu_sample"] and not report.errors
    from pyskl.datasets.io import load_annotations

    ann = load_annotations(out)["annotations"][0]
    assert ann["label"] == 54
    _check_ntu_annotation(ann, 6)


def test_extract_rerun_skips_finished_video(ntu_extract):
    video, out, _ = ntu_extract
    before = out.stat().st_mtime_ns
    again = extract_videos([VideoItem(video, 54)], out, max_persons=2, progress=False)
    assert again.skipped == ["ntu_sample"] and again.done == []
    assert out.stat().st_mtime_ns == before


@pytest.mark.slow
def test_extract_cli_full_ntu_sample(tmp_path):
    _mediapipe_or_skip()
    video = require_shared("samples", "ntu_sample.avi")
    from pyskl.cli import main
    from pyskl.datasets.io import load_annotations

    listing = tmp_path / "list.txt"
    listing.write_text(f"{video} 54\n")
    assert main(["extract", str(listing), str(tmp_path / "ntu.pkl"), "--no-progress"]) == 0
    _check_ntu_annotation(load_annotations(tmp_path / "ntu.pkl")["annotations"][0], 72)
