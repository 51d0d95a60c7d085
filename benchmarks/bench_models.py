"""Training-step and eval throughput (clips/s) of GCN models at PYSKL's benchmark shapes.

Usage: ``python benchmarks/bench_models.py [--models stgcnpp ctrgcn msg3d] [--batch 16] [--iters 5]
[--baseline DIR] [--plain]``

For each model it measures, in the same run and interleaved iteration by iteration (so background
load hits every variant equally):
  * ``prepared``: the model as ``pyskl train`` / ``pyskl test`` run it, ``deploy.prepare(model,
    device, 'train' | 'eval')`` (eval: BatchNorm folded, the CPU forms, person passes);
  * with ``--plain``: the model as built (PYSKL's formulation, no conversion);
  * with ``--baseline DIR``: the same model from another checkout of pyskl at DIR (for example a
    ``git worktree`` of an older commit), run as that checkout's ``pyskl train`` / ``pyskl test`` ran it:
    for checkouts without ``pyskl.models.deploy``, its default path in training and
    ``fuse_conv_bn`` in eval. Ratios ``prepared`` / ``baseline`` are printed.
It checks that the variants give the same eval logits and prints ratios against PYSKL's own figures
measured on these machines (../shared/oracle/models/README.md, 2 threads).
Like the ``pyskl`` CLI it makes glibc keep freed blocks (``pyskl.utils.malloc``; every variant gets it);
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

from pyskl.models import MODELS, build_model  # noqa: E402
from pyskl.models.deploy import prepare  # noqa: E402
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


def recognizer_cfg(name: str) -> dict:
    return dict(type="RecognizerGCN", backbone=MODEL_CFGS[name],
                cls_head=dict(type="GCNHead", num_classes=60, in_channels=HEAD_CHANNELS[name]))


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(recognizer_cfg(name))


def import_baseline(path: str) -> dict:
    """The ``pyskl`` modules of the checkout at ``path``, imported beside this one (``sys.modules``
    entries of both are kept apart)."""
    mine = {k: v for k, v in sys.modules.items() if k == "pyskl" or k.startswith("pyskl.")}
    for key in mine:
        del sys.modules[key]
    sys.path.insert(0, str(Path(path).resolve()))
    try:
        import pyskl.models  # noqa: F401  (the baseline's)
        import pyskl.models.gcns.blocks  # noqa: F401
        try:
            import pyskl.models.deploy  # noqa: F401
        except ImportError:
            pass
    finally:
        sys.path.pop(0)
        base = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "pyskl" or k.startswith("pyskl.")}
        sys.modules.update(mine)
    return base


def baseline_models(base: dict, name: str, state: dict, device: torch.device) -> tuple:
    """(train model, eval model) of the baseline checkout, with ``state`` loaded."""
    def fresh():
        model = base["pyskl.models"].build_model(recognizer_cfg(name)).to(device)
        model.load_state_dict(state)
        return model
    if "pyskl.models.deploy" in base:
        deploy = base["pyskl.models.deploy"]
        return deploy.prepare(fresh(), device, "train"), deploy.prepare(fresh(), device, "eval")
    return fresh(), base["pyskl.models.gcns.blocks"].fuse_conv_bn(fresh().eval())


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


def bench(name: str, batch: int, frames: int, iters: int, warmup: int, base: dict | None = None,
          plain: bool = False, device: torch.device = torch.device("cpu")) -> None:
    x = torch.randn(batch, 1, 2, frames, 25, 3, device=device)
    label = torch.randint(0, 60, (batch, 1), device=device)
    model = build(name).to(device)
    state = copy.deepcopy(model.state_dict())
    train_models = {"prepared": prepare(copy.deepcopy(model), device, "train")}
    eval_models = {"prepared": prepare(copy.deepcopy(model), device, "eval")}
    if plain:
        train_models["plain"], eval_models["plain"] = copy.deepcopy(model), copy.deepcopy(model).eval()
    if base is not None:
        train_models["baseline"], eval_models["baseline"] = baseline_models(base, name, state, device)

    with torch.no_grad():
        outs = {k: m(x[:2]) for k, m in eval_models.items()}
    diffs = {k: (v - outs["prepared"]).abs().max().item() for k, v in outs.items() if k != "prepared"}
    print(f"\n{name}: batch {batch}, input {list(x.shape)}; eval logits max|diff| vs prepared: "
          + (", ".join(f"{k} {v:.2e}" for k, v in diffs.items()) or "-"))

    eval_t = interleaved({k: make_eval_step(m, x) for k, m in eval_models.items()}, iters, warmup)
    train_t = interleaved({k: make_train_step(m.train(), x, label) for k, m in train_models.items()},
                          iters, warmup)

    on_cpu = device.type == "cpu"
    pyskl = PYSKL_CLIPS_PER_S.get(name, {}) if on_cpu else {}
    for mode, table in (("train", train_t), ("eval", eval_t)):
        for key, (sec, cpu) in table.items():
            clips = batch / sec
            parts = [f"{name:8s} {mode:5s} {key:10s} {sec:7.3f} s/iter (cpu {cpu:7.3f} s) "
                     f"{clips:7.2f} clips/s"]
            if mode in pyskl:
                parts.append(f"x{clips / pyskl[mode]:4.2f} vs PYSKL ({pyskl[mode]} clips/s)")
            print("  ".join(parts), flush=True)
        if "baseline" in table:
            (sec, cpu), (bsec, bcpu) = table["prepared"], table["baseline"]
            print(f"{name:8s} {mode:5s} prepared / baseline time: wall x{sec / bsec:5.3f}, "
                  f"cpu x{cpu / bcpu:5.3f} "
                  "(< 1: prepared faster)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_CFGS), choices=list(MODEL_CFGS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="also time the unconverted model")
    parser.add_argument("--baseline", help="another pyskl checkout to time side by side")
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
    base = import_baseline(args.baseline) if args.baseline else None
    for name in args.models:
        backbone = MODEL_CFGS[name]["type"]
        if backbone not in MODELS:
            print(f"\n{name}: {backbone} is not registered; skipped")
            continue
        bench(name, args.batch, args.frames, args.iters, args.warmup, base, args.plain, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
