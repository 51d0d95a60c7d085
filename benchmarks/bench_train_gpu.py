"""End-to-end training throughput (data + step, clips/s) and full-recipe time: current path vs fast path.

Usage::

    python benchmarks/bench_train_gpu.py --device cuda [--models stgcnpp ctrgcn msg3d slowonly] [--json out.json]
    python benchmarks/bench_train_gpu.py --device cpu --quick     # tiny sizes: checks that it runs

For each model it runs PYSKL's NTU-60 XSub recipe (the config in ``RECIPES``) twice in one process, both
through ``pyskl.engine.train.train_one_epoch`` (the real loop), timing ``--iters`` steps after ``--warmup``:

* ``current``: what ``pyskl train`` does with the config as written: the numpy pipeline in DataLoader
  workers (``workers_per_gpu``), the config's batch, fp32, a host sync every step;
* ``fast``: the GCN train pipeline on the device (``data.device_pipeline``: batched sampling/augmentation
  over samples held in device memory as float16), ``--amp`` autocast, ``torch.compile`` (``--compile``),
  fused SGD, host syncs only every ``--log-interval`` steps, batch ``--batch``; PoseC3D keeps its numpy
  keypoint ops in the workers and renders the heatmaps in the step (``device_heatmap``), channels-last.

The data is synthetic with the real sizes: ``--samples`` (40,000) skeletons of ``--frames`` (300) frames, 2
persons, 25 joints (3D) for the GCNs, 17 joints (2D, 1080x1920 frames) for PoseC3D. The fast path holds
every sample on the device (made there as random float16); the current path cycles a pool of
``--pool`` distinct numpy samples (its cost per sample does not depend on which one). The load-time
ops (PreNormalize3D, GenSkeFeat) run once per sample at load in the fast path and are not in its loop.
The full-recipe estimate is ``total_epochs x RepeatDataset times x 40,091`` training clips (NTU-60 XSub)
divided by the measured clips/s (training only; evaluation not included).
ST-GCN++ eval throughput (``--eval``) compares ``inference`` over the config's 10-clip test pipeline
(numpy, batch as configured) with BN-folded, compiled ``--amp`` inference on device-made 10-clip batches.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyskl.config import load_config  # noqa: E402
from pyskl.datasets.device_pipeline import DeviceSkeletonSet, DeviceTrainData, plan_device_pipeline  # noqa: E402
from pyskl.datasets.pipelines import Compose  # noqa: E402
from pyskl.engine.data import build_train_loader  # noqa: E402
from pyskl.engine.dist import DistEnv  # noqa: E402
from pyskl.engine.fast_step import compile_model, to_channels_last  # noqa: E402
from pyskl.engine.logging import RunLog  # noqa: E402
from pyskl.engine.optim import LRSchedule, build_optimizer  # noqa: E402
from pyskl.engine.runtime import read_runtime  # noqa: E402
from pyskl.engine.train import TrainOptions, _Loop, train_one_epoch  # noqa: E402
from pyskl.models import build_model  # noqa: E402
from pyskl.models.deploy import prepare  # noqa: E402

RECIPES = {
    "stgcnpp": "configs/stgcn++/stgcn++_ntu60_xsub_3dkp/j.py",
    "ctrgcn": "configs/ctrgcn/ctrgcn_pyskl_ntu60_xsub_3dkp/j.py",
    "msg3d": "configs/msg3d/msg3d_pyskl_ntu60_xsub_3dkp/j.py",
    "slowonly": "configs/posec3d/slowonly_r50_ntu60_xsub/joint.py",
}
NTU60_XSUB_TRAIN = 40_091  # training samples of NTU-60 XSub
PYSKL_REFERENCE_BATCH = 16 * 8  # PYSKL's learning rates are for 8 GPUs x videos_per_gpu
HEATMAP_ARGS = dict(sigma=0.6, with_kp=True, with_limb=False)  # PYSKL's train GeneratePoseTarget
DEVICE_HEATMAP_TAIL = [
    dict(type="PoseToHeatmapInput", num_person=2),
    dict(type="Collect", keys=["keypoint", "keypoint_score", "heatmap_shape", "num_clips", "label"], meta_keys=[]),
    dict(type="ToTensor", keys=["keypoint", "keypoint_score", "heatmap_shape"])]


class ArraySet:
    """``len`` samples cycling over a pool of annotation dicts, run through a pipeline (a PoseDataset's
    ``__getitem__`` without the file)."""

    def __init__(self, pool: list[dict], length: int, pipeline: list) -> None:
        self.pool, self.length, self.pipeline = pool, length, Compose(pipeline)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx: int) -> dict:
        results = copy.deepcopy(self.pool[idx % len(self.pool)])
        results.update(modality="Pose", start_index=0, test_mode=False)
        return self.pipeline(results)


def skeleton_pool(n: int, frames: int, num_classes: int, two_d: bool, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    pool = []
    for i in range(n):
        if two_d:  # HRNet-style COCO-17 keypoints inside a 1080x1920 frame
            centre = rng.uniform([600, 300], [1300, 700])
            kp = (centre + rng.normal(0, 80, (2, frames, 17, 2))).astype(np.float32)
            info = dict(keypoint=kp, keypoint_score=rng.uniform(0.3, 1, (2, frames, 17)).astype(np.float32),
                        img_shape=(1080, 1920), original_shape=(1080, 1920))
        else:
            info = dict(keypoint=rng.normal(0, 0.5, (2, frames, 25, 3)).astype(np.float32))
        info.update(frame_dir=f"synthetic_{i}", label=i % num_classes, total_frames=frames)
        pool.append(info)
    return pool


class Timed:
    """``warmup + iters`` batches of ``loader``; the clock starts (after a device sync) at batch ``warmup``."""

    def __init__(self, loader: Any, warmup: int, iters: int, device: torch.device) -> None:
        self.loader, self.warmup, self.iters, self.device = loader, warmup, iters, device
        self.start = 0.0
        self.sampler = getattr(loader, "sampler", None)

    def __len__(self) -> int:
        return self.warmup + self.iters

    def __iter__(self) -> Iterator:
        for i, batch in enumerate(itertools.islice(iter(self.loader), len(self))):
            if i == self.warmup:
                sync(self.device)
                self.start = time.perf_counter()
            yield batch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_loop(cfg: dict, net: torch.nn.Module, model: torch.nn.Module, loader: Any, batch: int, args: Any,
             amp: str | None, sync_interval: int, lr_scale: float, renderer: Any = None,
             fused: bool = False) -> dict:
    """Time ``args.iters`` steps of ``train_one_epoch`` over ``loader``; clips/s and ms/step."""
    device = torch.device(args.device)
    rt = read_runtime(cfg)
    rt.log_interval = args.log_interval
    opt_cfg = dict(rt.optimizer, lr=rt.optimizer["lr"] * lr_scale)
    optimizer = build_optimizer(net, opt_cfg, fused=fused)
    timed = Timed(loader, args.warmup, args.iters, device)
    schedule = LRSchedule(optimizer, rt.lr_config, rt.total_epochs, len(timed))
    loop = _Loop(model=model, net=net, optimizer=optimizer, schedule=schedule, scaler=None,
                 env=DistEnv(device=device), rt=rt, opts=TrainOptions(amp=amp), runlog=RunLog(None, enabled=False),
                 renderer=renderer, sync_interval=sync_interval)
    means = train_one_epoch(loop, timed)
    sync(device)
    seconds = time.perf_counter() - timed.start
    clips_per_s = args.iters * batch / seconds
    return {"clips_per_s": float(f"{clips_per_s:.4g}"), "ms_per_step": round(1000 * seconds / args.iters, 2),
            "batch": batch, "lr": opt_cfg["lr"], "amp": amp, "loss": round(means.get("loss", float("nan")), 4)}


def recipe_clips(cfg: dict) -> int:
    times = cfg["data"]["train"].get("times", 1) if cfg["data"]["train"]["type"] == "RepeatDataset" else 1
    return cfg["total_epochs"] * times * NTU60_XSUB_TRAIN


def build_net(cfg: dict, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(cfg["model"]).to(device)


def gpu_flags(device: torch.device, fast: bool) -> None:
    """``pyskl train``'s defaults for the current path (no cuDNN autotuning: the recipes do not set
    cudnn_benchmark; fp32 matmuls without TF32, torch's default); the fast path turns both on."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = fast
        torch.backends.cuda.matmul.allow_tf32 = fast


def current_path(name: str, cfg: dict, args: Any) -> dict:
    """The config as written: numpy pipeline in workers, fp32, host sync every step."""
    device = torch.device(args.device)
    gpu_flags(device, fast=False)
    two_d = name == "slowonly"
    pool = skeleton_pool(args.pool, args.frames, cfg["model"]["cls_head"]["num_classes"], two_d)
    dataset = ArraySet(pool, args.samples, cfg["train_pipeline"])
    batch = cfg["data"]["videos_per_gpu"]
    workers = cfg["data"]["workers_per_gpu"] if args.workers is None else args.workers
    loader = build_train_loader(dataset, {"videos_per_gpu": batch, "workers_per_gpu": workers}, DistEnv(device=device),
                                seed=0)
    net = build_net(cfg, device)
    out = run_loop(cfg, net, net, loader, batch, args, amp=None, sync_interval=1, lr_scale=1.0)
    out.update(workers=workers, pipeline="numpy in DataLoader workers", compile=None)
    return out


def _compiled(net: torch.nn.Module, args: Any) -> tuple[torch.nn.Module, str | None]:
    if args.compile == "none":
        return net, None
    return compile_model(net, args.compile), args.compile


def fast_gcn(cfg: dict, args: Any) -> dict:
    """Device pipeline over device-resident float16 samples, autocast, compiled, fused SGD, few syncs."""
    device = torch.device(args.device)
    gpu_flags(device, fast=True)
    plan = plan_device_pipeline(Compose(cfg["train_pipeline"]))
    gen = torch.Generator(device=device).manual_seed(0)
    n, t = args.samples, args.frames
    frames = torch.empty(n * t, plan.num_person, 25, 3, dtype=torch.float16, device=device)
    frames.normal_(0, 0.5, generator=gen)
    lengths = torch.full((n,), t, dtype=torch.int64, device=device)
    labels = torch.arange(n, device=device) % cfg["model"]["cls_head"]["num_classes"]
    data = DeviceSkeletonSet(frames, torch.arange(n, device=device) * t, lengths, labels)
    loader = DeviceTrainData(data, plan, args.batch, seed=0, drop_last=True)
    net = prepare(build_net(cfg, device), device, "train", channels_last=args.channels_last or None)
    model, mode = _compiled(net, args)
    scale = args.batch / PYSKL_REFERENCE_BATCH
    out = run_loop(cfg, net, model, loader, args.batch, args, amp=args.amp, sync_interval=args.log_interval,
                   lr_scale=scale, fused=device.type == "cuda")
    out.update(pipeline="device (float16 storage)", compile=mode, lr_rule=f"lr x {args.batch}/{PYSKL_REFERENCE_BATCH}",
               device_data_gib=round(frames.numel() * 2 / 2**30, 2))
    return out


def fast_posec3d(cfg: dict, args: Any) -> dict:
    """numpy keypoint ops in workers, heatmaps rendered in the step, autocast, channels-last, compiled."""
    from pyskl.engine.batch_input import build_heatmap_renderer

    device = torch.device(args.device)
    gpu_flags(device, fast=True)
    pipeline = [op for op in cfg["train_pipeline"] if op["type"] not in ("GeneratePoseTarget", "FormatShape",
                                                                          "Collect", "ToTensor")]
    pool = skeleton_pool(args.pool, args.frames, cfg["model"]["cls_head"]["num_classes"], two_d=True)
    dataset = ArraySet(pool, args.samples, pipeline + DEVICE_HEATMAP_TAIL)
    workers = cfg["data"]["workers_per_gpu"] if args.workers is None else args.workers
    batch = args.posec3d_batch
    loader = build_train_loader(dataset, {"videos_per_gpu": batch, "workers_per_gpu": workers,
                                          "drop_last": True}, DistEnv(device=device), seed=0)
    net = to_channels_last(build_net(cfg, device))
    model, mode = _compiled(net, args)
    scale = batch / (cfg["data"]["videos_per_gpu"] * 8)
    out = run_loop(cfg, net, model, loader, batch, args, amp=args.amp, sync_interval=args.log_interval,
                   lr_scale=scale, renderer=build_heatmap_renderer(HEATMAP_ARGS), fused=device.type == "cuda")
    out.update(workers=workers, pipeline="numpy keypoints in workers, heatmaps in the step", compile=mode,
               channels_last=True)
    return out


def eval_stgcnpp(cfg: dict, args: Any) -> dict:
    """Eval clips/s: the config's numpy test pipeline + ``inference`` vs device-made clips, BN folded, compiled."""
    from pyskl.engine.data import build_eval_loader
    from pyskl.engine.test import autocast, inference, prepare_for_inference

    device = torch.device(args.device)
    env = DistEnv(device=device)
    gpu_flags(device, fast=False)
    pool = skeleton_pool(args.pool, args.frames, 60, two_d=False)
    test_batch = cfg["data"].get("test_dataloader", {}).get("videos_per_gpu", cfg["data"]["videos_per_gpu"])
    n_current = max(args.iters * test_batch, 2)
    dataset = ArraySet(pool, n_current, cfg["test_pipeline"])
    dataset.pipeline = Compose(cfg["test_pipeline"])
    loader = build_eval_loader(dataset, {"videos_per_gpu": test_batch, "workers_per_gpu": args.workers or 2}, env)
    net = build_net(cfg, device)
    sync(device)
    start = time.perf_counter()
    inference(net, loader, env, show_progress=False)
    sync(device)
    num_clips = [op for op in cfg["test_pipeline"] if op["type"] == "UniformSample"][0]["num_clips"]
    current = n_current * num_clips / (time.perf_counter() - start)

    gpu_flags(device, fast=True)
    plan = plan_device_pipeline(Compose(cfg["train_pipeline"]))
    plan.num_clips = num_clips
    n, t = max(args.eval_batch, 4), args.frames
    frames = torch.randn(n * t, 2, 25, 3, device=device).half()
    data = DeviceSkeletonSet(frames, torch.arange(n, device=device) * t, torch.full((n,), t, device=device),
                             torch.zeros(n, dtype=torch.int64, device=device))
    fast_net = prepare_for_inference(build_net(cfg, device), fuse_bn=True, compile_=args.compile != "none")
    batch = max(args.eval_batch // num_clips, 1)
    index = torch.arange(batch, device=device)
    steps = max(args.iters, 2)
    with torch.no_grad(), autocast(device, args.amp):
        for i in range(args.warmup + steps):
            if i == args.warmup:
                sync(device)
                start = time.perf_counter()
            fast_net.predict(data.clips(index, plan))
    sync(device)
    fast = steps * batch * num_clips / (time.perf_counter() - start)
    return {"current_clips_per_s": float(f"{current:.4g}"), "current_batch": test_batch, "num_clips": num_clips,
            "fast_clips_per_s": float(f"{fast:.4g}"), "fast_batch": batch, "speedup": round(fast / current, 2)}


def load_recipe(name: str, args: Any) -> dict:
    """The recipe's config; ``--clip-len``/``--current-batch`` shrink it (quick runs)."""
    cfg = load_config(str(ROOT / RECIPES[name]))
    if args.current_batch:
        cfg["data"]["videos_per_gpu"] = args.current_batch
        cfg["data"].pop("test_dataloader", None)
    if args.clip_len:
        for key in ("train_pipeline", "test_pipeline"):
            for op in cfg[key]:
                if "clip_len" in op:
                    op["clip_len"] = args.clip_len
                if op["type"] == "UniformSample" and key == "test_pipeline":
                    op["num_clips"] = min(op["num_clips"], 2)
    return cfg


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CPU smoke run)")
    parser.add_argument("--samples", type=int, default=40_000)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--pool", type=int, default=256, help="distinct numpy samples of the current path")
    parser.add_argument("--batch", type=int, default=128, help="fast-path GCN batch (lr scaled linearly)")
    parser.add_argument("--posec3d-batch", type=int, default=32)
    parser.add_argument("--eval-batch", type=int, default=640, help="fast-path eval clips per step")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the config's)")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--current-iters", type=int, default=None, help="timed steps of the current path")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--clip-len", type=int, default=None, help="override the recipes' clip_len (quick runs)")
    parser.add_argument("--current-batch", type=int, default=None, help="override the recipes' videos_per_gpu")
    parser.add_argument("--log-interval", type=int, default=50)
    parser.add_argument("--amp", choices=["bf16", "fp16", "none"], default="bf16")
    parser.add_argument("--compile", default="default",
                        choices=["none", "default", "reduce-overhead", "max-autotune-no-cudagraphs"])
    parser.add_argument("--eval", action="store_true", help="also ST-GCN++ eval clips/s")
    parser.add_argument("--channels-last", action="store_true",
                        help="fast GCN path: prepare(..., channels_last=True), the channels-last train forms")
    parser.add_argument("--also-eager", action="store_true",
                        help="time the fast path without torch.compile first (figures even if compiling overruns)")
    parser.add_argument("--json", default=None, help="write the results here (updated after each model)")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.frames, args.pool, args.clip_len, args.current_batch = 32, 40, 8, 8, 2
        args.batch, args.posec3d_batch, args.eval_batch, args.iters, args.warmup = 4, 2, 4, 2, 1
        args.workers = 0 if args.workers is None else args.workers
        args.compile = "none" if args.device == "cpu" else args.compile
    args.amp = None if args.amp == "none" else args.amp
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    report: dict = {"torch": torch.__version__, "device": torch.cuda.get_device_name(device)
                    if device.type == "cuda" else "cpu", "args": vars(args), "models": {}}

    def save() -> None:
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(report, indent=1))

    for name in args.models:
        cfg = load_recipe(name, args)
        entry: dict = {"config": RECIPES[name], "recipe_clips": recipe_clips(cfg)}
        report["models"][name] = entry
        fast_fn = fast_posec3d if name == "slowonly" else fast_gcn
        eager = [("fast_eager", fast_fn)] if args.also_eager else []
        paths = [("current", current_path)] + eager + [("fast", fast_fn)]
        for path, fn in paths:
            saved_iters, saved_compile = args.iters, args.compile
            if path == "current" and args.current_iters:
                args.iters = args.current_iters
            if path == "fast_eager":
                args.compile = "none"
            try:
                entry[path] = fn(name, cfg, args) if path == "current" else fn(cfg, args)
                entry[path]["recipe_hours"] = round(entry["recipe_clips"] / entry[path]["clips_per_s"] / 3600, 3)
            except Exception as err:  # one failing path must not lose the others' figures
                entry[path] = {"error": f"{type(err).__name__}: {err}"[:2000]}
                traceback.print_exc()
                if path == "fast" and args.compile != "none":  # the figures without torch.compile instead
                    saved_compile, args.compile = args.compile, "none"
                    try:
                        entry[path] = dict(fn(cfg, args), compile_error=entry[path]["error"])
                        hours = entry["recipe_clips"] / entry[path]["clips_per_s"] / 3600
                        entry[path]["recipe_hours"] = round(hours, 3)
                    except Exception as err2:
                        entry[path]["eager_error"] = f"{type(err2).__name__}: {err2}"[:2000]
                        traceback.print_exc()
                    finally:
                        args.compile = saved_compile
            finally:
                args.iters, args.compile = saved_iters, saved_compile
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            print(f"{name:9s} {path:8s} {json.dumps(entry[path])}", flush=True)
            save()
        if "clips_per_s" in entry.get("current", {}) and "clips_per_s" in entry.get("fast", {}):
            entry["speedup"] = round(entry["fast"]["clips_per_s"] / entry["current"]["clips_per_s"], 2)
        save()
    if args.eval:
        try:
            report["eval_stgcnpp"] = eval_stgcnpp(load_recipe("stgcnpp", args), args)
        except Exception as err:
            report["eval_stgcnpp"] = {"error": f"{type(err).__name__}: {err}"[:2000]}
            traceback.print_exc()
        print(f"eval      stgcnpp  {json.dumps(report['eval_stgcnpp'])}", flush=True)
        save()
    print_summary(report)
    return report


def print_summary(report: dict) -> None:
    print(f"\n== end-to-end training, {report['device']}, torch {report['torch']}")
    print(f"{'model':9s} {'current clips/s':>16s} {'fast clips/s':>13s} {'speedup':>8s} {'recipe h (current)':>19s} "
          f"{'recipe min (fast)':>18s}")
    for name, entry in report["models"].items():
        cur, fast = entry.get("current", {}), entry.get("fast", {})
        print(f"{name:9s} {cur.get('clips_per_s', 'error')!s:>16s} {fast.get('clips_per_s', 'error')!s:>13s} "
              f"{entry.get('speedup', '-')!s:>8s} {cur.get('recipe_hours', '-')!s:>19s} "
              f"{round(fast['recipe_hours'] * 60, 1) if 'recipe_hours' in fast else '-'!s:>18s}")
    if "eval_stgcnpp" in report:
        print(f"eval stgcnpp: {report['eval_stgcnpp']}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
