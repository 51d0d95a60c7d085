"""What the subcommands share: the error for a bad option or input, and the options several commands take
(config, ``--cfg-options``, device and precision, launcher, own annotation file), spelled and explained
the same way everywhere."""
from __future__ import annotations

import argparse

__all__ = ["UsageError", "require_positive", "add_config_argument", "add_cfg_options", "add_device_arguments",
           "add_launcher_arguments", "add_data_arguments", "apply_data_arguments", "check_results_path"]


class UsageError(ValueError):
    """A bad option, option combination or input file given on the command line.

    ``pyskl``'s entry point prints it as one ``error: ...`` line and exits with status 2, like every
    exception class pyskl defines; the message names the option or file and what to do.
    """


def require_positive(args: argparse.Namespace, *names: str) -> None:
    """Refuse a count option below 1 (``names`` are ``args`` attributes; None means not given).

    Raises:
        UsageError: naming the option as typed (``--max-frames 0``).
    """
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def add_config_argument(parser: argparse.ArgumentParser, text: str = "PYSKL-style config file (.py or .json)") -> None:
    """The positional CONFIG (``text`` is its help)."""
    parser.add_argument("config", help=text)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options KEY=VALUE ...``: override config keys (see :func:`pyskl.config.apply_overrides`)."""
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. total_epochs=2 data.videos_per_gpu=8")


def add_device_arguments(parser: argparse.ArgumentParser, amp: bool = True) -> None:
    """``--device`` (default CUDA when available) and, with ``amp``, ``--amp bf16|fp16``."""
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available)")
    if amp:
        parser.add_argument("--amp", choices=["bf16", "fp16"], default=None, help="mixed precision")


def add_launcher_arguments(parser: argparse.ArgumentParser) -> None:
    """PYSKL's ``--launcher`` and ``--local_rank`` (accepted; torchrun's environment is what is used)."""
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="accepted for PYSKL compatibility; torchrun's environment is detected")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)


def check_results_path(path: str, option: str) -> None:
    """Refuse a results-file destination whose suffix names no format, before any work is done."""
    from pathlib import Path

    from ..core.results import RESULT_SUFFIXES

    if Path(path).suffix not in RESULT_SUFFIXES:
        raise UsageError(f"{option} {path}: a results file ends in {', '.join(RESULT_SUFFIXES)}")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ann-file`` and ``--num-classes``: run a config on your own annotation file."""
    parser.add_argument("--ann-file", default=None, metavar="FILE",
                        help="annotation pickle for every split (data.train/val/test ann_file); the model's "
                             "class count then comes from its labels unless --num-classes is given")
    parser.add_argument("--num-classes", type=int, default=None, metavar="K",
                        help="classes of the model head (default with --ann-file: largest label + 1)")


def apply_data_arguments(cfg: dict, args: argparse.Namespace, used: tuple[str, ...] = ("train", "val", "test")
                         ) -> list[str]:
    """Point every split of ``cfg`` at ``args.ann_file`` and size the head; returns notes to print.

    Args:
        cfg: the loaded config, changed in place.
        args: parsed ``--ann-file`` / ``--num-classes``.
        used: the splits the command reads (``pyskl test`` reads only ``test``): their split names must
            exist in the file.

    Raises:
        UsageError: the file lacks a split the config uses, or ``--num-classes`` is below the labels.
    """
    notes: list[str] = []
    if args.ann_file is not None:
        keys = _set_ann_file(cfg, args.ann_file)
        if not keys:
            raise UsageError("--ann-file: the config's data has no train/val/test dataset to set")
        notes.append(f"annotation file {args.ann_file} for {', '.join(keys)}")
    num_classes = args.num_classes
    if num_classes is not None and num_classes < 1:
        raise UsageError(f"--num-classes must be at least 1, got {num_classes}")
    if args.ann_file is not None:
        needed = _check_annotation_file(cfg, args.ann_file, used)
        if num_classes is not None and num_classes < needed:
            raise UsageError(f"--num-classes {num_classes}: {args.ann_file} has labels up to {needed - 1}, "
                             f"so the head needs at least {needed} classes")
        num_classes = needed if num_classes is None else num_classes
    if num_classes is not None:
        head = (cfg.get("model") or {}).get("cls_head")
        if not isinstance(head, dict) or "num_classes" not in head:
            raise UsageError("--num-classes: the config's model has no cls_head.num_classes to set")
        if head["num_classes"] != num_classes:
            notes.append(f"model.cls_head.num_classes {head['num_classes']} -> {num_classes}"
                         + (f" (labels of {args.ann_file})" if args.num_classes is None else ""))
        head["num_classes"] = num_classes
    return notes


def _datasets(cfg: dict) -> list[tuple[str, dict]]:
    """``(key path, dataset dict)`` for data.train/val/test, through wrappers (``RepeatDataset.dataset``)."""
    found = []
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    for split in ("train", "val", "test"):
        node, path = data.get(split), f"data.{split}"
        while isinstance(node, dict) and isinstance(node.get("dataset"), dict):
            node, path = node["dataset"], f"{path}.dataset"
        if isinstance(node, dict):
            found.append((path, node))
    return found


def _set_ann_file(cfg: dict, ann_file: str) -> list[str]:
    keys = []
    for path, node in _datasets(cfg):
        node["ann_file"] = ann_file
        keys.append(f"{path}.ann_file")
    if "ann_file" in cfg:
        cfg["ann_file"] = ann_file
    return keys


def _check_annotation_file(cfg: dict, ann_file: str, used: tuple[str, ...]) -> int:
    """Check the splits the config reads exist in ``ann_file``; returns its class count (largest label + 1)."""
    import numpy as np

    from ..datasets.io import load_annotations

    data = load_annotations(ann_file, validate=False)
    splits = data.get("split", {}) if isinstance(data, dict) else {}
    for path, node in _datasets(cfg):
        name = node.get("split")
        if path.split(".")[1] in used and name is not None and name not in splits:
            has = ", ".join(repr(s) for s in splits) or "no splits"
            raise UsageError(f"{ann_file} has no split {name!r} ({path}.split); it has {has}: choose one with "
                             f"--cfg-options {path}.split=NAME")
    anns = data["annotations"] if isinstance(data, dict) else data
    labels = [int(np.max(a["label"])) for a in anns if "label" in a]
    if not labels:
        raise UsageError(f"{ann_file}: no sample has a label, so it cannot train a classifier")
    if min(labels) < 0:
        bad = next(a.get("frame_dir") for a in anns if int(np.min(a.get("label", 0))) < 0)
        raise UsageError(f"{ann_file}: sample {bad!r} has label {min(labels)} (unlabelled): give the videos labels "
                         "(a list file 'PATH LABEL', or one folder per class for pyskl extract)")
    return max(labels) + 1
