"""``pyskl export CONFIG CHECKPOINT --format onnx|torchscript``: deployable model + parity check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import UsageError, add_cfg_options, add_config_argument

HELP = "export a recognizer to ONNX or TorchScript (dynamic batch/frames) and check it against PyTorch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "checkpoint", help="checkpoint to export ('none': the config's random initialisation)"
    )
    parser.add_argument("--format", choices=["onnx", "torchscript"], default="onnx", help="file format")
    parser.add_argument(
        "--out", default=None,
        help="output file (default: next to the checkpoint, named after the config: CONFIG_NAME.onnx|.pt)"
    )
    parser.add_argument(
        "--average",
        choices=["prob", "score", "none"],
        default=None,
        help="output: clip-averaged softmax ('prob'), mean logits ('score') or per-clip logits "
        "('none') (default: model.test_cfg.average_clips)",
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="fix every input axis (default: dynamic batch, clips and frames, where the model allows)",
    )
    parser.add_argument(
        "--clip-len", type=int, default=None, help="frames of the example input (default: config)"
    )
    parser.add_argument(
        "--num-person", type=int, default=None, help="persons M of a GCN input (default: config)"
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset")
    parser.add_argument("--no-check", action="store_true", help="skip the parity check")
    parser.add_argument(
        "--tol", type=float, default=1e-4, help="largest allowed |exported - PyTorch| (exit 1 above)"
    )
    add_cfg_options(parser)


# PYSKL names a config file by its stream (j.py, b.py, ...) inside a folder named by the recipe, and a
# training run saves its config as config.json in the work_dir: those names need their folder's.
_UNINFORMATIVE_STEMS = {"j", "b", "jm", "bm", "k", "l", "joint", "limb", "config", "stream_config"}


def default_output(config: str, checkpoint: str, fmt: str) -> Path:
    """Where an export goes without ``--out``: beside the checkpoint (the current folder for ``none``),
    named after the config (``stgcn_pyskl_ntu60_xsub_hrnet_j.onnx``)."""
    cfg = Path(config)
    name = f"{cfg.parent.name}_{cfg.stem}" if cfg.stem in _UNINFORMATIVE_STEMS and cfg.parent.name else cfg.stem
    if cfg.stem in ("config", "stream_config") and cfg.parent.name:
        name = cfg.parent.name
    folder = Path(checkpoint).parent if checkpoint.lower() != "none" else Path(".")
    return folder / f"{name}{'.onnx' if fmt == 'onnx' else '.pt'}"


def run(args: argparse.Namespace) -> int:
    from ..analysis.inputs import input_spec
    from ..config import load_config
    from ..export import export_model
    from ..models import build_model

    cfg = load_config(args.config, args.cfg_options)
    try:
        spec = input_spec(cfg, clip_len=args.clip_len, num_person=args.num_person)
    except ValueError as err:
        raise UsageError(f"{args.config}: {err}") from err
    model = build_model(cfg["model"])
    if args.checkpoint.lower() != "none":
        from ..checkpoint import load_checkpoint

        load_checkpoint(model, args.checkpoint)
    average = args.average or getattr(model, "test_cfg", {}).get("average_clips", "prob")
    average = None if average == "none" else average
    out = Path(args.out) if args.out else default_output(args.config, args.checkpoint, args.format)
    if args.format == "onnx" and not args.no_check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise UsageError("the ONNX parity check needs onnxruntime (pip install 'pyskl[export]'), "
                             "or pass --no-check") from None
    result = export_model(
        model,
        spec,
        args.format,
        out,
        average=average,
        dynamic=not args.static,
        check=not args.no_check,
        opset=args.opset,
    )
    dyn = ", ".join(f"{name} (axis {axis})" for axis, name in sorted(result.dynamic_axes.items())) or "none"
    print(
        f"exported {args.format} to {result.path}: input {list(result.input_shape)} "
        f"({'keypoint [N, clips, M, T, V, C]' if spec.kind == 'gcn' else 'imgs [N, clips, C, T, H, W]'}), "
        f"output {result.output}; dynamic axes: {dyn}"
    )
    if result.note:
        print(f"note: {result.note}")
    for shape, diff in result.diffs:
        print(f"parity vs PyTorch on input {list(shape)}: max |diff| = {diff:.3e}")
    if result.diffs and result.max_diff > args.tol:
        # The file is written but does not reproduce PyTorch: a failed check, on stderr, status 1.
        sys.stdout.flush()  # keep the order of the two streams on a terminal
        print(f"export: max abs difference {result.max_diff:.3e} ABOVE tolerance {args.tol:g}: {result.path} does "
              "not reproduce the PyTorch model's scores", file=sys.stderr)
        return 1
    if result.diffs:
        print(f"max abs difference {result.max_diff:.3e} (within tolerance {args.tol:g})")
    return 0
