"""``pyskl info model CONFIG...``: parameters, FLOPs per clip, latency and throughput of a config's model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import add_cfg_options, add_device_arguments

HELP = "model facts for a config: parameters, FLOPs per clip (10^9), latency/throughput on this device"

FLOPS_NOTE = (
    "FLOPs per clip in 10^9 multiply-accumulates (conv/linear/matmul/einsum; one MAC = one FLOP, the "
    "fvcore/mmcv convention PYSKL reported); PYSKL's tools printed 2^30-based G (= ours x 0.9313)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    p = targets.add_parser("model", help=HELP, description=HELP + ". " + FLOPS_NOTE)
    p.add_argument("configs", nargs="+", metavar="CONFIG", help="PYSKL-style config file(s)")
    p.add_argument(
        "--clip-len", type=int, default=None, help="frames per clip (default: the test pipeline's)"
    )
    p.add_argument(
        "--num-person", type=int, default=None, help="persons M of a GCN clip (default: the config's)"
    )
    p.add_argument("--no-speed", action="store_true", help="skip the latency/throughput measurement")
    add_device_arguments(p, amp=False)
    p.add_argument("--batch", type=int, default=16, help="clips per call for the throughput")
    p.add_argument("--iters", type=int, default=5, help="timed calls (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--markdown", action="store_true", help="print one Markdown table row per config")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the facts as JSON")
    add_cfg_options(p)


def model_info(
    config: str,
    clip_len: int | None = None,
    num_person: int | None = None,
    speed: bool = True,
    device: str | None = None,
    batch: int = 16,
    iters: int = 5,
    warmup: int = 2,
    cfg_options: list | None = None,
) -> dict:
    """Facts about ``config``'s model as a JSON-able dict (see ``pyskl info model --help``)."""
    import torch

    from ..analysis import count_flops, count_parameters, input_spec, measure_speed
    from ..config import load_config
    from ..models import build_model

    cfg = load_config(config, cfg_options or [])
    spec = input_spec(cfg, clip_len=clip_len, num_person=num_person)
    torch.manual_seed(0)
    model = build_model(cfg["model"]).eval()
    params = count_parameters(model)
    flops = count_flops(model, torch.zeros(spec.shape))
    info = {
        "config": str(config),
        "recognizer": type(model).__name__,
        "backbone": type(getattr(model, "backbone", model)).__name__,
        "num_classes": int(getattr(getattr(model, "cls_head", None), "num_classes", 0) or 0),
        "input_shape": list(spec.shape),
        "input_layout": "[N, clips, M, T, V, C]" if spec.kind == "gcn" else "[N, clips, C, T, H, W]",
        "params": params.total,
        "params_backbone": params.backbone,
        "params_head": params.head,
        "gflops": flops.gflops,
        "gflops_2x": flops.flops_2x / 1e9,
        "gflops_pyskl_2pow30": flops.macs / 2**30,
        "macs_by_op": flops.by_op,
        "flops_unit": FLOPS_NOTE,
    }
    if speed:
        s = measure_speed(model, spec.shape[2:], batch=batch, warmup=warmup, iters=iters, device=device)
        info.update(
            latency_ms=s.latency_ms,
            latency_min_ms=s.latency_min_ms,
            throughput_clips_s=s.throughput,
            speed_batch=s.batch,
            device=s.device,
            threads=s.threads,
            device_name=_device_name(s.device),
        )
    return info


def _device_name(device: str) -> str:
    import platform

    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def format_info(info: dict) -> str:
    lines = [
        f"model: {info['config']} ({info['recognizer']} / {info['backbone']}, {info['num_classes']} classes)",
        f"input per clip: {info['input_shape']} {info['input_layout']}",
        f"parameters: {info['params']:,} (backbone {info['params_backbone']:,}, head {info['params_head']:,})"
        if info["params_head"] is not None
        else f"parameters: {info['params']:,}",
        (
            f"FLOPs per clip: {info['gflops']:.3f} G (10^9 multiply-accumulates, one MAC = one FLOP as "
            f"PYSKL/fvcore; {info['gflops_2x']:.3f} G counting multiply and add apart; "
            f"{info['gflops_pyskl_2pow30']:.3f} in PYSKL's 2^30 units)"
        ),
    ]
    if "latency_ms" in info:
        lines.append(
            f"latency (1 clip): {info['latency_ms']:.2f} ms median (min {info['latency_min_ms']:.2f}) on "
            f"{info['device']} ({info['threads']} CPU threads); throughput: "
            f"{info['throughput_clips_s']:.1f} clips/s at batch {info['speed_batch']}"
        )
    return "\n".join(lines)


MARKDOWN_HEADER = (
    "| config | backbone | input per clip | params (M) | GFLOPs/clip | latency (ms) | clips/s |\n"
    "|---|---|---|---|---|---|---|"
)


def markdown_row(info: dict) -> str:
    lat = f"{info['latency_ms']:.1f}" if "latency_ms" in info else "-"
    thr = f"{info['throughput_clips_s']:.1f}" if "throughput_clips_s" in info else "-"
    shape = "x".join(str(d) for d in info["input_shape"][2:])
    return (
        f"| {info['config']} | {info['backbone']} | {shape} | {info['params'] / 1e6:.3f} | {info['gflops']:.2f} "
        f"| {lat} | {thr} |"
    )


def run(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    if args.markdown:
        print(MARKDOWN_HEADER)
    for config in args.configs:
        info = model_info(
            config,
            args.clip_len,
            args.num_person,
            not args.no_speed,
            args.device,
            args.batch,
            args.iters,
            args.warmup,
            args.cfg_options,
        )
        results.append(info)
        print(markdown_row(info) if args.markdown else format_info(info), flush=True)
    if args.markdown:
        print(f"\n{FLOPS_NOTE}.")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results if len(results) > 1 else results[0], indent=2))
    return 0
