"""``pyskl data pack IN.pkl OUT_DIR``: annotation pickle -> packed memory-mapped directory."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "pack an annotation pickle into memory-mapped arrays + a small index (read by PoseDataset)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="PYSKL annotation pickle")
    parser.add_argument("output", type=Path, help="output directory (created)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")


def run(args: argparse.Namespace) -> int:
    from ..datasets.io import load_annotations
    from ..datasets.packed import open_packed, write_packed

    start = time.perf_counter()
    data = load_annotations(args.input)
    out = write_packed(data, args.output, overwrite=args.overwrite)
    split, packed = open_packed(out)
    mib = packed.array_nbytes() / 2**20
    print(
        f"packed {len(packed)} samples ({mib:.1f} MiB of arrays, splits: {', '.join(split) or 'none'}) "
        f"into {out} in {time.perf_counter() - start:.1f}s"
    )
    return 0
