"""``pyskl data ntu RAW_DIR OUT``: NTU RGB+D raw ``.skeleton`` files -> PYSKL 3D annotation pickles.

A file that cannot be read is listed on stderr and does not stop the others. Exit status: 0 when every file
converted, 1 when some failed (the others are in the pickles), 2 when nothing could be written or an input
is wrong (one ``error: ...`` line).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._common import UsageError

HELP = "convert NTU RGB+D 60/120 raw .skeleton files to ntu60_3danno.pkl / ntu120_3danno.pkl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raw_dir", type=Path, help="folder with the .skeleton files (searched recursively)")
    parser.add_argument("out", type=Path, help="output folder for ntu60_3danno.pkl / ntu120_3danno.pkl")
    parser.add_argument(
        "--dataset",
        choices=("ntu60", "ntu120", "both"),
        default="both",
        help="which annotation files to write (default: both, when samples exist)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(8, os.cpu_count() or 1),
        help="parallel processes (0 or 1: in this process)",
    )
    parser.add_argument(
        "--keep-missing",
        action="store_true",
        help="also try the samples listed by the dataset authors as having no skeleton",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..datasets.io import save_annotations
    from ..datasets.ntu_raw import convert_ntu

    if not args.raw_dir.is_dir():
        raise UsageError(f"{args.raw_dir}: not a folder (give the folder of NTU .skeleton files)")
    files = sorted(args.raw_dir.rglob("*.skeleton"))
    if not files:
        raise UsageError(f"{args.raw_dir}: no .skeleton files in it or its subfolders")
    datasets = ("ntu60", "ntu120") if args.dataset == "both" else (args.dataset,)
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        def progress(iterator):
            return tqdm(iterator, total=len(files), desc="skeleton files", unit="file")

    report = convert_ntu(
        files, workers=args.workers, skip_missing=not args.keep_missing, datasets=datasets, progress=progress
    )
    for name, data in report.annotations.items():
        path = save_annotations(data, args.out / f"{name}_3danno.pkl")
        sizes = ", ".join(f"{k} {len(v)}" for k, v in data["split"].items())
        print(f"wrote {path}: {len(data['annotations'])} samples ({sizes})")
    if report.skipped_missing:
        print(f"skipped {len(report.skipped_missing)} sample(s) listed as having no skeleton")
    if report.errors:
        # A file that fails does not stop the others, which are in the pickles: a partial result, status 1,
        # with what failed on stderr, where errors go.
        sys.stdout.flush()  # keep the order of the two streams on a terminal
        print(f"{len(report.errors)} file(s) failed (their samples are not in the pickles):", file=sys.stderr)
        for _, message in report.errors:
            print(f"  {message}", file=sys.stderr)
    if not report.annotations:
        failed = f"{len(report.errors)} file(s) failed, " if report.errors else ""
        raise UsageError(f"{args.raw_dir}: no {' / '.join(datasets)} sample to write ({failed}"
                         f"{len(report.skipped_missing)} listed as having no skeleton), so nothing was written")
    return 1 if report.errors else 0
