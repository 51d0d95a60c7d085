"""``pyskl data <tool>``: annotation-file tools, one module per tool (``data_<tool>.py``)."""
from __future__ import annotations

import argparse
import importlib

HELP = "annotation files: synthesise, check, convert, pack"

# tool -> (module under pyskl.commands, one-line help). Each module provides add_arguments and run.
TOOLS: dict[str, tuple[str, str]] = {
    "synth": ("data_synth", "write a synthetic NTU-25 3D / COCO-17 2D annotation pickle (xsub/xview splits)"),
    "pack": ("data_pack", "pack an annotation pickle into memory-mapped arrays + index"),
    "ntu": ("data_ntu", "NTU RGB+D raw .skeleton files -> PYSKL 3D annotation pickles"),
    "convert": ("data_convert", "layout conversion; CTR-GCN .npz / 2s-AGCN .npy NTU import"),
    "check": ("data_check", "validate an annotation file and print a summary report"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tools = parser.add_subparsers(dest="tool", metavar="TOOL", required=True)
    for name, (module_name, help_text) in TOOLS.items():
        sub = tools.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"pyskl.commands.{module_name}").add_arguments(sub)


def run(args: argparse.Namespace) -> int:
    module_name = TOOLS[args.tool][0]
    return int(importlib.import_module(f"pyskl.commands.{module_name}").run(args) or 0)
