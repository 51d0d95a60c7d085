"""Synthetic skeleton actions: format, determinism, splits, geometry, and that temporal order matters."""
from __future__ import annotations

import re

import numpy as np
import pytest

from pyskl.cli import main
from pyskl.datasets import (SYNTHETIC_CLASSES, PoseDataset, load_annotations, make_synthetic, validate_annotations,
                            write_synthetic)
from pyskl.datasets.synthetic import TEMPORAL_PAIRS

NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


@pytest.fixture(scope="module")
def ntu():
    return make_synthetic("ntu3d", num_classes=10, samples_per_class=40, seed=0)


@pytest.fixture(scope="module")
def coco():
    return make_synthetic("coco2d", num_classes=10, samples_per_class=40, seed=0)


def test_format_is_pyskl_and_valid(ntu, coco):
    validate_annotations(ntu, "ntu3d", split="xsub_train", num_classes=10)
    validate_annotations(coco, "coco2d", split="xview_val", num_classes=10)
    assert set(ntu["split"]) == {"xsub_train", "xsub_val", "xview_train", "xview_val"}
    assert len(ntu["annotations"]) == 400
    assert np.bincount([a["label"] for a in ntu["annotations"]]).tolist() == [40] * 10
    persons = set()
    for a, b in zip(ntu["annotations"], coco["annotations"]):
        assert set(a) == {"frame_dir", "label", "total_frames", "keypoint"}
        kp = a["keypoint"]
        assert kp.dtype == np.float16 and kp.shape[2:] == (25, 3) and 40 <= kp.shape[1] <= 120
        assert isinstance(a["label"], int) and isinstance(a["total_frames"], int)
        persons.add(kp.shape[0])
        # same motion for both kinds: same name, label, length and number of persons
        assert (b["frame_dir"], b["label"], b["total_frames"]) == (a["frame_dir"], a["label"], a["total_frames"])
        assert b["keypoint"].shape == kp.shape[:2] + (17, 2) and b["keypoint"].dtype == np.float32
        assert b["keypoint_score"].shape == kp.shape[:2] + (17,) and b["keypoint_score"].dtype == np.float32
        assert b["img_shape"] == (1080, 1920) == b["original_shape"]
        assert 0 <= b["keypoint_score"].min() and b["keypoint_score"].max() <= 1
        assert 0 <= b["keypoint"][..., 0].min() and b["keypoint"][..., 0].max() < 1920
        # the actor is person 0 and never has fewer visible frames (PreNormalize3D's swap rule keeps it first)
        visible = np.abs(kp.astype(np.float32)).sum(axis=(2, 3)) > 0
        assert visible[0].sum() >= visible[1:].sum(axis=1).max(initial=0)
    assert persons == {1, 2}


def test_deterministic_from_seed():
    a = make_synthetic("ntu3d", num_classes=3, samples_per_class=4, seed=7)
    b = make_synthetic("ntu3d", num_classes=3, samples_per_class=4, seed=7)
    c = make_synthetic("ntu3d", num_classes=3, samples_per_class=4, seed=8)
    assert a["split"] == b["split"]
    for x, y, z in zip(a["annotations"], b["annotations"], c["annotations"]):
        assert x["frame_dir"] == y["frame_dir"] and np.array_equal(x["keypoint"], y["keypoint"])
        assert x["keypoint"].shape != z["keypoint"].shape or not np.array_equal(x["keypoint"], z["keypoint"])
    # a sample does not depend on how many samples are generated after it
    more = make_synthetic("ntu3d", num_classes=3, samples_per_class=6, seed=7)
    assert np.array_equal(more["annotations"][0]["keypoint"], a["annotations"][0]["keypoint"])
    state = np.random.get_state()[1].copy()
    make_synthetic("coco2d", num_classes=2, samples_per_class=2, seed=1)
    assert np.array_equal(np.random.get_state()[1], state)  # the global RNG is untouched


def test_splits_by_subject_and_camera(ntu):
    names = [a["frame_dir"] for a in ntu["annotations"]]
    assert len(set(names)) == len(names)
    split = ntu["split"]
    for prefix, group in (("xsub", 2), ("xview", 1)):
        train, val = set(split[f"{prefix}_train"]), set(split[f"{prefix}_val"])
        assert train.isdisjoint(val) and train | val == set(names) and train and val
        train_ids = {int(NAME.match(n).group(group + 1)) for n in train}
        val_ids = {int(NAME.match(n).group(group + 1)) for n in val}
        assert train_ids.isdisjoint(val_ids)
    assert {int(NAME.match(n).group(2)) for n in split["xview_val"]} == {1}
    assert {int(NAME.match(n).group(3)) for n in split["xsub_val"]} == {3, 6, 9}


def test_kinect_like_geometry(ntu, coco):
    kp3 = np.concatenate([a["keypoint"][0].astype(np.float32) for a in ntu["annotations"]])
    kp3 = kp3[np.abs(kp3).sum(axis=(1, 2)) > 0]
    assert 2.2 < np.median(kp3[:, 0, 2]) < 3.8  # depth ~3 m
    assert (kp3[:, 3, 1] > kp3[:, 14, 1]).mean() > 0.99  # head above left ankle: y is up
    assert (kp3[:, 8, 0] > kp3[:, 4, 0]).mean() > 0.97  # facing the camera: right shoulder at +x
    bone = np.linalg.norm(kp3[:, 9] - kp3[:, 8], axis=-1)  # right upper arm
    assert 0.18 < np.median(bone) < 0.4
    kp2 = np.concatenate([a["keypoint"][0] for a in coco["annotations"]])
    kp2 = kp2[np.abs(kp2).sum(axis=(1, 2)) > 0]
    assert (kp2[:, 5, 0] > kp2[:, 6, 0]).mean() > 0.97  # left shoulder appears on the image's right
    assert (kp2[:, 0, 1] < kp2[:, 15, 1]).mean() > 0.99  # nose above ankles in pixel rows


def _body_frame(kp: np.ndarray) -> np.ndarray:
    """Actor's visible frames in a body frame fixed by the sequence's mean pose (order-agnostic)."""
    kp = kp[0].astype(np.float64)
    kp = kp[np.abs(kp).sum(axis=(1, 2)) > 0]
    mean = kp.mean(axis=0)
    x, up = mean[16] - mean[12], mean[20] - mean[0]
    x = x - up * (x @ up) / (up @ up)
    x, up = x / np.linalg.norm(x), up / np.linalg.norm(up)
    return (kp - mean[0]) @ np.stack([x, up, np.cross(x, up)]).T


def _features(annotations, bins: int = 20):
    temporal, orderless = [], []
    for a in annotations:
        kp = _body_frame(a["keypoint"])
        which = np.minimum(np.arange(len(kp)) * bins // len(kp), bins - 1)
        sums = np.zeros((bins,) + kp.shape[1:])
        np.add.at(sums, which, kp)
        temporal.append((sums / np.maximum(np.bincount(which, minlength=bins), 1)[:, None, None]).ravel())
        quantiles = np.quantile(kp, [0.1, 0.25, 0.5, 0.75, 0.9], axis=0)
        orderless.append(np.concatenate([kp.mean(0).ravel(), kp.std(0).ravel(), quantiles.ravel()]))
    return np.array(temporal), np.array(orderless)


def _nearest_centroid(feats, labels, train, num_classes):
    mu, sd = feats[train].mean(0), feats[train].std(0) + 1e-6
    feats = (feats - mu) / sd
    centroids = np.stack([feats[train & (labels == k)].mean(0) for k in range(num_classes)])
    dist = ((feats[~train][:, None] - centroids[None]) ** 2).sum(-1)
    truth = labels[~train]
    pair_acc = []
    for a, b in TEMPORAL_PAIRS:
        mask = np.isin(truth, [a, b])
        pick = np.where(dist[mask, a] < dist[mask, b], a, b)
        pair_acc.append(float((pick == truth[mask]).mean()))
    return float((dist.argmin(1) == truth).mean()), pair_acc


def test_temporal_order_is_needed(ntu):
    """Classes are separable from the pose sequence, but the order pairs defeat order-agnostic features."""
    annotations = ntu["annotations"]
    labels = np.array([a["label"] for a in annotations])
    train = np.isin([a["frame_dir"] for a in annotations], ntu["split"]["xsub_train"])
    temporal, orderless = _features(annotations)
    acc_t, pairs_t = _nearest_centroid(temporal, labels, train, 10)
    acc_o, pairs_o = _nearest_centroid(orderless, labels, train, 10)
    # measured (seed 0): temporal 0.99 overall, pairs [1.0, 1.0, 0.96]; orderless 0.71, pairs [0.62, 0.5, 0.42]
    assert acc_t >= 0.9 and min(pairs_t) >= 0.85
    assert max(pairs_o) <= 0.75  # left/right order, sit/stand, slow/fast clapping: near chance (0.5)
    assert acc_t - acc_o >= 0.15


@pytest.mark.parametrize("kind", ["ntu3d", "coco2d"])
def test_gcn_pipeline_runs_on_synthetic(tmp_path, kind):
    path = write_synthetic(tmp_path / f"{kind}.pkl", kind=kind, num_classes=4, samples_per_class=3, seed=3)
    layout, joints = ("nturgb+d", 25) if kind == "ntu3d" else ("coco", 17)
    pipeline = [dict(type="PreNormalize3D" if kind == "ntu3d" else "PreNormalize2D"),
                dict(type="GenSkeFeat", dataset=layout, feats=["j"]),
                dict(type="UniformSample", clip_len=32, num_clips=2), dict(type="PoseDecode"),
                dict(type="FormatGCNInput", num_person=2),
                dict(type="Collect", keys=["keypoint", "label"], meta_keys=[]),
                dict(type="ToTensor", keys=["keypoint"])]
    dataset = PoseDataset(path, pipeline, split="xsub_train", test_mode=True)
    for i in range(len(dataset)):
        out = dataset[i]
        assert tuple(out["keypoint"].shape) == (2, 2, 32, joints, 3) and bool(out["keypoint"].isfinite().all())
        if kind == "coco2d":  # normalised to [-1, 1] by the 1080x1920 img_shape
            assert float(out["keypoint"][..., :2].abs().max()) <= 1.0


def test_cli_writes_a_loadable_file(tmp_path, capsys):
    out = tmp_path / "synth.pkl"
    assert main(["data", "synth", "--out", str(out), "--kind", "coco2d", "--samples-per-class", "2",
                 "--frames", "20", "30", "--num-classes", "13", "--seed", "4"]) == 0
    data = load_annotations(out, split="xsub_train", num_classes=len(SYNTHETIC_CLASSES))
    assert len(data["annotations"]) == 26
    assert all(20 <= a["total_frames"] <= 30 for a in data["annotations"])
    assert "wrote" in capsys.readouterr().out
    assert main(["data", "synth", "--out", str(tmp_path / "x.pkl"), "--num-classes", "99"]) == 2
    assert not (tmp_path / "x.pkl").exists()


def test_small_and_extreme_settings():
    data = make_synthetic("coco2d", num_classes=13, num_subjects=2, samples_per_class=4, frames=(8, 8),
                          second_person=1.0)
    validate_annotations(data, "tiny", split="xsub_val", num_classes=13)
    assert data["split"]["xsub_val"] and all("P002" in n for n in data["split"]["xsub_val"])
    for a in data["annotations"]:
        assert a["keypoint"].shape[:2] == (2, 8)
        assert (a["keypoint_score"][0].sum(axis=1) > 0).sum() >= 5  # dropped frames stay a minority


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        make_synthetic("ntu2d")
    with pytest.raises(ValueError, match="frames"):
        make_synthetic(frames=(30, 10))
