"""Throughput of the ST-GCN++ 3D-joint data pipeline (train and 10-clip test), one process, one thread.

Pipeline (configs/stgcn++/stgcn++_ntu60_xsub_3dkp/j.py): PreNormalize3D, GenSkeFeat(j), UniformSample(100),
PoseDecode, FormatGCNInput(2), Collect, ToTensor on NTU-like float16 skeletons, T=300, M=2, V=25.

Baseline, measured in the same run: a straightforward per-frame / per-element implementation of the same
PYSKL semantics (written here, below), which is how PYSKL formulates these ops. PYSKL's own figures on
these machines (../shared/oracle/pipelines/README.md) are printed for orientation.

    python benchmarks/bench_pipeline.py [--samples 50] [--passes 5]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import copy
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pyskl.datasets.pipelines import Compose

PYSKL_FIGURES = {"train": (55.7, 66.7), "test": (52.6, 63.6)}  # samples/s, numpy 1.26 / numpy 2.4

TRAIN = [
    dict(type="PreNormalize3D"),
    dict(type="GenSkeFeat", dataset="nturgb+d", feats=["j"]),
    dict(type="UniformSample", clip_len=100),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="Collect", keys=["keypoint", "label"], meta_keys=[]),
    dict(type="ToTensor", keys=["keypoint"]),
]
TEST = [dict(op, num_clips=10) if op["type"] == "UniformSample" else op for op in TRAIN]


# ---------------------------------------------------------------------------- synthetic NTU-like data
def make_samples(n: int, frames: int = 300, seed: int = 0) -> list[dict]:
    """NTU-like float16 annotations: a second person in most samples, absent frames at the ends."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        base = rng.normal(0, 0.3, size=(1, 1, 25, 3)) + np.array([0.0, 0.2, 3.0])
        drift = np.cumsum(rng.normal(0, 0.01, size=(2, frames, 1, 3)), axis=1)
        kp = base + drift + rng.normal(0, 0.02, size=(2, frames, 25, 3))
        kp[1] += np.array([0.8, 0.0, 0.3])
        if i % 4 == 0:
            kp[1] = 0  # single person
        else:
            kp[1, : rng.integers(0, 40)] = 0
        kp[:, frames - rng.integers(0, 30) :] = 0  # trailing empty frames
        samples.append(
            dict(
                frame_dir=f"S{i:03d}",
                label=int(i % 60),
                keypoint=kp.astype(np.float16),
                total_frames=frames,
                modality="Pose",
                start_index=0,
            )
        )
    return samples


# ---------------------------------------------------------------------------- baseline (per-frame formulation)
def _ref_angle(v1, v2):
    if np.abs(v1).sum() < 1e-6 or np.abs(np.asarray(v2)).sum() < 1e-6:
        return 0
    u1 = v1 / np.linalg.norm(v1)
    u2 = np.asarray(v2) / np.linalg.norm(v2)
    return np.arccos(np.clip(np.dot(u1, u2), -1.0, 1.0))


def _ref_rotation(axis, theta):
    axis = np.asarray(axis)
    if np.abs(axis).sum() < 1e-6 or abs(theta) < 1e-6:
        return np.eye(3)
    axis = axis / math.sqrt(np.dot(axis, axis))
    a = math.cos(theta / 2.0)
    b, c, d = -axis * math.sin(theta / 2.0)
    return np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
            [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
            [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c],
        ]
    )


def ref_pre_normalize_3d(r: dict) -> dict:
    kp = r["keypoint"]
    if kp.sum() == 0:
        return r
    present = [
        [t for t in range(kp.shape[1]) if not np.all(np.isclose(kp[m, t], 0))] for m in range(kp.shape[0])
    ]
    if kp.shape[0] == 2 and len(present[0]) < len(present[1]):
        kp = kp[:, np.array(present[1])][[1, 0]]
    else:
        kp = kp[:, np.array(present[0])]
    center = kp[0, 0, 1].copy()
    mask = ((kp != 0).sum(-1) > 0)[..., None]
    kp = (kp - center) * mask
    for (j0, j1), target in (((0, 1), [0, 0, 1]), ((4, 8), [1, 0, 0])):
        v = kp[0, 0, j1] - kp[0, 0, j0]
        kp = np.einsum("abcd,kd->abck", kp, _ref_rotation(np.cross(v, target), _ref_angle(v, target)))
    r.update(keypoint=kp, total_frames=kp.shape[1], body_center=center)
    return r


def ref_gen_ske_feat_j(r: dict) -> dict:
    r["j"] = r.pop("keypoint")
    r["keypoint"] = np.concatenate([r.pop("j")], axis=-1)
    return r


def ref_uniform_sample(clip_len: int, num_clips: int):
    def op(r: dict) -> dict:
        total = r["total_frames"]
        test = r.get("test_mode", False)
        if test:
            np.random.seed(255)
        clips = []
        for i in range(num_clips):
            n = int((np.random.rand() * 0 + 1) * total)
            off = np.random.randint(total - n + 1)
            if n < clip_len:
                start = (i if n < num_clips else i * n // num_clips) if test else np.random.randint(0, n)
                inds = np.arange(start, start + clip_len)
            elif n < 2 * clip_len:
                step = np.zeros(clip_len + 1, dtype=np.int64)
                step[np.random.choice(clip_len + 1, n - clip_len, replace=False)] = 1
                inds = np.arange(clip_len) + np.cumsum(step)[:-1]
            else:
                bids = np.array([k * n // clip_len for k in range(clip_len + 1)])
                inds = bids[:-1] + np.random.randint(np.diff(bids))
            clips.append(inds + off)
        inds = np.mod(np.concatenate(clips), total) + r["start_index"]
        kp = r["keypoint"]
        # PYSKL also scans every frame for its person count (its "transitional frames" pass).
        persons = []
        for t in range(total):
            m = kp.shape[0] - 1
            while m >= 0 and np.all(np.abs(kp[m, t]) < 1e-5):
                m -= 1
            persons.append(m + 1)
        r.update(
            frame_inds=inds.astype(np.int64), clip_len=clip_len, frame_interval=None, num_clips=num_clips
        )
        return r

    return op


def ref_pose_decode(r: dict) -> dict:
    r["keypoint"] = r["keypoint"][:, r["frame_inds"]].astype(np.float32)
    return r


def ref_format_gcn_input(r: dict) -> dict:
    kp = r["keypoint"]
    if kp.shape[0] < 2:
        kp = np.concatenate([kp, np.zeros((2 - kp.shape[0],) + kp.shape[1:], dtype=kp.dtype)])
    kp = kp[:2]
    m, t, v, c = kp.shape
    nc = r.get("num_clips", 1)
    r["keypoint"] = np.ascontiguousarray(kp.reshape(m, nc, t // nc, v, c).transpose(1, 0, 2, 3, 4))
    return r


def ref_collect_to_tensor(r: dict) -> dict:
    return {"keypoint": torch.from_numpy(r["keypoint"]), "label": r["label"]}


def baseline(num_clips: int):
    ops = [
        ref_pre_normalize_3d,
        ref_gen_ske_feat_j,
        ref_uniform_sample(100, num_clips),
        ref_pose_decode,
        ref_format_gcn_input,
        ref_collect_to_tensor,
    ]

    def run(r: dict) -> dict:
        for op in ops:
            r = op(r)
        return r

    return run


# ---------------------------------------------------------------------------- timing
def throughput(pipeline, samples: list[dict], test_mode: bool, passes: int) -> tuple[float, float, list]:
    """Median samples/s over passes, by this process's CPU time and by wall time (deepcopy included,
    as PYSKL's dataset does per sample). CPU time stays meaningful on a shared, busy machine."""
    cpu_rates, wall_rates, outputs = [], [], []
    for _ in range(passes):
        np.random.seed(0)
        outputs = []
        cpu, wall = time.process_time(), time.perf_counter()
        for info in samples:
            results = copy.deepcopy(info)
            results["test_mode"] = test_mode
            outputs.append(pipeline(results))
        cpu_rates.append(len(samples) / (time.process_time() - cpu))
        wall_rates.append(len(samples) / (time.perf_counter() - wall))
    return statistics.median(cpu_rates), statistics.median(wall_rates), outputs


def op_breakdown(pipeline: Compose, samples: list[dict], test_mode: bool) -> str:
    """CPU ms per sample spent in each op of our pipeline (one pass)."""
    spent = [0.0] * len(pipeline)
    for info in samples:
        results = copy.deepcopy(info)
        results["test_mode"] = test_mode
        for i, op in enumerate(pipeline.transforms):
            start = time.process_time()
            results = op(results)
            spent[i] += time.process_time() - start
    return ", ".join(
        f"{type(op).__name__} {1e3 * t / len(samples):.3f}" for op, t in zip(pipeline.transforms, spent)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--breakdown", action="store_true", help="also print CPU ms/sample per op")
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = make_samples(args.samples)
    print(
        f"ST-GCN++ 3D joint pipeline, {args.samples} samples T=300 M=2 float16, one thread, "
        f"median of {args.passes} passes, samples/s by process CPU time (numpy {np.__version__})"
    )
    for name, ops, clips, test_mode in (("train", TRAIN, 1, False), ("test", TEST, 10, True)):
        ours, ours_wall, out_ours = throughput(Compose(ops), samples, test_mode, args.passes)
        base, base_wall, out_base = throughput(baseline(clips), samples, test_mode, args.passes)
        diff = max(
            float(np.abs(a["keypoint"].numpy() - b["keypoint"].numpy()).max())
            for a, b in zip(out_ours, out_base)
        )
        np1, np2 = PYSKL_FIGURES[name]
        print(
            f"{name:5s} ours {ours:7.1f} samples/s (wall {ours_wall:.1f}) | baseline, same run {base:5.1f} "
            f"(wall {base_wall:.1f}) -> {ours / base:4.1f}x | vs PYSKL's README figures {np1} (numpy 1.26) / "
            f"{np2} (numpy 2.4): {ours / np1:4.1f}x / {ours / np2:4.1f}x | max |ours - baseline| {diff:.1e}"
        )
        if args.breakdown:
            print(f"      ms/sample per op: {op_breakdown(Compose(ops), samples, test_mode)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
