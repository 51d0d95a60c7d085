"""Where a GCN training step spends its time on a GPU: data vs model step, batch scaling, layouts, kernels.

Usage::

    python benchmarks/profile_gpu_step.py --device cuda --out DIR [--models stgcnpp ctrgcn msg3d]
    python benchmarks/profile_gpu_step.py --device cpu --quick          # tiny sizes: checks that it runs

For each model (PYSKL's NTU-60 XSub 3D joint recipe, clip_len 100, 2 persons) it times, in one process:

* ``data``: device-pipeline batches alone (``DeviceTrainData`` over device-resident float16 samples);
* ``step``: forward + fp32 loss + backward + fused SGD on one fixed batch, for each ``--batches`` and
  ``--variants`` (precision, channels-last activations, BatchNorm in fp32, compiled: see ``make_step``);
  ``cuda_busy`` is the share of the step's wall time the GPU spent in kernels
  (from the profiler), which separates launch-bound steps (low) from kernel-bound ones (high);
* ``kernels``: the profiler's top kernels of one model (``--profile-model``) at the first batch, as a table.

Results go to ``DIR/profile.json`` (updated after each measurement) and ``DIR/kernels_*.txt``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyskl.config import load_config  # noqa: E402
from pyskl.datasets.device_pipeline import DeviceSkeletonSet, DeviceTrainData, plan_device_pipeline  # noqa: E402
from pyskl.datasets.pipelines import Compose  # noqa: E402
from pyskl.engine.fast_step import TrainStep  # noqa: E402
from pyskl.engine.optim import build_optimizer  # noqa: E402
from pyskl.engine.runtime import read_runtime  # noqa: E402
from pyskl.models import build_model  # noqa: E402

RECIPES = {
    "stgcnpp": "configs/stgcn++/stgcn++_ntu60_xsub_3dkp/j.py",
    "ctrgcn": "configs/ctrgcn/ctrgcn_pyskl_ntu60_xsub_3dkp/j.py",
    "msg3d": "configs/msg3d/msg3d_pyskl_ntu60_xsub_3dkp/j.py",
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, warmup: int, iters: int) -> float:
    """Seconds per call of ``fn`` after ``warmup`` calls (device synced around the timed calls)."""
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / iters


def device_data(cfg: dict, batch: int, samples: int, frames: int, device: torch.device) -> DeviceTrainData:
    plan = plan_device_pipeline(Compose(cfg["train_pipeline"]))
    gen = torch.Generator(device=device).manual_seed(0)
    store = torch.empty(samples * frames, plan.num_person, 25, 3, dtype=torch.float16, device=device)
    store.normal_(0, 0.5, generator=gen)
    lengths = torch.full((samples,), frames, dtype=torch.int64, device=device)
    labels = torch.arange(samples, device=device) % cfg["model"]["cls_head"]["num_classes"]
    data = DeviceSkeletonSet(store, torch.arange(samples, device=device) * frames, lengths, labels)
    return DeviceTrainData(data, plan, batch, seed=0, drop_last=True)


class Float32BatchNorm(torch.nn.BatchNorm2d):
    """BatchNorm computed in fp32 whatever the input's dtype (output in the input's dtype)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(x.dtype)


def float32_batch_norms(module: torch.nn.Module) -> None:
    for name, child in module.named_children():
        if type(child) is torch.nn.BatchNorm2d:
            child.__class__ = Float32BatchNorm
        else:
            float32_batch_norms(child)


def make_step(cfg: dict, device: torch.device, variant: str) -> TrainStep:
    """A train step for ``variant``: '+'-joined of bf16 | fp16 | fp32, cl (channels-last activations),
    bn32 (BatchNorm in fp32), clforms (``prepare(..., channels_last=True)``: the channels-last train forms), compile (torch.compile, default mode)."""
    from pyskl.models.deploy import prepare

    parts = set(variant.split("+"))
    amp = "bf16" if "bf16" in parts else "fp16" if "fp16" in parts else None
    torch.manual_seed(0)
    net = prepare(build_model(cfg["model"]).to(device), device, "train", channels_last="clforms" in parts)
    if "cl" in parts:
        net.backbone.memory_format = torch.channels_last
    if "bn32" in parts:
        float32_batch_norms(net)
    model = torch.compile(net) if "compile" in parts else net
    optimizer = build_optimizer(net, dict(read_runtime(cfg).optimizer), fused=device.type == "cuda")
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
    return TrainStep(model, net, optimizer, amp=amp, scaler=scaler)


def endless(loader: DeviceTrainData) -> Any:
    """The loader's batches, epoch after epoch."""
    epoch = 0
    while True:
        loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def cuda_busy(step: Callable[[], Any], device: torch.device, steps: int = 3) -> tuple[float, Any]:
    """Share of wall time the GPU spent in kernels over ``steps`` steps, and the profiler."""
    from torch.profiler import ProfilerActivity, profile

    sync(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        wall = time.perf_counter() - start
    kernel_us = sum(e.device_time_total for e in prof.key_averages() if e.device_type.name == "CUDA")
    return kernel_us / 1e6 / wall, prof


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--batches", nargs="+", type=int, default=[128, 512])
    parser.add_argument("--variants", nargs="+", default=["bf16", "bf16+bn32", "fp16"],
                        help="'+'-joined: bf16|fp16|fp32, cl, bn32, compile (see make_step)")
    parser.add_argument("--profile-model", default="stgcnpp")
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CPU smoke run)")
    parser.add_argument("--out", default="profile_out")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.quick:
        args.batches, args.samples, args.frames, args.iters, args.warmup = [4], 16, 40, 1, 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print("GPU:", torch.cuda.get_device_name(), "| torch", torch.__version__, flush=True)
    report: dict[str, Any] = {"device": str(device), "torch": torch.__version__, "models": {}}

    def save() -> None:
        (out / "profile.json").write_text(json.dumps(report, indent=1))

    for name in args.models:
        cfg = load_config(str(ROOT / RECIPES[name]))
        if args.quick:
            for op in cfg["train_pipeline"]:
                if "clip_len" in op:
                    op["clip_len"] = 8
        entry: dict[str, Any] = report["models"].setdefault(name, {})
        for batch in args.batches:
            try:
                loader = device_data(cfg, batch, args.samples, args.frames, device)
                batches = endless(loader)
                sec = timed(lambda: next(batches), device, args.warmup, args.iters)
                entry[f"data_b{batch}"] = round(batch / sec)
                x = next(batches)
            except Exception as err:  # noqa: BLE001 - report and go on with the other measurements
                entry[f"data_b{batch}"] = f"{type(err).__name__}: {err}"[:300]
                traceback.print_exc()
                continue
            print(f"{name} b{batch} data: {entry[f'data_b{batch}']} clips/s", flush=True)
            for variant in args.variants:
                key = f"step_b{batch}_{variant}"
                try:
                    step = make_step(cfg, device, variant)
                    sec = timed(lambda: step(x["keypoint"], x["label"]), device, args.warmup, args.iters)
                    busy, prof = cuda_busy(lambda: step(x["keypoint"], x["label"]), device) \
                        if device.type == "cuda" else (float("nan"), None)
                    entry[key] = {"clips_per_s": round(batch / sec), "ms": round(1000 * sec, 2),
                                  "cuda_busy": round(busy, 3)}
                    if prof is not None and name == args.profile_model and batch == args.batches[0]:
                        table = prof.key_averages().table(sort_by="device_time_total", row_limit=30,
                                                          max_name_column_width=70)
                        (out / f"kernels_{name}_b{batch}_{variant}.txt").write_text(table)
                    step = None  # free its activations before the next variant
                except Exception as err:  # noqa: BLE001
                    entry[key] = f"{type(err).__name__}: {err}"[:300]
                    traceback.print_exc()
                print(f"{name} {key}: {entry[key]}", flush=True)
                save()
            loader = batches = x = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
        save()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
