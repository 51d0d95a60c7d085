"""Packed memory-mapped format: pickle -> pack -> the same samples, lazily."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pyskl.datasets.packed import PackedFormatError, is_packed, open_packed, write_packed


def _assert_same(a, b, where=""):
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b, (where, a, b)


def _annotations(num=12, seed=0):
    rng = np.random.default_rng(seed)
    anns = []
    for i in range(num):
        m, t = int(rng.integers(1, 3)), int(rng.integers(5, 40))
        ann = dict(
            frame_dir=f"S001C00{i % 3 + 1}P00{i}R001A0{i:02d}",
            label=int(rng.integers(0, 60)),
            total_frames=t,
            keypoint=rng.normal(size=(m, t, 25, 3)).astype(np.float16),
        )
        if i % 2:
            ann = dict(
                frame_dir=ann["frame_dir"],
                label=np.int64(ann["label"]),
                img_shape=(1080, 1920),
                original_shape=(1080, 1920),
                total_frames=t,
                keypoint=rng.normal(size=(m, t, 17, 2)).astype(np.float32),
                keypoint_score=rng.random((m, t, 17)).astype(np.float32),
            )
        if i == 3:
            ann["valid"] = {0.5: 7, 0.6: 3}
            ann["box_score"] = rng.random(9).astype(np.float32)
            ann["note"] = [None, 1.5, float("inf"), "x", (1, [2, 3])]
            ann["scale"] = np.float16(0.333)
        anns.append(ann)
    return anns


def test_round_trip_equal_samples(tmp_path):
    anns = _annotations()
    split = {"xsub_train": [a["frame_dir"] for a in anns[:8]], "xsub_val": [a["frame_dir"] for a in anns[8:]]}
    out = write_packed({"split": split, "annotations": anns}, tmp_path / "packed")
    assert is_packed(out)
    got_split, packed = open_packed(out)
    assert got_split == split and len(packed) == len(anns)
    for i, ann in enumerate(anns):
        _assert_same(packed[i], ann, f"sample {i}")
    _assert_same(packed[-1], anns[-1])
    assert [s["frame_dir"] for s in packed[2:5]] == [a["frame_dir"] for a in anns[2:5]]
    assert packed.column("label") == [a["label"] for a in anns]
    with pytest.raises(IndexError):
        packed[len(anns)]


def test_arrays_are_writable_copies_and_files_untouched(tmp_path):
    anns = _annotations(3)
    _, packed = open_packed(write_packed(anns, tmp_path / "p"))
    sample = packed[0]
    sample["keypoint"][...] = 0
    assert not isinstance(sample["keypoint"], np.memmap)
    np.testing.assert_array_equal(packed[0]["keypoint"], anns[0]["keypoint"])


def test_pickles_as_path_for_workers(tmp_path):
    anns = _annotations(4)
    _, packed = open_packed(write_packed(anns, tmp_path / "p"))
    blob = pickle.dumps(packed)
    assert len(blob) < 500
    _assert_same(pickle.loads(blob)[2], anns[2])


def test_overwrite_and_errors(tmp_path):
    anns = _annotations(2)
    out = write_packed(anns, tmp_path / "p")
    with pytest.raises(FileExistsError):
        write_packed(anns, out)
    write_packed(anns[:1], out, overwrite=True)
    assert len(open_packed(out)[1]) == 1
    bad = [dict(frame_dir="a", label=0, thing=object())]
    with pytest.raises(PackedFormatError, match="sample 'a' \\(index 0\\) field 'thing'"):
        write_packed(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")]
    with pytest.raises(PackedFormatError, match="not a packed annotation directory"):
        open_packed(tmp_path)


def test_pose_dataset_reads_packed_like_pickle(tmp_path):
    pose_dataset = pytest.importorskip("pyskl.datasets.pose_dataset")
    io = pytest.importorskip("pyskl.datasets.io")
    anns = _annotations(6)
    split = {"train": [a["frame_dir"] for a in anns[:4]]}
    pkl = tmp_path / "a.pkl"
    io.save_annotations({"split": split, "annotations": anns}, pkl)
    packed = write_packed({"split": split, "annotations": anns}, tmp_path / "a_packed")
    pipeline = [lambda r: r]
    from_pkl = pose_dataset.PoseDataset(ann_file=str(pkl), pipeline=pipeline, split="train")
    from_packed = pose_dataset.PoseDataset(ann_file=str(packed), pipeline=pipeline, split="train")
    assert len(from_pkl) == len(from_packed) == 4
    for i in range(4):
        _assert_same(from_packed[i], from_pkl[i], f"item {i}")


def test_real_gcn_pipeline_same_outputs(tmp_path):
    pose_dataset = pytest.importorskip("pyskl.datasets.pose_dataset")
    io = pytest.importorskip("pyskl.datasets.io")
    import random

    import torch

    anns = [a for a in _annotations(10, seed=3) if a["keypoint"].shape[2] == 25]
    split = {"xsub_train": [a["frame_dir"] for a in anns]}
    pkl = io.save_annotations({"split": split, "annotations": anns}, tmp_path / "ntu.pkl")
    packed = write_packed({"split": split, "annotations": anns}, tmp_path / "ntu_packed")
    pipeline = [
        dict(type="PreNormalize3D"),
        dict(type="GenSkeFeat", dataset="nturgb+d", feats=["j", "b"]),
        dict(type="UniformSample", clip_len=16),
        dict(type="PoseDecode"),
        dict(type="FormatGCNInput", num_person=2),
        dict(type="Collect", keys=["keypoint", "label"], meta_keys=[]),
        dict(type="ToTensor", keys=["keypoint"]),
    ]
    datasets = [
        pose_dataset.PoseDataset(ann_file=str(p), pipeline=pipeline, split="xsub_train")
        for p in (pkl, packed)
    ]
    for i in range(len(anns)):
        outs = []
        for ds in datasets:
            np.random.seed(i)
            random.seed(i)
            outs.append(ds[i])
        assert torch.equal(outs[0]["keypoint"], outs[1]["keypoint"]) and outs[0]["label"] == outs[1]["label"]


def test_cli_pack(tmp_path, capsys):
    from pyskl.cli import main
    from pyskl.datasets.io import save_annotations

    anns = _annotations(5)
    save_annotations(
        {"split": {"all": [a["frame_dir"] for a in anns]}, "annotations": anns}, tmp_path / "a.pkl"
    )
    assert main(["data", "pack", str(tmp_path / "a.pkl"), str(tmp_path / "a_packed")]) == 0
    assert "packed 5 samples" in capsys.readouterr().out
    _assert_same(open_packed(tmp_path / "a_packed")[1][4], anns[4])
    assert main(["data", "pack", str(tmp_path / "a.pkl"), str(tmp_path / "a_packed")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["data", "pack", str(tmp_path / "a.pkl"), str(tmp_path / "a_packed"), "--overwrite"]) == 0


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dataset.py"
    cmd = [
        sys.executable,
        str(script),
        "--sizes",
        "40",
        "--workers",
        "1",
        "--repeats",
        "1",
        "--workdir",
        str(tmp_path),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    assert "40  pickle" in out and "40  packed" in out and "open speed-up" in out
