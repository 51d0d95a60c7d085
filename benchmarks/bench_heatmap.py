"""Throughput of the PoseC3D heatmap pipelines (train and 10-clip double test), one process, one thread.

Pipelines (configs/posec3d/slowonly_r50_ntu60_xsub/joint.py): train = UniformSampleFrames(48), PoseDecode,
PoseCompact, Resize(-1, 64), RandomResizedCrop, Resize(56, 56), Flip, GeneratePoseTarget, FormatShape,
Collect, ToTensor -> [1, 17, 48, 56, 56]; test = 10 clips, Resize(64, 64), GeneratePoseTarget(double=True)
-> [20, 17, 48, 64, 64]. Input: HRNet-like COCO-17 2D skeletons, T=300, M=2, 1080x1920.

Baseline, measured in the same run: the same pipelines with ``LoopGeneratePoseTarget`` below, a
straightforward per-frame / per-joint / per-person implementation of PYSKL's GeneratePoseTarget
semantics (how PYSKL formulates it; the heatmap is ~99% of PYSKL's time). PYSKL's own figures on these
machines (../shared/oracle/pipelines/README.md) are printed for orientation.

    python benchmarks/bench_heatmap.py [--samples 20] [--passes 3] [--cpu-time] [--breakdown] [--torch]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pyskl.datasets.pipelines import Compose  # noqa: E402
from pyskl.datasets.pipelines.heatmap import GeneratePoseTarget  # noqa: E402
from pyskl.registry import TRANSFORMS  # noqa: E402

PYSKL_FIGURES = {"train": (38.1, 47.0), "test": (1.62, 2.83)}  # samples/s, numpy 1.26 / numpy 2.4
LEFT_KP = [1, 3, 5, 7, 9, 11, 13, 15]
RIGHT_KP = [2, 4, 6, 8, 10, 12, 14, 16]
TRAIN = [
    dict(type="UniformSampleFrames", clip_len=48),
    dict(type="PoseDecode"),
    dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=True),
    dict(type="Resize", scale=(-1, 64)),
    dict(type="RandomResizedCrop", area_range=(0.56, 1.0)),
    dict(type="Resize", scale=(56, 56), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5, left_kp=LEFT_KP, right_kp=RIGHT_KP),
    dict(type="GeneratePoseTarget", with_kp=True, with_limb=False),
    dict(type="FormatShape", input_format="NCTHW_Heatmap"),
    dict(type="Collect", keys=["imgs", "label"], meta_keys=[]),
    dict(type="ToTensor", keys=["imgs", "label"]),
]
TEST = [
    dict(type="UniformSampleFrames", clip_len=48, num_clips=10),
    dict(type="PoseDecode"),
    dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=True),
    dict(type="Resize", scale=(64, 64), keep_ratio=False),
    dict(type="GeneratePoseTarget", with_kp=True, with_limb=False, double=True,
         left_kp=LEFT_KP, right_kp=RIGHT_KP),
    dict(type="FormatShape", input_format="NCTHW_Heatmap"),
    dict(type="Collect", keys=["imgs", "label"], meta_keys=[]),
    dict(type="ToTensor", keys=["imgs"]),
]


# ---------------------------------------------------------------------------- baseline: PYSKL-style loops
def _loop_point(arr: np.ndarray, mu, value, sigma: float, eps: float) -> None:
    """One Gaussian window, as PYSKL draws it (float32 patch, max-merged)."""
    if value < eps:
        return
    img_h, img_w = arr.shape
    st_x, ed_x = max(int(mu[0] - 3 * sigma), 0), min(int(mu[0] + 3 * sigma) + 1, img_w)
    st_y, ed_y = max(int(mu[1] - 3 * sigma), 0), min(int(mu[1] + 3 * sigma) + 1, img_h)
    xs = np.arange(st_x, ed_x, 1, np.float32)
    ys = np.arange(st_y, ed_y, 1, np.float32)[:, None]
    if not (xs.size and ys.size):
        return
    mu32 = np.asarray(mu[:2], dtype=np.float32)
    patch = np.exp(-((xs - mu32[0]) ** 2 + (ys - mu32[1]) ** 2) / 2 / sigma ** 2) * np.float32(value)
    arr[st_y:ed_y, st_x:ed_x] = np.maximum(arr[st_y:ed_y, st_x:ed_x], patch)


def _loop_limb(arr: np.ndarray, a, b, va, vb, sigma: float, eps: float) -> None:
    """One limb: Gaussian of the distance to segment ab over its bounding window, as PYSKL."""
    value = min(va, vb)
    if value < eps:
        return
    img_h, img_w = arr.shape
    st_x, ed_x = max(int(min(a[0], b[0]) - 3 * sigma), 0), min(int(max(a[0], b[0]) + 3 * sigma) + 1, img_w)
    st_y, ed_y = max(int(min(a[1], b[1]) - 3 * sigma), 0), min(int(max(a[1], b[1]) + 3 * sigma) + 1, img_h)
    xs = np.arange(st_x, ed_x, 1, np.float32)
    ys = np.arange(st_y, ed_y, 1, np.float32)[:, None]
    if not (xs.size and ys.size):
        return
    d2_ab = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
    if d2_ab < 1:
        _loop_point(arr, a, va, sigma, eps)
        return
    a32, b32 = np.asarray(a[:2], np.float32), np.asarray(b[:2], np.float32)
    d2_a = (xs - a32[0]) ** 2 + (ys - a32[1]) ** 2
    d2_b = (xs - b32[0]) ** 2 + (ys - b32[1]) ** 2
    coeff = (d2_a - d2_b + np.float32(d2_ab)) / 2. / np.float32(d2_ab)
    a_t, b_t = np.asarray(a[:2]), np.asarray(b[:2])
    proj_x = a_t[0] + coeff.astype(a_t.dtype) * (b_t[0] - a_t[0])
    proj_y = a_t[1] + coeff.astype(a_t.dtype) * (b_t[1] - a_t[1])
    d2_line = (xs.astype(a_t.dtype) - proj_x) ** 2 + (ys.astype(a_t.dtype) - proj_y) ** 2
    d2 = np.where(coeff <= 0, d2_a, np.where(coeff >= 1, d2_b, d2_line)).astype(np.float64)
    patch = np.exp(-d2 / 2. / sigma ** 2) * np.float64(value)
    arr[st_y:ed_y, st_x:ed_x] = np.maximum(arr[st_y:ed_y, st_x:ed_x], patch)


class LoopGeneratePoseTarget(GeneratePoseTarget):
    """PYSKL's GeneratePoseTarget written the straightforward way: loops over frames, channels, persons."""

    def __call__(self, results: dict) -> dict:
        kps, scores, img_h, img_w = self._inputs(results)
        num_person, num_frame, num_joint = kps.shape[:3]
        channels = num_joint if self.with_kp else len(self.skeletons)
        heat = np.zeros((num_frame, channels, img_h, img_w), np.float32)
        for t in range(num_frame):
            for m in range(num_person):
                if self.with_kp:
                    for v in range(num_joint):
                        _loop_point(heat[t, v], kps[m, t, v], scores[m, t, v], self.sigma, self.eps)
                else:
                    for c, (i, j) in enumerate(self.skeletons):
                        _loop_limb(heat[t, c], kps[m, t, i], kps[m, t, j], scores[m, t, i], scores[m, t, j],
                                   self.sigma, self.eps)
        order = self.flip_order(channels)
        if order is not None:
            heat = np.concatenate([heat, heat[..., ::-1][:, order]])
        results["heatmap_imgs" if "imgs" in results else "imgs"] = heat
        return results


if "LoopGeneratePoseTarget" not in TRANSFORMS:
    TRANSFORMS.register()(LoopGeneratePoseTarget)


# ---------------------------------------------------------------------------- synthetic HRNet-like data
# a standing person in COCO-17 order (x right, y down, unit = half the body height)
COCO_TEMPLATE = np.array([
    [0.0, -0.85], [-0.05, -0.9], [0.05, -0.9], [-0.1, -0.87], [0.1, -0.87],  # nose, eyes, ears
    [-0.25, -0.6], [0.25, -0.6], [-0.35, -0.3], [0.35, -0.3], [-0.4, -0.02], [0.4, -0.02],  # arms
    [-0.15, 0.0], [0.15, 0.0], [-0.17, 0.45], [0.17, 0.45], [-0.18, 0.9], [0.18, 0.9]])  # legs


def make_samples(n: int, frames: int = 300, seed: int = 0) -> list[dict]:
    """HRNet-like COCO-17 annotations in a 1080x1920 frame: two people (one absent in a quarter of the
    samples), about 400 px tall, moving and gesturing, with per-joint jitter and confidences."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        kp = np.zeros((2, frames, 17, 2))
        score = np.zeros((2, frames, 17))
        for m in range(2):
            height = rng.uniform(150, 250)
            centre = np.array([700.0 + 500 * m, 540.0]) + rng.normal(0, 50, 2)
            path = np.cumsum(rng.normal(0, 2, size=(frames, 1, 2)), axis=0)
            phase = np.sin(np.linspace(0, rng.uniform(2, 12), frames))[:, None, None]
            pose = COCO_TEMPLATE + rng.normal(0, 0.05, size=(17, 2))
            wave = np.zeros((1, 17, 2))
            wave[0, [7, 8, 9, 10], 1] = -0.3
            kp[m] = centre + height * (pose + phase * wave) + path + rng.normal(0, 2, size=(frames, 17, 2))
            score[m] = rng.uniform(0.2, 1.0, size=(frames, 17))
        if i % 4 == 0:
            kp[1], score[1] = 0, 0
        samples.append(dict(frame_dir=f"S{i:03d}", label=int(i % 60), keypoint=kp.astype(np.float32),
                            keypoint_score=score.astype(np.float32), total_frames=frames,
                            img_shape=(1080, 1920), original_shape=(1080, 1920), modality="Pose",
                            start_index=0))
    return samples


def _with_generator(pipeline: list[dict], gen_type: str, **extra) -> list[dict]:
    return [dict(op, type=gen_type, **extra) if op["type"] == "GeneratePoseTarget" else op for op in pipeline]


CLOCK = time.perf_counter


def time_pipeline(ops: list[dict], samples: list[dict], test_mode: bool, passes: int) -> float:
    """Median samples/s over ``passes`` passes (PoseDataset-style deepcopy of each annotation included)."""
    pipeline = Compose(ops)
    pipeline(dict(copy.deepcopy(samples[0]), test_mode=test_mode))  # warm-up (first-call costs)
    rates = []
    for p in range(passes):
        np.random.seed(p)
        start = CLOCK()
        for sample in samples:
            results = copy.deepcopy(sample)
            results["test_mode"] = test_mode
            pipeline(results)
        rates.append(len(samples) / (CLOCK() - start))
    return statistics.median(rates)


def op_breakdown(ops: list[dict], samples: list[dict], test_mode: bool) -> dict[str, float]:
    """Mean ms per sample of each op (one pass), to show where the time goes."""
    pipeline = Compose(ops)
    spent = [0.0] * len(pipeline.transforms)
    np.random.seed(0)
    for sample in samples:
        results = copy.deepcopy(sample)
        results["test_mode"] = test_mode
        for i, op in enumerate(pipeline.transforms):
            start = CLOCK()
            results = op(results)
            spent[i] += CLOCK() - start
    names = [f"{i}:{type(op).__name__}" for i, op in enumerate(pipeline.transforms)]
    return {name: 1000 * t / len(samples) for name, t in zip(names, spent)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--baseline-samples", type=int, default=None,
                        help="samples for the (slow) loop baseline; default: --samples (train), "
                             "a quarter of them (test)")
    parser.add_argument("--torch", action="store_true", help="also time GeneratePoseTargetTorch on the CPU")
    parser.add_argument("--breakdown", action="store_true", help="print ms per sample of each op (ours)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with this process's CPU time instead of wall time "
                             "(steadier on a busy machine)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.cpu_time else time.perf_counter
    torch.set_num_threads(1)
    samples = make_samples(args.samples)
    print(f"PoseC3D heatmap pipelines, single process, one thread, {args.samples} samples (T=300, M=2), "
          f"median of {args.passes} passes; numpy {np.__version__}; "
          f"{'CPU' if args.cpu_time else 'wall'} time")
    print(f"{'pipeline':<34}{'ours':>10}{'loop baseline':>15}{'speed-up':>10}{'PYSKL np1/np2':>16}")
    runs = (("train (48f, 56x56)", TRAIN, False), ("test (10 clips, double, 64x64)", TEST, True))
    for name, ops, test_mode in runs:
        key = "test" if test_mode else "train"
        n_base = args.baseline_samples or (args.samples if not test_mode else max(2, args.samples // 4))
        ours = time_pipeline(ops, samples, test_mode, args.passes)
        base = time_pipeline(_with_generator(ops, "LoopGeneratePoseTarget"), samples[:n_base], test_mode,
                             max(1, args.passes if not test_mode else 1))
        np1, np2 = PYSKL_FIGURES[key]
        print(f"{name:<34}{ours:>10.1f}{base:>15.2f}{ours / base:>9.1f}x{np1:>8.2f}/{np2:<7.2f}")
        if args.torch:
            torch_ops = _with_generator(ops, "GeneratePoseTargetTorch")
            tor = time_pipeline(torch_ops, samples, test_mode, args.passes)
            print(f"{'  same, GeneratePoseTargetTorch':<34}{tor:>10.1f}")
        if args.breakdown:
            parts = op_breakdown(ops, samples, test_mode)
            print("  ms/sample: " + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()))
    print("samples/s; speed-up = ours / loop baseline (same run, same machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
