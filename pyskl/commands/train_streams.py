"""``pyskl train-streams CONFIG --streams j b jm bm``: train, test and fuse the modality streams."""

from __future__ import annotations

import argparse

from ._common import UsageError, add_cfg_options, add_config_argument, add_device_arguments

HELP = "train each stream (j, b, jm, bm) of a config, test, fuse (2:2:1:1) and write a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser, "a single-stream PYSKL GCN config (GenSkeFeat feats=['j'])")
    parser.add_argument(
        "--streams",
        nargs="+",
        default=["j", "b", "jm", "bm"],
        choices=["j", "b", "jm", "bm", "k", "km"],
        help="streams to train (default: j b jm bm; ProtoGCN's six: j b k jm bm km)",
    )
    parser.add_argument("--work-dir", default=None, help="base work_dir; stream s goes to WORK_DIR/s")
    parser.add_argument(
        "--weights",
        nargs="+",
        type=float,
        default=None,
        help="fusion weights, one per stream (default: 2 2 1 1 for four, 1 1 for two, else equal)",
    )
    parser.add_argument("--search", action="store_true", help="choose fusion weights on data.val results")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every stream's run")
    parser.add_argument("--deterministic", action="store_true", help="deterministic torch algorithms")
    parser.add_argument("--validate", action="store_true", help="evaluate on data.val during training")
    add_device_arguments(parser)
    parser.add_argument(
        "--print-commands",
        action="store_true",
        help="don't train: write per-stream configs and print the train/test/fuse commands "
        "(run them as separate jobs)",
    )
    parser.add_argument(
        "--nproc", type=int, default=1, help="GPUs per stream job in --print-commands (torchrun)"
    )
    add_cfg_options(parser)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..core.fusion import format_report
    from ..engine.streams import StreamsOptions, stream_commands, stream_config, train_streams

    cfg = load_config(args.config, args.cfg_options)
    if len(set(args.streams)) != len(args.streams):
        raise UsageError(f"--streams: a stream is repeated in {args.streams}")
    if args.weights is not None and len(args.weights) != len(args.streams):
        raise UsageError(f"--weights: {len(args.weights)} weights for {len(args.streams)} streams")
    opts = StreamsOptions(
        streams=tuple(args.streams),
        work_dir=args.work_dir,
        weights=args.weights,
        search=args.search,
        seed=args.seed,
        deterministic=args.deterministic,
        device=args.device,
        amp=args.amp,
        validate=args.validate,
        config_path=args.config,
    )
    for s in opts.streams:  # refuse an unusable config before any training starts
        stream_config(cfg, s)
    if args.print_commands:
        print("\n".join(stream_commands(cfg, opts, args.nproc)))
        return 0
    report = train_streams(cfg, opts)
    print(format_report(report))
    base = report["fused_results"].rsplit("/", 1)[0]
    print(f"report: {base}/report.md, {base}/report.json")
    return 0
