"""``pyskl vis``: skeleton samples to mp4/GIF/PNG, heatmap volumes, training curves, confusion matrices."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import UsageError

HELP = "render skeleton samples (mp4/GIF/PNG), heatmap volumes, training curves, confusion matrices"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    sk = kinds.add_parser(
        "skeleton", help="an annotation sample: 2D over video / blank canvas, or 3D projected"
    )
    _sample_args(sk)
    sk.add_argument("--video", default=None, help="draw 2D skeletons over this video")
    sk.add_argument("--layout", default=None, help="joint layout (default: from the joint count)")
    sk.add_argument("--size", type=int, nargs=2, default=None, metavar=("H", "W"), help="canvas size")
    sk.add_argument("--azimuth", type=float, default=30.0, help="3D: view azimuth in degrees (default 30)")
    sk.add_argument(
        "--elevation", type=float, default=15.0, help="3D: view elevation in degrees (default 15)"
    )
    sk.add_argument("--rotate", type=float, default=0.0, help="3D: degrees of azimuth added per frame")
    sk.add_argument("--threshold", type=float, default=0.3, help="2D: hide joints scoring at or below it")
    hm = kinds.add_parser("heatmap", help="the PoseC3D heatmap volume of an annotation sample")
    _sample_args(hm)
    hm.add_argument("--config", default=None, help="use this config's test pipeline (default: a 64x64 one)")
    hm.add_argument("--limb", action="store_true", help="limb heatmaps instead of keypoint heatmaps")
    cv = kinds.add_parser("curves", help="training curves from a work_dir's log.jsonl")
    cv.add_argument("log", help="log.jsonl (or the work_dir holding it)")
    cv.add_argument("out", help="output PNG")
    cm = kinds.add_parser("confusion", help="confusion matrix from `pyskl test --out` results")
    cm.add_argument("results", help="results .pkl or .json")
    cm.add_argument("out", help="output PNG")
    cm.add_argument("--label-map", default=None, help="class names (shipped label map name or text file)")
    cm.add_argument("--config", default=None, help="the model's config: class names from its dataset")
    cm.add_argument("--counts", action="store_true", help="raw counts instead of row-normalised rates")


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("annotations", help="annotation pickle")
    p.add_argument("out", help="output .mp4, .gif or .png (PNG: one frame, see --frame)")
    p.add_argument("--index", type=int, default=0, help="sample index (default 0)")
    p.add_argument("--frame-dir", default=None, help="select the sample by frame_dir instead")
    p.add_argument("--frame", type=int, default=None, help="PNG: which frame (default the middle one)")
    p.add_argument("--fps", type=float, default=30.0, help="mp4/GIF frame rate (default 30)")


def _load_sample(args: argparse.Namespace) -> dict:
    from ..datasets.io import load_annotations

    data = load_annotations(args.annotations, validate=False)
    anns = data["annotations"] if isinstance(data, dict) else data
    if args.frame_dir is not None:
        found = [a for a in anns if a.get("frame_dir") == args.frame_dir]
        if not found:
            raise UsageError(f"{args.annotations}: no sample with frame_dir {args.frame_dir!r}")
        return found[0]
    if not -len(anns) <= args.index < len(anns):
        raise UsageError(f"{args.annotations}: --index {args.index} out of range ({len(anns)} samples)")
    return anns[args.index]


def _write_frames(frames, out: str, fps: float, frame: int | None) -> str:
    from ..viz import VideoWriter, write_gif, write_png

    suffix = Path(out).suffix.lower()
    if suffix == ".png":
        frames = list(frames)
        if frame is not None and not -len(frames) <= frame < len(frames):
            raise UsageError(f"--frame {frame} is out of range: the sample has {len(frames)} frames")
        return str(write_png(out, frames[len(frames) // 2 if frame is None else frame]))
    if suffix == ".gif":
        return str(write_gif(out, list(frames), fps))
    if suffix in (".mp4", ".mov", ".mkv"):
        with VideoWriter(out, fps=fps) as writer:
            for f in frames:
                writer.write(f)
        return f"{out} ({writer.frames} frames, {writer.codec})"
    raise UsageError(f"{out}: the output must end in .mp4, .gif or .png")


def run(args: argparse.Namespace) -> int:
    if args.kind == "skeleton":
        from ..viz.render import render_annotation

        sample = _load_sample(args)
        frames = render_annotation(
            sample,
            args.video,
            args.layout,
            tuple(args.size) if args.size else None,
            args.azimuth,
            args.elevation,
            args.rotate,
            args.threshold,
        )
        print(f"vis: {_write_frames(frames, args.out, args.fps, args.frame)}")
    elif args.kind == "heatmap":
        from ..viz import heatmap_frames
        from ..viz.render import heatmap_volume

        volume = heatmap_volume(_load_sample(args), args.config, with_limb=args.limb)
        print(
            f"vis: heatmap volume {tuple(volume.shape)} (C, T, H, W) -> "
            f"{_write_frames(heatmap_frames(volume), args.out, args.fps, args.frame)}"
        )
    elif args.kind == "curves":
        from ..viz import plot_training_curves

        log = Path(args.log)
        print(f"vis: {plot_training_curves(log / 'log.jsonl' if log.is_dir() else log, args.out)}")
    else:
        from ..core.results import load_results
        from ..viz import plot_confusion_matrix

        results = load_results(args.results)
        if results["labels"] is None:
            raise UsageError(f"{args.results}: the results have no labels (PYSKL's list format); a confusion "
                             "matrix needs pyskl test --out results")
        names = None
        if args.label_map or args.config:
            from ..config import load_config
            from ..label_maps import class_names

            cfg = load_config(args.config) if args.config else None
            names = class_names(results["scores"].shape[1], args.label_map, cfg)
        print(f"vis: {plot_confusion_matrix(results, args.out, names, normalize=not args.counts)}")
    return 0
