"""The BlazePose backend on real video: its landmarks against mediapipe's own, both people of the NTU
sample tracked as two ids, fresh state per video, and ``pyskl extract --layout mediapipe``."""

from __future__ import annotations

import numpy as np
import pytest

from pyskl.pose.extract import VideoItem, extract_video, extract_videos
from pyskl.pose.tracker import keypoint_similarity
from tests.conftest import require_shared


def _backend(**kwargs):
    pytest.importorskip("mediapipe", reason="mediapipe not installed (pip install 'pyskl[demo]')")
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed (pip install 'pyskl[demo]')")
    from pyskl.pose.blazepose import BlazePose

    return BlazePose(**kwargs)


def _frames(path, count):
    from pyskl.pose.video_reader import iter_frames

    return list(iter_frames(path, count))


def _write_avi(path, frames):
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_landmarks_match_mediapipe_single_person_pose():
    """Detector-led (fresh state every frame, as mediapipe's static image mode, and its detection
    threshold 0.5), the person mediapipe finds is one of ours, joint for joint: the same models, warps
    and decoding; what differs is OpenCV's affine warp against mediapipe's own, a fraction of a crop
    pixel (3 px at this ROI size)."""
    video = require_shared("samples", "ntu_sample.avi")
    ours = _backend(max_persons=2, layout="mediapipe", search_every=1, min_detection_score=0.5)
    import mediapipe as mp

    worst = []
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as reference:
        for frame in _frames(video, 4):
            h, w = frame.shape[:2]
            found = reference.process(frame[..., ::-1].copy()).pose_landmarks
            ours.reset()
            people = ours(frame)
            assert found is not None and people
            xy = np.array([(lm.x * w, lm.y * h) for lm in found.landmark])
            per_person = [np.linalg.norm(p.extra["landmarks"][:33] - xy, axis=-1) for p in people]
            errors = min(per_person, key=np.median)
            assert np.median(errors) < 1.0
            worst.append(errors.max())
    ours.close()
    assert max(worst) < 5.0, worst


@pytest.fixture(scope="module")
def ntu_tracked():
    video = require_shared("samples", "ntu_sample.avi")
    backend = _backend(max_persons=2)
    figures: dict = {}
    ann = extract_video(video, backend, max_persons=2, report=figures)
    backend.close()
    return ann, figures


@pytest.mark.slow
def test_ntu_sample_two_people_two_ids_no_merged_skeleton(ntu_tracked):
    ann, figures = ntu_tracked
    frames = ann["total_frames"]
    assert frames == 72 and figures["frames"] == 72
    assert figures["people_per_frame"].get(2, 0) >= 0.95 * frames
    assert figures["track_ids"] == 2 and figures["id_switches"] == 0
    kp, score = ann["keypoint"], ann["keypoint_score"]
    # never one person twice: the two skeletons of a frame are not alike (hugging people score ~0.1-0.4)
    for t in range(frames):
        if score[:, t].any(axis=-1).all():
            assert keypoint_similarity(kp[:1, t], score[:1, t], kp[1:, t], score[1:, t])[0, 0] < 0.6
    # one track is the man mediapipe's own single-person Pose follows (../shared's reference extraction),
    # joint for joint; the other is not him, nor a mix of him and the other man
    ref = require_shared("samples", "ntu_sample_mediapipe.pkl")
    from pyskl.datasets.io import load_annotations

    ref_kp = load_annotations(ref, validate=False)["annotations"][0]["keypoint"][0]
    dist = np.linalg.norm(kp - ref_kp[None], axis=-1)  # [2, T, 17]
    same = int(np.argmin(np.median(dist, axis=(1, 2))))
    both = (score > 0.5).all(axis=0)
    assert np.median(dist[same][both]) < 10
    assert np.percentile(dist[same][both], 90) < 40
    assert np.median(dist[1 - same][both]) > 100


def _variants(video, tmp_path, frames=10):
    """The sample's first frames at 480 x 270, and the same mirrored (a different video to run first)."""
    import cv2

    small = [cv2.resize(f, (480, 270), interpolation=cv2.INTER_AREA) for f in _frames(video, frames)]
    return (
        _write_avi(tmp_path / "plain.avi", small),
        _write_avi(tmp_path / "mirrored.avi", [np.ascontiguousarray(f[:, ::-1]) for f in small]),
    )


def test_each_video_starts_from_fresh_state(tmp_path):
    video = require_shared("samples", "ntu_sample.avi")
    plain, mirrored = _variants(video, tmp_path)
    backend = _backend(max_persons=2)
    alone = extract_videos([VideoItem(plain)], tmp_path / "alone.pkl", backend=backend, progress=False)
    after = extract_videos(
        [VideoItem(mirrored), VideoItem(plain)], tmp_path / "after.pkl", backend=backend, progress=False
    )
    backend.close()
    assert alone.done == ["plain"] and after.done == ["mirrored", "plain"]
    from pyskl.datasets.io import load_annotations

    a = load_annotations(tmp_path / "alone.pkl")["annotations"][0]
    b = {x["frame_dir"]: x for x in load_annotations(tmp_path / "after.pkl")["annotations"]}["plain"]
    np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
    np.testing.assert_array_equal(a["keypoint_score"], b["keypoint_score"])
    assert after.videos["plain"]["people_per_frame"] == alone.videos["plain"]["people_per_frame"]
    assert alone.fps is not None and alone.fps > 0


def test_extract_cli_layout_mediapipe_gives_33_joints(tmp_path, capsys):
    video = require_shared("samples", "ntu_sample.avi")
    _backend(max_persons=1).close()  # skips without the models
    plain, _ = _variants(video, tmp_path, frames=3)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{plain} 7\n")
    from pyskl.cli import main
    from pyskl.datasets.io import load_annotations
    from pyskl.utils.graph import Graph

    out = tmp_path / "mp.pkl"
    assert main(["extract", str(listing), str(out), "--layout", "mediapipe", "--no-progress"]) == 0
    assert "frames/s end to end" in capsys.readouterr().out
    import json

    tracks = json.loads((tmp_path / "mp.pkl.tracks.json").read_text())
    assert tracks["plain"]["frames"] == 3 and tracks["plain"]["people_per_frame"] == {"2": 3}
    ann = load_annotations(out)["annotations"][0]
    assert ann["keypoint"].shape == (2, 3, 33, 2) and ann["label"] == 7
    assert Graph("mediapipe", "spatial").A.shape == (3, 33, 33)


def test_no_person_on_an_empty_wall(tmp_path):
    """A corner of the sample with wall, a bag and a sliver of a sleeve: the detector's weak candidate
    there gets a high landmark presence score but no visible hips, so nobody is reported."""
    video = require_shared("samples", "ntu_sample.avi")
    wall = _write_avi(tmp_path / "wall.avi", [f[0:500, 1100:1700].copy() for f in _frames(video, 12)])
    backend = _backend(max_persons=2)
    figures: dict = {}
    extract_video(wall, backend, report=figures)
    backend.close()
    assert figures["people_per_frame"] == {0: 12} and figures["track_ids"] == 0
