"""Training-step and eval throughput (clips/s) of GCN models at PYSKL's benchmark shapes.

Usage: ``python benchmarks/bench_models.py [--models stgcnpp ctrgcn msg3d] [--batch 16] [--iters 5]``

For each model it measures, in the same run and interleaved iteration by iteration (so background
load hits both equally):
  * ``reference``: PYSKL's formulation (NCHW activations, ``einsum`` graph conv) where the model has
    one (``set_reference_mode``), run as PYSKL runs it: the whole batch in one backbone pass;
  * ``fast``: our default path (channels-last activations, graph conv as one matmul; in eval the
    backbone takes a few clips per pass, ``RecognizerGCN.cpu_inference_frames``);
  * eval also ``fast+fused``: BatchNorm folded into the preceding convs (``fuse_conv_bn``), what
    ``pyskl test`` runs by default;
  * with ``--compile``: eval ``fast+fused+compile`` (``pyskl test --compile``: Inductor, frozen weights)
    and train ``fast+compile`` (``pyskl train --compile``).
It checks that the variants give the same eval logits and prints ratios against the reference and
against PYSKL's own figures measured on these machines (../shared/oracle/models/README.md, 2 threads).
Like the ``pyskl`` CLI it makes glibc keep freed blocks (``pyskl.utils.malloc``; both variants get it);
``--no-malloc-tuning`` measures without.
Train step = forward + PYSKL's loss + backward + SGD(momentum 0.9, nesterov, wd 5e-4) step.
``--device cuda`` times the same variants on a GPU (synchronised, TF32 off so outputs stay comparable);
PYSKL's figures and the sgemm ceiling are CPU facts and are then left out.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyskl.engine.test import prepare_for_inference  # noqa: E402
from pyskl.models import MODELS, build_model  # noqa: E402
from pyskl.models.gcns.blocks import fuse_conv_bn, set_reference_mode  # noqa: E402
from pyskl.utils.malloc import keep_freed_blocks  # noqa: E402

NTU = dict(layout="nturgb+d", mode="spatial")
MODEL_CFGS = {
    "stgcnpp": dict(type="STGCN", gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn", graph_cfg=NTU),
    "ctrgcn": dict(type="CTRGCN", graph_cfg=NTU),
    "msg3d": dict(type="MSG3D", graph_cfg=dict(layout="nturgb+d", mode="binary_adj")),
}
HEAD_CHANNELS = {"stgcnpp": 256, "ctrgcn": 256, "msg3d": 384}
# PYSKL's clips/s on these machines (oracle models README; batch 16, or 8 where 16 was not run)
PYSKL_CLIPS_PER_S = {
    "stgcnpp": {"train": 3.89, "eval": 14.21},
    "ctrgcn": {"train": 4.12, "eval": 14.21},
    "msg3d": {"train": 1.10, "eval": 4.03},  # batch 8; MS-G3D train with the in-place fix
}


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(dict(type="RecognizerGCN", backbone=MODEL_CFGS[name],
                            cls_head=dict(type="GCNHead", num_classes=60, in_channels=HEAD_CHANNELS[name])))


def has_reference_mode(model: torch.nn.Module) -> bool:
    return any(hasattr(m, "reference_mode") for m in model.modules())


def compiled_backbone(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with its backbone wrapped by ``torch.compile`` (recognizer methods stay plain Python)."""
    model.backbone = torch.compile(model.backbone)
    return model


def sgemm_peak_gmacs(size: int = 2048, iters: int = 5) -> float:
    """This machine's fp32 matmul rate now (10^9 multiply-accumulates/s, median of ``iters``): the
    ceiling for models whose work is GEMM-like convolutions."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return size ** 3 / statistics.median(times) / 1e9


def macs_per_clip(model: torch.nn.Module, frames: int) -> float:
    from pyskl.analysis.complexity import count_flops

    return count_flops(copy.deepcopy(model).cpu(), torch.randn(1, 1, 2, frames, 25, 3)).macs


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_train_step(model, x, label):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(model(x), label)["loss_cls"]
        loss.backward()
        opt.step()
        synchronize(x.device)
    return step


def make_eval_step(model, x):
    def step():
        with torch.no_grad():
            model.predict(x)
        synchronize(x.device)
    return step


def interleaved(steps: dict, iters: int, warmup: int) -> dict[str, tuple[float, float]]:
    """(median wall seconds, median process-CPU seconds) per call of each step, measured round-robin.

    CPU time is reported too because on a shared machine wall time also counts time spent waiting
    for a core; the CPU-time ratio between variants is the steadier comparison.
    """
    for _ in range(warmup):
        for step in steps.values():
            step()
    wall: dict[str, list[float]] = {k: [] for k in steps}
    cpu: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(iters):
        for key, step in steps.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            wall[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - start_cpu)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in steps}


def bench(name: str, batch: int, frames: int, iters: int, warmup: int, compile_: bool = False,
          device: torch.device = torch.device("cpu")) -> None:
    x = torch.randn(batch, 1, 2, frames, 25, 3, device=device)
    label = torch.randint(0, 60, (batch, 1), device=device)
    fast = build(name).to(device)
    ref = None
    if has_reference_mode(fast):
        ref = set_reference_mode(copy.deepcopy(fast), True)
        ref.cpu_inference_frames = None
    variants = {"fast": fast} if ref is None else {"reference": ref, "fast": fast}

    for m in variants.values():
        m.eval()
    fused = fuse_conv_bn(copy.deepcopy(fast).eval())
    with torch.no_grad():
        outs = {k: m(x[:2]) for k, m in {**variants, "fast+fused": fused}.items()}
    base = outs.get("reference", outs["fast"])
    diffs = {k: (v - base).abs().max().item() for k, v in outs.items()}
    print(f"\n{name}: batch {batch}, input {list(x.shape)}; eval logits max|diff| vs reference: "
          + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))

    eval_models = {**variants, "fast+fused": fused}
    if compile_:
        eval_models["fast+fused+compile"] = prepare_for_inference(copy.deepcopy(fast), compile_=True)
    eval_steps = {k: make_eval_step(m, x) for k, m in eval_models.items()}
    eval_t = interleaved(eval_steps, iters, warmup)
    train_models = {k: copy.deepcopy(m).train() for k, m in variants.items()}
    if compile_:
        train_models["fast+compile"] = compiled_backbone(copy.deepcopy(fast).train())
    train_steps = {k: make_train_step(m, x, label) for k, m in train_models.items()}
    train_t = interleaved(train_steps, iters, warmup)

    on_cpu = device.type == "cpu"
    pyskl = PYSKL_CLIPS_PER_S.get(name, {}) if on_cpu else {}
    macs = macs_per_clip(fast, frames)
    best_eval = batch / min(sec for sec, _ in eval_t.values())
    if on_cpu:
        peak = sgemm_peak_gmacs()
        print(f"{name}: {macs / 1e9:.3f} GMACs per clip; best eval {best_eval * macs / 1e9:.1f} GMAC/s vs "
              f"this machine's fp32 sgemm {peak:.1f} GMAC/s now (an eval ceiling of {peak * 1e9 / macs:.1f} "
              "clips/s)")
    else:
        print(f"{name}: {macs / 1e9:.3f} GMACs per clip; best eval {best_eval * macs / 1e9:.1f} GMAC/s "
              f"on {device}")
    for mode, table in (("train", train_t), ("eval", eval_t)):
        ref = table.get("reference")
        for key, (sec, cpu) in table.items():
            clips = batch / sec
            parts = [f"{name:8s} {mode:5s} {key:18s} {sec:7.3f} s/iter (cpu {cpu:7.3f} s) "
                     f"{clips:7.2f} clips/s"]
            if ref is not None:
                parts.append(f"x{ref[0] / sec:4.2f} vs reference (cpu time x{ref[1] / cpu:4.2f})")
            if mode in pyskl:
                parts.append(f"x{clips / pyskl[mode]:4.2f} vs PYSKL ({pyskl[mode]} clips/s)")
            print("  ".join(parts), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_CFGS), choices=list(MODEL_CFGS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd variants")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    parser.add_argument("--no-malloc-tuning", dest="malloc_tuning", action="store_false",
                        help="keep glibc's default allocator thresholds (the pyskl CLI raises them)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    tuned = args.malloc_tuning and keep_freed_blocks()
    if device.type == "cuda":
        # full fp32 like the CPU runs (TF32 would change the logits we compare); cuDNN may autotune
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        print(f"device {torch.cuda.get_device_name(device)}")
    print(f"torch {torch.__version__}, {args.threads} threads, "
          f"median of {args.iters} after {args.warmup} warm-up; glibc keeps freed blocks "
          f"(as the pyskl CLI): {tuned}")
    for name in args.models:
        backbone = MODEL_CFGS[name]["type"]
        if backbone not in MODELS:
            print(f"\n{name}: {backbone} is not registered; skipped")
            continue
        bench(name, args.batch, args.frames, args.iters, args.warmup, args.compile, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
