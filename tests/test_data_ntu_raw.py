"""NTU raw .skeleton conversion: parsing, body denoising/selection, splits, per-file errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from pyskl.datasets.ntu_raw import (
    NTUParseError,
    convert_ntu,
    ntu_splits,
    parse_name,
    read_skeleton_file,
    skeleton_to_annotation,
)

RNG = np.random.default_rng(0)


def make_body(frames: int, scale: float = 1.0, offset=(0.0, 0.0, 3.0), lying: bool = False, seed: int = 0):
    """[frames, 25, 3] upright body (y spread > x spread) with some motion; ``lying`` swaps x and y."""
    rng = np.random.default_rng(seed)
    base = np.stack([rng.uniform(-0.2, 0.2, 25), rng.uniform(-0.8, 0.8, 25), rng.uniform(-0.1, 0.1, 25)], -1)
    if lying:
        base = base[:, [1, 0, 2]]
    t = np.arange(frames)[:, None, None]
    wave = scale * 0.05 * np.sin(t / 3.0 + np.arange(25)[None, :, None])
    return np.round(base[None] + wave + np.asarray(offset), 4)  # exactly what the text file holds


def write_skeleton(path: Path, frames: list[list[tuple[str, np.ndarray]]]) -> Path:
    """Write the official text format: frames = per frame, a list of (bodyID, joints[25, 3])."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.01119184 -0.256052 2")
            lines.append("25")
            for x, y, z in joints:
                lines.append(f"{x:.7f} {y:.7f} {z:.7f} 0.2 0.3 900.5 500.25 0.1 0.2 0.3 0.9 2")
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def track(body_id, joints, start=0):
    """Per-frame entries for one body beginning at ``start``."""
    return {start + i: (body_id, j) for i, j in enumerate(joints)}


def compose(total: int, *tracks) -> list[list]:
    return [[t[f] for t in tracks if f in t] for f in range(total)]


def f16(x):
    return np.asarray(x).astype(np.float32).astype(np.float16)


def test_single_body_round_trip(tmp_path):
    body = make_body(30)
    path = write_skeleton(
        tmp_path / "S001C001P001R001A001.skeleton", compose(30, track("72057594037931101", body))
    )
    ann = skeleton_to_annotation(path)
    assert ann["frame_dir"] == "S001C001P001R001A001" and ann["label"] == 0 and ann["total_frames"] == 30
    assert ann["keypoint"].dtype == np.float16 and ann["keypoint"].shape == (1, 30, 25, 3)
    np.testing.assert_array_equal(ann["keypoint"][0], f16(body))


def test_frames_without_bodies_are_dropped(tmp_path):
    body = make_body(30)
    frames = compose(30, track("1", body))
    frames[5] = frames[6] = []
    path = write_skeleton(tmp_path / "S001C001P001R001A002.skeleton", frames)
    bodies, kept = read_skeleton_file(path)
    assert kept == 28 and len(bodies) == 1 and len(bodies[0].frames) == 28
    ann = skeleton_to_annotation(path)
    assert ann["total_frames"] == 28
    np.testing.assert_array_equal(ann["keypoint"][0], f16(np.delete(body, [5, 6], axis=0)))


def test_two_people_ranked_by_motion(tmp_path):
    calm, lively = make_body(40, scale=0.2, seed=1), make_body(40, scale=3.0, offset=(1, 0, 3), seed=2)
    path = write_skeleton(
        tmp_path / "S001C001P001R001A050.skeleton", compose(40, track("10", calm), track("20", lively))
    )
    ann = skeleton_to_annotation(path)
    assert ann["keypoint"].shape == (2, 40, 25, 3) and ann["label"] == 49
    np.testing.assert_array_equal(ann["keypoint"][0], f16(lively))
    np.testing.assert_array_equal(ann["keypoint"][1], f16(calm))


def test_noisy_bodies_removed(tmp_path):
    person = make_body(40, seed=3)
    short = make_body(8, scale=5.0, offset=(2, 0, 3), seed=4)  # <= 11 frames: noise
    furniture = make_body(40, scale=4.0, offset=(-2, 0, 3), lying=True, seed=5)  # x spread > y spread
    path = write_skeleton(
        tmp_path / "S002C002P002R001A010.skeleton",
        compose(40, track("1", person), track("2", short, start=10), track("3", furniture)),
    )
    bodies, _ = read_skeleton_file(path)
    assert [b.body_id for b in bodies] == ["1", "3", "2"]  # first-appearance order
    ann = skeleton_to_annotation(path)
    assert ann["keypoint"].shape == (1, 40, 25, 3)
    np.testing.assert_array_equal(ann["keypoint"][0], f16(person))


def test_tracking_id_switch_merges_into_first_person(tmp_path):
    first, second = make_body(20, scale=2.0, seed=6), make_body(25, scale=1.0, seed=7)
    path = write_skeleton(
        tmp_path / "S001C001P001R001A003.skeleton",
        compose(45, track("1", first), track("2", second, start=20)),
    )
    ann = skeleton_to_annotation(path)
    # PYSKL keeps M = 2 once two bodies survive denoising, even when person 2 stays empty.
    assert ann["keypoint"].shape == (2, 45, 25, 3) and ann["total_frames"] == 45
    np.testing.assert_array_equal(ann["keypoint"][0], f16(np.concatenate([first, second])))
    assert not ann["keypoint"][1].any()


def test_overlapping_late_starter_and_person_swap(tmp_path):
    lively = make_body(35, scale=3.0, seed=8)  # most motion, appears at frame 5
    calm = make_body(40, scale=0.3, offset=(1, 0, 3), seed=9)  # present from frame 0
    path = write_skeleton(
        tmp_path / "S001C001P001R001A051.skeleton",
        compose(40, track("1", lively, start=5), track("2", calm)),
    )
    kp = skeleton_to_annotation(path)["keypoint"]
    # lively is person 1 by motion, but it is empty at frame 0 while calm is not: PYSKL swaps them.
    assert kp.shape == (2, 40, 25, 3)
    np.testing.assert_array_equal(kp[0], f16(calm))
    np.testing.assert_array_equal(kp[1, 5:], f16(lively))
    assert not kp[1, :5].any()


def test_shared_frame_counts_as_overlap_and_zero_ends_trimmed(tmp_path):
    a = make_body(20, scale=3.0, seed=10)  # frames 3..22
    b = make_body(20, scale=1.0, offset=(1, 0, 3), seed=11)  # frames 22..41: shares frame 22 with a
    frames = compose(45, track("1", a, start=3), track("2", b, start=22))
    for f in range(3):
        frames[f] = [("9", np.zeros((25, 3)))]  # an all-zero body in the first frames
    path = write_skeleton(tmp_path / "S001C001P001R001A052.skeleton", frames)
    kp = skeleton_to_annotation(path)["keypoint"]
    # b overlaps a by one frame, so it goes to person 2; the zero body's frames are trimmed.
    assert kp.shape == (2, 39, 25, 3)
    np.testing.assert_array_equal(kp[0, :20], f16(a))
    np.testing.assert_array_equal(kp[1, 19:], f16(b))


def test_truncated_and_malformed_files(tmp_path):
    good = write_skeleton(tmp_path / "S001C001P001R001A001.skeleton", compose(20, track("1", make_body(20))))
    text = good.read_text()
    truncated = tmp_path / "S001C001P001R001A004.skeleton"
    truncated.write_text(text[: len(text) // 2])
    with pytest.raises(NTUParseError, match="S001C001P001R001A004.skeleton: truncated"):
        read_skeleton_file(truncated)
    garbage = tmp_path / "S001C001P001R001A005.skeleton"
    garbage.write_text("twelve\n")
    with pytest.raises(NTUParseError, match="line 1: expected the frame count"):
        read_skeleton_file(garbage)


def test_convert_reports_bad_files_and_keeps_others(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    names = ["S001C001P001R001A001", "S001C002P002R001A002", "S001C003P003R002A003", "S018C001P045R001A061"]
    for i, name in enumerate(names):
        write_skeleton(raw / f"{name}.skeleton", compose(15, track("1", make_body(15, seed=i))))
    (raw / "S001C001P001R001A007.skeleton").write_text("15\n1\n72057594037931101 0 1 1\n")
    write_skeleton(
        raw / "S001C002P005R002A008.skeleton", compose(15, track("1", make_body(15)))
    )  # known missing
    report = convert_ntu(sorted(raw.glob("*.skeleton")), workers=2)
    assert report.skipped_missing == ["S001C002P005R002A008"]
    assert len(report.errors) == 1 and "S001C001P001R001A007.skeleton" in report.errors[0][1]
    ntu60, ntu120 = report.annotations["ntu60"], report.annotations["ntu120"]
    assert [a["frame_dir"] for a in ntu60["annotations"]] == names[:3]
    assert [a["frame_dir"] for a in ntu120["annotations"]] == names
    assert ntu60["split"]["xview_train"] == names[1:3] and ntu60["split"]["xview_val"] == names[:1]
    assert ntu60["split"]["xsub_train"] == names[:2] and ntu60["split"]["xsub_val"] == names[2:3]
    assert ntu120["split"]["xset_train"] == names[3:] and ntu120["split"]["xset_val"] == names[:3]
    assert ntu120["split"]["xsub_train"] == names[:2] + names[3:]
    assert ntu120["annotations"][3]["label"] == 60


def test_splits_follow_the_benchmarks():
    dirs = [
        "S001C001P001R001A001",
        "S001C002P003R001A001",
        "S002C003P038R001A001",
        "S017C001P040R002A060",
        "S032C001P103R001A120",
        "S031C001P104R001A120",
    ]
    s60 = ntu_splits(dirs[:4], "ntu60")
    assert s60["xsub_train"] == [dirs[0], dirs[2]] and s60["xsub_val"] == [dirs[1], dirs[3]]
    assert s60["xview_train"] == [dirs[1], dirs[2]] and s60["xview_val"] == [dirs[0], dirs[3]]
    s120 = ntu_splits(dirs, "ntu120")
    assert s120["xset_train"] == [dirs[2], dirs[4]]
    assert s120["xsub_train"] == [dirs[0], dirs[2], dirs[4]]
    assert parse_name("/x/S017C001P040R002A060.skeleton").label == 59
    with pytest.raises(ValueError, match="not an NTU sample name"):
        parse_name("video.avi")


def test_cli_writes_pickles(tmp_path, capsys):
    from pyskl.cli import main
    from pyskl.datasets.io import load_annotations

    raw = tmp_path / "raw"
    raw.mkdir()
    write_skeleton(raw / "S001C001P001R001A001.skeleton", compose(15, track("1", make_body(15))))
    (raw / "S001C001P002R001A002.skeleton").write_text("3\n")
    rc = main(["data", "ntu", str(raw), str(tmp_path / "out"), "--workers", "0", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 1 and "wrote" in captured.out and "failed" not in captured.out
    assert "1 file(s) failed" in captured.err and "S001C001P002R001A002.skeleton: truncated" in captured.err
    data = load_annotations(tmp_path / "out" / "ntu60_3danno.pkl")
    assert data["annotations"][0]["keypoint"].shape == (1, 15, 25, 3)
    assert not (tmp_path / "out" / "ntu120_3danno.pkl").exists()  # no action > 60: NTU-60 only
    with open(tmp_path / "out" / "ntu60_3danno.pkl", "rb") as f:
        assert set(pickle.load(f)["split"]) == {"xsub_train", "xsub_val", "xview_train", "xview_val"}
