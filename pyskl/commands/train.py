"""``pyskl train CONFIG``: train a recognizer from a PYSKL config (one process, or under torchrun)."""
from __future__ import annotations

import argparse

from ._common import (add_cfg_options, add_config_argument, add_data_arguments, add_device_arguments,
                      add_launcher_arguments, apply_data_arguments)


HELP = "train a model from a PYSKL config (CPU/GPU, or torchrun for DDP)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--work-dir", help="where checkpoints and logs go (default: the config's work_dir)")
    parser.add_argument("--resume", nargs="?", const="auto", default=None, metavar="auto|PATH",
                        help="continue a run: 'auto' (default when given alone) takes work_dir/latest.pth")
    parser.add_argument("--resume-from", dest="resume_from", help="PYSKL's spelling of --resume PATH")
    parser.add_argument("--validate", action="store_true", help="evaluate on data.val every evaluation.interval")
    parser.add_argument("--test-last", action="store_true", help="test the last checkpoint on data.test")
    parser.add_argument("--test-best", action="store_true", help="test the best (--validate) checkpoint")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: drawn and logged)")
    parser.add_argument("--deterministic", action="store_true", help="deterministic torch algorithms")
    add_device_arguments(parser)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--compile-mode", default=None,
                        choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
                        help="torch.compile mode (implies --compile; 'reduce-overhead' adds CUDA graphs, which "
                             "need drop_last batches)")
    parser.add_argument("--channels-last", action="store_true",
                        help="3D CNNs: channels-last (NDHWC) conv weights, what cuDNN's fastest kernels take")
    add_cfg_options(parser)
    add_data_arguments(parser)
    add_launcher_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..engine.train import TrainOptions, train

    cfg = load_config(args.config, args.cfg_options)
    used = ("train",) + (("val",) if args.validate else ()) + (("test",) if args.test_last or args.test_best else ())
    for note in apply_data_arguments(cfg, args, used):
        print(f"pyskl train: {note}")
    opts = TrainOptions(work_dir=args.work_dir, validate=args.validate, test_last=args.test_last,
                        test_best=args.test_best, seed=args.seed, deterministic=args.deterministic,
                        resume=args.resume or args.resume_from, device=args.device, amp=args.amp,
                        compile=args.compile_mode or args.compile,
                        channels_last=args.channels_last, config_path=args.config)
    train(cfg, opts)
    return 0
