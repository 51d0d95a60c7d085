"""``pyskl data synth``: write a synthetic skeleton-action annotation file (PYSKL format)."""
from __future__ import annotations

import argparse
import time

from ._common import UsageError

HELP = "write a synthetic NTU-25 3D / COCO-17 2D annotation pickle (xsub/xview splits)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output .pkl path")
    parser.add_argument("--kind", choices=("ntu3d", "coco2d", "rgbpose"), default="ntu3d",
                        help="ntu3d: NTU-25 joints, 3D metres; coco2d: COCO-17 joints, pixels + scores; "
                             "rgbpose: coco2d plus a small video per sample (RGBPoseConv3D)")
    parser.add_argument("--video-dir", default=None,
                        help="rgbpose: where <frame_dir>.mp4 go (default: videos/ next to --out)")
    parser.add_argument("--shuffle-labels", action="store_true",
                        help="rgbpose: permute the labels over the samples (a control that cannot be "
                             "learned)")
    parser.add_argument("--seed", type=int, default=0, help="everything derives from it (default 0)")
    parser.add_argument("--num-classes", type=int, default=10, help="first N synthetic classes (max 13)")
    parser.add_argument("--num-subjects", type=int, default=10, help="subjects (xsub val: every third)")
    parser.add_argument("--samples-per-class", type=int, default=40, help="samples of each class")
    parser.add_argument("--frames", type=int, nargs=2, default=(40, 120), metavar=("MIN", "MAX"),
                        help="sequence length range, inclusive (default 40 120)")
    parser.add_argument("--second-person", type=float, default=0.15,
                        help="probability of an idle second person (default 0.15)")


def run(args: argparse.Namespace) -> int:
    from pyskl.datasets.synthetic import SYNTHETIC_CLASSES, write_synthetic

    start = time.perf_counter()
    try:
        path = write_synthetic(args.out, kind=args.kind, seed=args.seed, num_classes=args.num_classes,
                               num_subjects=args.num_subjects, samples_per_class=args.samples_per_class,
                               frames=tuple(args.frames), second_person=args.second_person,
                               video_dir=args.video_dir, shuffle_labels=args.shuffle_labels)
    except ValueError as err:
        raise UsageError(str(err)) from err
    total = args.num_classes * args.samples_per_class
    print(f"wrote {path}: {total} {args.kind} samples, {args.num_classes} classes "
          f"({', '.join(SYNTHETIC_CLASSES[:args.num_classes])}), splits xsub_train/xsub_val/xview_train/xview_val "
          f"in {time.perf_counter() - start:.1f}s")
    return 0
