"""``pyskl extract VIDEO_DIR_OR_LIST OUT.pkl``: videos -> 2D skeleton annotation pickle (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "videos -> 2D skeleton annotation pickle (mediapipe pose, tracking, COCO-17; resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a folder of videos, or a list file with one 'PATH [LABEL]' per line")
    parser.add_argument(
        "out", help="output annotation pickle (OUT.pkl; OUT.pkl.parts/ holds finished videos)"
    )
    parser.add_argument(
        "--backend",
        default="mediapipe",
        choices=["mediapipe", "onnx"],
        help="pose backend (default mediapipe; onnx needs --backend-model)",
    )
    parser.add_argument(
        "--backend-model", default=None, help="model file for the onnx backend (e.g. RTMO .onnx)"
    )
    parser.add_argument(
        "--max-persons",
        type=int,
        default=2,
        help="persons tracked per video (default 2; BlazePose's detector finds every person)",
    )
    parser.add_argument(
        "--layout",
        default="coco",
        choices=["coco", "mediapipe"],
        help="output joints: COCO-17 (default) or mediapipe's 33",
    )
    parser.add_argument(
        "--model-complexity", type=int, default=1, choices=[1], help="mediapipe model size (only 1 ships)"
    )
    parser.add_argument("--max-frames", type=int, default=None, help="only the first N frames of each video")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..pose.extract import extract_videos, read_video_list
    from ..utils.atomic import DiskFullError
    from ..utils.lock import OutputBusyError, clean_stale_temporaries, lock_output

    try:
        items = read_video_list(args.source)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}")
        return 2
    if args.backend == "onnx":
        kwargs = {"model": args.backend_model}
    else:
        kwargs = {"layout": args.layout, "model_complexity": args.model_complexity}
    try:
        with lock_output(args.out):  # one extraction per output; its dead writers' temporaries go
            out = Path(args.out)
            clean_stale_temporaries(out.parent, out.name)
            clean_stale_temporaries(out.with_name(out.name + ".parts"))
            report = extract_videos(
                items,
                args.out,
                backend=args.backend,
                max_persons=args.max_persons,
                backend_kwargs=kwargs,
                max_frames=args.max_frames,
                progress=not args.no_progress,
            )
    except (OutputBusyError, DiskFullError) as err:
        print(f"error: {err}")
        return 2
    print(
        f"extract: {len(report.done)} done, {len(report.skipped)} skipped (already done), "
        f"{len(report.errors)} failed -> {args.out}"
    )
    if report.fps is not None:
        print(f"  {report.fps:.1f} frames/s end to end (decoding, pose, tracking)")
        print(f"  tracking report (people per frame, track ids, id switches): {args.out}.tracks.json")
    for reason in report.errors.values():
        print(f"  failed: {reason}")
    if report.errors:
        print(f"  error report: {args.out}.errors.json")
    return 1 if report.errors else 0
