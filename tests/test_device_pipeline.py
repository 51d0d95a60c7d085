"""The device pipeline (data.device_pipeline) against the numpy ops it replaces, on CPU tensors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine_tiny import write_tiny_config, write_tiny_data
from pyskl.config import ConfigError, load_config
from pyskl.datasets import build_dataset
from pyskl.datasets.device_pipeline import (DeviceSkeletonSet, _rot2d, _rot3d,
                                            build_device_train_data, draw_indices, linear_maps,
                                            plan_device_pipeline, sample_indices)
from pyskl.datasets.pipelines import Compose
from pyskl.datasets.pipelines.functional import (joint_to_bone, rot2d_matrix, rot3d_matrix,
                                                 sample_clip_indices, to_motion)

TAIL = [dict(type="PoseDecode"), dict(type="FormatGCNInput", num_person=2),
        dict(type="Collect", keys=["keypoint", "label"], meta_keys=[]), dict(type="ToTensor", keys=["keypoint"])]
STRONG_AUG = [dict(type="PreNormalize3D"), dict(type="RandomScale", scale=0.1), dict(type="RandomRot"),
              dict(type="GenSkeFeat", dataset="nturgb+d", feats=["j", "b", "jm"]),
              dict(type="UniformSample", clip_len=8)] + TAIL


class ReplayRNG:
    """A numpy-RNG stand-in returning the device path's uniforms, mapped the way ``sample_indices`` maps them."""

    def __init__(self, draws: dict[str, np.ndarray]) -> None:
        self.d = draws
        self.ints = iter([draws["offset"]])

    def rand(self) -> float:
        return float(self.d["ratio"])

    def randint(self, low, high=None):
        if high is not None:  # randint(0, n): the short clip's start
            return int(np.floor(self.d["start"] * high))
        if np.ndim(low):  # randint(segment sizes)
            return np.floor(self.d["segment"] * low).astype(np.int64)
        return int(np.floor(next(self.ints) * low))  # the kept interval's offset

    def choice(self, n, k, replace=False):
        return np.argsort(self.d["choice"], kind="stable")[:k]


@pytest.mark.parametrize("clip_len", [5, 16])
@pytest.mark.parametrize("p_interval", [(1.0, 1.0), (0.5, 1.0), (0.1, 0.9)])
@pytest.mark.parametrize("loop_short", [False, True])
def test_indices_equal_numpy_from_the_same_draws(clip_len, p_interval, loop_short):
    # lengths from 1 frame (short clips) through [clip_len, 2 clip_len) (repeats) to long (segments)
    lengths = torch.tensor([1, 2, 3, 4, 7, 12, 16, 17, 20, 31, 32, 33, 50, 100, 300] * 4)
    draws = draw_indices(lengths, clip_len, torch.Generator().manual_seed(clip_len))
    got = sample_indices(lengths, clip_len, p_interval, draws, loop_short).numpy()
    for row, total in enumerate(lengths.tolist()):
        assert got[row].min() >= 0 and got[row].max() < total
        ratio = float(draws["ratio"][row]) * (p_interval[1] - p_interval[0]) + p_interval[0]
        if int(ratio * total) == 0:
            continue  # numpy's randint(0, 0) raises; the device path keeps 1 frame (checked in range above)
        rng = ReplayRNG({k: v[row].numpy() for k, v in draws.items()})
        want = sample_clip_indices(total, clip_len, p_interval, rng, loop_short=loop_short)
        want = want if loop_short else np.mod(want, total)
        np.testing.assert_array_equal(got[row], want, err_msg=f"T={total}")


def test_index_statistics_match_numpy_draws():
    # Same op drawn by numpy's global RNG and by torch: the per-position mean index of 4000 clips of a
    # 50-frame video agree within 5 standard errors (the per-position std is below 8 frames).
    total, clip_len, n = 50, 16, 4000
    np.random.seed(0)
    ref = np.stack([np.mod(sample_clip_indices(total, clip_len, (0.5, 1.0), np.random), total) for _ in range(n)])
    lengths = torch.full((n,), total)
    draws = draw_indices(lengths, clip_len, torch.Generator().manual_seed(0))
    got = sample_indices(lengths, clip_len, (0.5, 1.0), draws).numpy()
    stderr = np.sqrt(ref.var(axis=0) / n + got.var(axis=0) / n)
    assert np.all(np.abs(ref.mean(axis=0) - got.mean(axis=0)) < 5 * stderr + 1e-9)
    assert np.allclose(ref.std(axis=0), got.std(axis=0), rtol=0.1, atol=0.05)


def test_rotation_matrices_equal_numpy():
    theta = torch.rand(20, 3, dtype=torch.float64) - 0.5
    for row, angles in enumerate(theta.numpy()):
        np.testing.assert_allclose(_rot3d(theta)[row].numpy(), rot3d_matrix(angles), rtol=0, atol=1e-15)
        np.testing.assert_allclose(_rot2d(theta[:, 0])[row].numpy(), rot2d_matrix(angles[0]), rtol=0, atol=1e-15)


def test_linear_maps_commute_with_features():
    # Scaling/rotating the joints and then taking bone and motion features equals mapping each feature group.
    rng = np.random.RandomState(0)
    kp = rng.randn(2, 10, 25, 3)
    from pyskl.utils.layouts import get_layout

    pairs = get_layout("nturgb+d").bone_pairs
    plan = plan_device_pipeline(Compose(STRONG_AUG))
    maps = linear_maps(plan, 9, 1, torch.device("cpu"), torch.Generator().manual_seed(3))[0].numpy()
    block = maps[:3, :3]
    assert np.allclose(maps[3:6, 3:6], block) and np.allclose(maps[:3, 3:], 0)
    moved = kp @ block.T
    want = np.concatenate([moved, joint_to_bone(moved, pairs).astype(np.float64), to_motion(moved)], -1)
    feats = np.concatenate([kp, joint_to_bone(kp, pairs).astype(np.float64), to_motion(kp)], -1)
    np.testing.assert_allclose(feats @ maps.T, want, rtol=1e-5, atol=1e-5)  # bones were float32


def test_linear_map_statistics():
    # RandomScale(0.1) then RandomRot(0.3): the determinant is the product of the three scale factors
    # (each 1 + U(-0.1, 0.1), mean 1, std 0.1/sqrt(3)); the rotation is orthonormal.
    plan = plan_device_pipeline(Compose(STRONG_AUG))
    maps = linear_maps(plan, 9, 4000, torch.device("cpu"), torch.Generator().manual_seed(1))[:, :3, :3]
    det = torch.linalg.det(maps)
    assert abs(float(det.mean()) - 1) < 5 * 0.1 * np.sqrt(3 / 3) / np.sqrt(4000)
    assert 0.7 < float(det.min()) and float(det.max()) < 1.34


@pytest.fixture(scope="module")
def tiny_ann(tmp_path_factory):
    return write_tiny_data(tmp_path_factory.mktemp("dp") / "tiny.pkl", samples_per_class=4)


def _dataset(ann, pipeline, times=1):
    inner = dict(type="PoseDataset", ann_file=str(ann), pipeline=pipeline)
    return build_dataset(dict(type="RepeatDataset", times=times, dataset=inner) if times > 1 else inner)


@pytest.mark.parametrize("storage,tol", [(torch.float32, 1e-5), (torch.float16, 2e-3)])
def test_clips_equal_the_numpy_pipeline_from_the_same_draws(tiny_ann, storage, tol):
    check_clips_against_numpy(tiny_ann, storage, tol, torch.device("cpu"))


def check_clips_against_numpy(tiny_ann, storage: torch.dtype, tol: float, device: torch.device) -> None:
    """Device clips vs the numpy ops fed the same uniforms and matrices (tol: relative to the largest value)."""
    ds = _dataset(tiny_ann, STRONG_AUG)
    plan = plan_device_pipeline(ds.pipeline)
    data = DeviceSkeletonSet.from_dataset(ds, plan, device, storage)
    index = torch.arange(len(ds), device=device)
    clips = data.clips(index, plan, torch.Generator(device=device).manual_seed(7)).cpu()
    replay = torch.Generator(device=device).manual_seed(7)  # the same stream, consumed in clips()'s order
    draws = {k: v.cpu() for k, v in draw_indices(data.lengths[index], plan.clip_len, replay).items()}
    maps = linear_maps(plan, 9, len(index), device, replay).cpu().numpy()
    prefix = Compose([dict(type="PreNormalize3D"), dict(type="GenSkeFeat", dataset="nturgb+d",
                                                        feats=["j", "b", "jm"])])
    for i in range(len(ds)):
        results = prefix(dict(ds.video_infos[i], modality="Pose", start_index=0, test_mode=False))
        kp = results["keypoint"]
        rng = ReplayRNG({k: v[i].numpy() for k, v in draws.items()})
        inds = np.mod(sample_clip_indices(kp.shape[1], plan.clip_len, plan.p_interval, rng), kp.shape[1])
        want = np.zeros((2, plan.clip_len, 25, 9))
        want[:kp.shape[0]] = kp[:2, inds] @ maps[i].T
        scale = np.abs(want).max()
        np.testing.assert_allclose(clips[i, 0].numpy(), want, rtol=0, atol=tol * scale)
    assert clips.shape == (len(ds), 1, 2, 8, 25, 9) and clips.dtype == torch.float32


def test_batches_follow_the_numpy_loaders_order(tiny_ann):
    from pyskl.engine.data import build_train_loader
    from pyskl.engine.dist import DistEnv

    ds = _dataset(tiny_ann, STRONG_AUG, times=3)
    device_data = build_device_train_data(ds, {}, 5, torch.device("cpu"), 0, 1, seed=11)
    loader = build_train_loader(ds, {"videos_per_gpu": 5, "workers_per_gpu": 0}, DistEnv(), 11)
    for epoch in (0, 1):
        device_data.sampler.set_epoch(epoch)
        loader.sampler.set_epoch(epoch)
        want = torch.cat([torch.as_tensor(b["label"]).reshape(-1) for b in loader])
        batches = list(device_data)
        assert len(batches) == len(loader) == len(device_data)
        assert torch.equal(torch.cat([b["label"] for b in batches]), want)
    again = list(device_data)  # same epoch, same draws
    assert torch.equal(again[0]["keypoint"], batches[0]["keypoint"])


@pytest.mark.parametrize("pipeline,message", [
    ([dict(type="PreNormalize3D"), dict(type="RandomGaussianNoise"), dict(type="UniformSample", clip_len=8)] + TAIL,
     "RandomGaussianNoise has no device form"),
    ([dict(type="RandomRot"), dict(type="PreNormalize3D"), dict(type="UniformSample", clip_len=8)] + TAIL,
     "PreNormalize3D comes after a random or sampling op"),
    ([dict(type="PreNormalize3D"), dict(type="UniformSample", clip_len=8), dict(type="RandomRot")] + TAIL,
     "RandomRot comes after the sampling op"),
    ([dict(type="PreNormalize3D"), dict(type="UniformSample", clip_len=8), dict(type="PoseDecode"),
      dict(type="FormatGCNInput"), dict(type="Collect", keys=["keypoint", "label", "frame_dir"], meta_keys=[])],
     "Collect collects keys="),
    ([dict(type="PreNormalize2D"), dict(type="RandomRot"), dict(type="GenSkeFeat", dataset="coco"),
      dict(type="UniformSample", clip_len=8)] + TAIL, "score channel is not a coordinate"),
    ([dict(type="PreNormalize3D"), dict(type="GenSkeFeat")] + TAIL[2:], "Collect must follow FormatGCNInput"),
    ([dict(type="PreNormalize3D"), dict(type="GenSkeFeat")], "does not end with a sampling op"),
])
def test_refuses_what_it_cannot_run(pipeline, message):
    with pytest.raises(ConfigError, match="data.device_pipeline") as err:
        plan_device_pipeline(Compose(pipeline))
    assert message in str(err.value)


def test_plans_every_gcn_train_pipeline_of_the_3d_configs():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    paths = sorted(root.glob("*/*3dkp*/*.py"))
    assert len(paths) > 50
    for path in paths:
        cfg = load_config(str(path))
        plan = plan_device_pipeline(Compose(cfg["train_pipeline"]))
        assert plan.clip_len in (100, 300) and plan.num_person == 2, path


@pytest.mark.slow
def test_train_runs_on_the_device_pipeline(tmp_path, tiny_ann):
    from pyskl.engine import TrainOptions, train

    cfg_path = write_tiny_config(tmp_path, tiny_ann, epochs=2)
    cfg = load_config(str(cfg_path), ["data.device_pipeline={'storage': 'float16'}"])
    results = train(cfg, TrainOptions(work_dir=str(tmp_path / "work"), seed=0, validate=True,
                                      config_path=str(cfg_path)))
    assert set(results["val"]) >= {"top1_acc"}
    import json

    lines = [json.loads(x) for x in (tmp_path / "work" / "log.jsonl").read_text().splitlines()]
    train_lines = [x for x in lines if x["mode"] == "train"]
    assert train_lines and all(np.isfinite(x["loss"]) for x in train_lines)
