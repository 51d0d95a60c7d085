"""``pyskl test CONFIG CHECKPOINT``: multi-clip test, metrics, and a per-sample results file."""
from __future__ import annotations

import argparse

from ._common import (add_cfg_options, add_config_argument, add_data_arguments, add_device_arguments,
                      add_launcher_arguments, apply_data_arguments, check_results_path)


HELP = "test a checkpoint on data.test: metrics and per-sample scores (--out results.pkl|json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("checkpoint", nargs="?", default=None,
                        help="checkpoint (default: work_dir/latest.pth)")
    parser.add_argument("-C", "--checkpoint", dest="checkpoint_opt", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="write per-sample scores/labels/frame_dir (.pkl or .json)")
    parser.add_argument("--eval", nargs="+", default=["top_k_accuracy", "mean_class_accuracy"],
                        metavar="METRIC", help="top_k_accuracy, mean_class_accuracy, mean_average_precision")
    parser.add_argument("--average-clips", choices=["prob", "score", "none"], default=None,
                        help="how clip scores are averaged (default: model.test_cfg, else 'prob')")
    parser.add_argument("--work-dir", default=None, help="where to look for latest.pth")
    add_device_arguments(parser)
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the backbone (Inductor, frozen weights; compiling takes a while)")
    parser.add_argument("--no-fuse-bn", dest="fuse_bn", action="store_false",
                        help="keep BatchNorms separate (by default they are folded into the convs "
                             "before them: same scores up to float rounding, faster)")
    add_cfg_options(parser)
    add_data_arguments(parser)
    add_launcher_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..engine.test import TestOptions, test

    if args.out is not None:
        check_results_path(args.out, "--out")
    cfg = load_config(args.config, args.cfg_options)
    for note in apply_data_arguments(cfg, args, used=("test",)):
        print(f"pyskl test: {note}")
    average = args.average_clips
    opts = TestOptions(checkpoint=args.checkpoint or args.checkpoint_opt, out=args.out, metrics=list(args.eval),
                       average_clips=... if average is None else (None if average == "none" else average),
                       work_dir=args.work_dir, device=args.device, amp=args.amp, compile=args.compile,
                       fuse_bn=args.fuse_bn)
    test(cfg, opts)
    return 0
