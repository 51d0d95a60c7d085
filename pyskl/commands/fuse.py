"""``pyskl fuse RESULT...``: weighted late fusion of several streams' ``pyskl test --out`` files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "fuse per-stream test results (PYSKL's 2:2:1:1 / 1:1 weights, or --search on validation results)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results",
        nargs="+",
        metavar="RESULT",
        help="per-stream results: pyskl test --out .pkl/.json, PYSKL's --out list pickle, or MMAction2 1.x's "
        "--dump pickle",
    )
    parser.add_argument(
        "--weights",
        nargs="+",
        type=float,
        default=None,
        metavar="W",
        help="one weight per stream (default: 2 2 1 1 for four streams, 1 1 for two, else equal)",
    )
    parser.add_argument(
        "--names", nargs="+", default=None, help="stream names for the report (default: file names)"
    )
    parser.add_argument(
        "--search",
        action="store_true",
        help="choose weights by grid search on --val results, then apply them to RESULT",
    )
    parser.add_argument(
        "--val",
        nargs="+",
        default=None,
        metavar="VAL_RESULT",
        help="validation results of the same streams, in the same order (for --search)",
    )
    parser.add_argument(
        "--grid",
        nargs="+",
        type=float,
        default=None,
        metavar="W",
        help="weights tried per stream by --search (default: 0 0.5 1 1.5 2 3)",
    )
    parser.add_argument(
        "--ann-file", default=None, help="annotation file giving labels for PYSKL list results"
    )
    parser.add_argument("--split", default=None, help="split of --ann-file the results were tested on")
    parser.add_argument(
        "--val-split", default=None, help="split of --ann-file the --val results were tested on"
    )
    parser.add_argument("--topk", nargs="+", type=int, default=[1, 5], help="k of the top-k accuracies")
    parser.add_argument(
        "--out", default=None, help="write the fused results (.pkl or .json, pyskl test format)"
    )
    parser.add_argument("--report", default=None, help="write the metrics as JSON (.json) or Markdown (.md)")


def _names(paths: list[str], given: list[str] | None) -> list[str]:
    if given is not None:
        if len(given) != len(paths) or len(set(given)) != len(given):
            from ..core.fusion import FusionError

            raise FusionError(f"--names needs {len(paths)} distinct names, got {given}")
        return list(given)
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    parents = [f"{Path(p).parent.name}/{Path(p).stem}" for p in paths]
    return parents if len(set(parents)) == len(parents) else [f"{i}:{s}" for i, s in enumerate(stems)]


def run(args: argparse.Namespace) -> int:
    from ..core.fusion import (
        DEFAULT_GRID,
        FusionError,
        check_aligned,
        format_report,
        fusion_report,
        load_stream,
        search_weights,
    )

    from ._common import check_results_path

    if args.out is not None:
        check_results_path(args.out, "--out")
    if args.report is not None and Path(args.report).suffix not in (".json", ".md"):
        raise FusionError(f"--report {args.report}: the report must end in .json or .md")
    names = _names(args.results, args.names)
    streams = [load_stream(p, n, args.ann_file, args.split) for p, n in zip(args.results, names)]
    weights = args.weights
    searched = None
    if args.search:
        if not args.val or len(args.val) != len(streams):
            raise FusionError(
                f"--search needs --val with {len(streams)} validation results (one per stream)"
            )
        if weights is not None:
            raise FusionError("give either --weights or --search, not both")
        val = [
            load_stream(p, n, args.ann_file, args.val_split or args.split)
            for p, n in zip(args.val, names)
        ]
        check_aligned(val)
        if val[0].labels is None:
            raise FusionError(f"{args.val[0]} has no labels: pass --ann-file and --val-split")
        weights, searched = search_weights(
            [s.scores for s in val], val[0].labels, args.grid or DEFAULT_GRID
        )
        print(
            f"searched weights on validation: {' '.join(f'{w:g}' for w in weights)} "
            f"(val top1 {100 * searched['top1_acc']:.2f}, mean class {100 * searched['mean_class_accuracy']:.2f})"
        )
    report = fusion_report(streams, weights, args.topk)
    print(format_report(report))
    fused = report.pop("fused_scores")
    if searched is not None:
        report["search"] = {
            "val_results": list(args.val),
            "val_metrics": searched,
            "grid": list(args.grid or DEFAULT_GRID),
        }
    report["results"] = list(args.results)
    if args.out:
        from ..core.results import save_results

        save_results(
            args.out,
            fused,
            streams[0].labels,
            streams[0].frame_dir or [str(i) for i in range(len(fused))],
            report["fused"],
            "fused",
        )
        print(f"fused results written to {args.out}")
    if args.report:
        path = Path(args.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            format_report(dict(report, fused_scores=None)) + "\n"
            if path.suffix == ".md"
            else json.dumps(report, indent=2)
        )
        print(f"report written to {args.report}")
    return 0
