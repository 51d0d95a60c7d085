"""``pyskl data convert``: layout conversion and CTR-GCN / 2s-AGCN NTU array import."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "convert layouts (mediapipe33/openpose18 -> coco17, ...) or import CTR-GCN .npz / 2s-AGCN .npy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    layout = kinds.add_parser("layout", help="change the joint layout of an annotation pickle")
    layout.add_argument("input", type=Path)
    layout.add_argument("output", type=Path)
    layout.add_argument("--src", required=True, help="source layout: mediapipe33, openpose18, coco17, hand21")
    layout.add_argument("--dst", required=True, help="target layout: coco17, openpose18, ...")
    npz = kinds.add_parser("ctrgcn", help="CTR-GCN NTU .npz (x_train [N, 300, 150], one-hot y) -> pickle")
    npz.add_argument("input", type=Path, help="e.g. NTU60_CS.npz")
    npz.add_argument("output", type=Path)
    npz.add_argument("--prefix", help="split prefix (default: from the file name, _CS -> xsub, _CV -> xview)")
    npz.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    npy = kinds.add_parser("agcn", help="2s-AGCN NTU .npy [N, 3, T, 25, 2] + label pickle -> pickle")
    npy.add_argument("input", type=Path, help="e.g. train_data_joint.npy")
    npy.add_argument("labels", type=Path, help="the (sample_names, labels) pickle, e.g. train_label.pkl")
    npy.add_argument("output", type=Path)
    npy.add_argument("--split", required=True, help="split name for these samples, e.g. xsub_train")
    npy.add_argument("--dtype", default="float16", choices=("float16", "float32"))


def run(args: argparse.Namespace) -> int:
    from ..datasets.io import load_annotations, save_annotations

    if args.kind == "layout":
        from ..datasets.layout_convert import convert_annotation

        data = load_annotations(args.input)
        anns = data["annotations"] if isinstance(data, dict) else data
        converted = [convert_annotation(a, args.src, args.dst) for a in anns]
        out = dict(data, annotations=converted) if isinstance(data, dict) else converted
        save_annotations(out, args.output)
        print(f"wrote {args.output}: {len(converted)} samples, {args.src} -> {args.dst}")
        return 0
    from ..datasets.ctrgcn_import import import_agcn_npy, import_ctrgcn_npz

    if args.kind == "ctrgcn":
        data = import_ctrgcn_npz(args.input, prefix=args.prefix, dtype=args.dtype)
    else:
        data = import_agcn_npy(args.input, args.labels, args.split, dtype=args.dtype)
    save_annotations(data, args.output)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in data["split"].items())
    print(f"wrote {args.output}: {len(data['annotations'])} samples ({sizes})")
    return 0
