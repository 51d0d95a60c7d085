"""``pyskl data check FILE``: validation report for an annotation pickle or packed directory.

The summary goes to stdout and the problems to stderr, every sample's, not just the first. Exit status:
0 when the file has no problem, 1 when it has some (all listed), 2 when it cannot be read (one
``error: ...`` line; with ``--json`` a report naming that error is printed too).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HELP = "validate an annotation file and summarise it (counts, layouts, frames, labels, problems)"

# joints per person -> the layout PYSKL uses with that count
LAYOUT_BY_JOINTS = {25: "nturgb+d", 17: "coco", 18: "openpose", 21: "handmp", 33: "mediapipe33"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="annotation pickle or packed directory")
    parser.add_argument("--num-classes", type=int, help="labels must be below this")
    parser.add_argument("--label-map", help="label map name or file, to print class names in the histogram")
    parser.add_argument("--max-problems", type=int, default=20, help="problems listed (all are counted)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _load(path: Path) -> tuple[dict | None, Any]:
    """(split dict or None, sequence of samples), without validating."""
    from ..datasets.packed import is_packed, open_packed

    if path.is_dir() and is_packed(path):
        return open_packed(path)
    from ..datasets.io import load_annotations

    data = load_annotations(path, validate=False)
    if isinstance(data, dict):
        return data.get("split"), data.get("annotations")
    return None, data


def check_annotations(
    split: dict | None, annotations: Any, source: str, num_classes: int | None = None, max_problems: int = 20
) -> dict:
    """Validate every sample (all problems, not just the first) and gather summary statistics."""
    from ..datasets.validation import AnnotationError, validate_sample, validate_split

    problems: list[str] = []
    num_problems = 0
    if not isinstance(annotations, Sequence) or isinstance(annotations, str):  # lists and packed samples
        found = "no 'annotations' list" if annotations is None else f"'annotations' is a {type(annotations).__name__}"
        return {
            "file": source,
            "num_samples": 0,
            "problems": [f"{source}: {found}; expected a list of samples (dicts)"],
            "num_problems": 1,
        }
    names: dict[str, list[int]] = {}
    unlabelled: list[str] = []
    layouts: Counter = Counter()
    kinds: Counter = Counter()
    persons: Counter = Counter()
    labels: Counter = Counter()
    frames = []
    for index in range(len(annotations)):
        sample = annotations[index]
        try:
            validate_sample(sample, index, source, num_classes)
        except AnnotationError as err:
            num_problems += 1
            if len(problems) < max_problems:
                problems.append(str(err))
        if not isinstance(sample, dict):
            continue
        kp = sample.get("keypoint")
        if isinstance(kp, np.ndarray) and kp.ndim >= 3:
            compressed = "frame_inds" in sample and kp.ndim == 3
            joints, channels = kp.shape[-2], kp.shape[-1]
            dims = "2D" if channels == 2 or "keypoint_score" in sample or compressed else "3D"
            layouts[f"V={joints} ({LAYOUT_BY_JOINTS.get(joints, 'unknown')})"] += 1
            kinds[f"{dims}, C={channels}{', compressed (K400-style)' if compressed else ''}, {kp.dtype}"] += 1
            if kp.ndim == 4:
                persons[int(kp.shape[0])] += 1
        elif "raw_file" in sample:
            kinds["keypoints in raw_file (memcached/kpfile)"] += 1
        if isinstance(sample.get("total_frames"), (int, np.integer)):
            frames.append(int(sample["total_frames"]))
        name = sample.get("filename", sample.get("frame_dir"))
        if isinstance(name, str):
            names.setdefault(name, []).append(index)
        label = sample.get("label")
        if isinstance(label, (int, np.integer)) and int(label) == -1:
            unlabelled.append(str(name))
        elif isinstance(label, (int, np.integer)):
            labels[int(label)] += 1
    for name, where in names.items():
        if len(where) > 1:
            num_problems += 1
            if len(problems) < max_problems:
                shown = ", ".join(map(str, where[:5])) + (", ..." if len(where) > 5 else "")
                problems.append(f"{source}: sample name {name!r} is used by {len(where)} samples (indices {shown}); "
                                "names must be unique (splits and results refer to samples by name)")
    if unlabelled:
        num_problems += 1
        if len(problems) < max_problems:
            problems.append(f"{source}: {len(unlabelled)} sample(s) are unlabelled (label -1), e.g. {unlabelled[0]!r}; "
                            "training and testing need a class index for every sample")
    split_sizes = {}
    if split is not None:
        try:
            if hasattr(annotations, "column"):  # packed: check names without loading arrays
                key = "filename" if "filename" in annotations.scalar_fields() else "frame_dir"
                names = [{key: name} for name in annotations.column(key)]
            else:
                names = list(annotations)
            validate_split(split, names, source)
        except AnnotationError as err:
            num_problems += 1
            problems.append(str(err))
        if isinstance(split, dict):
            split_sizes = {str(k): len(v) for k, v in split.items() if isinstance(v, (list, tuple))}
    frame_stats = {}
    if frames:
        arr = np.asarray(frames)
        frame_stats = {
            "min": int(arr.min()),
            "median": float(np.median(arr)),
            "mean": round(float(arr.mean()), 1),
            "max": int(arr.max()),
            "total": int(arr.sum()),
        }
    return {
        "file": source,
        "num_samples": len(annotations),
        "splits": split_sizes,
        "layouts": dict(layouts),
        "kinds": dict(kinds),
        "persons": {str(k): v for k, v in sorted(persons.items())},
        "frames": frame_stats,
        "num_classes_seen": len(labels),
        "label_range": [min(labels), max(labels)] if labels else None,
        "num_unlabelled": len(unlabelled),
        "label_histogram": {str(k): v for k, v in sorted(labels.items())},
        "num_classes": num_classes,
        "num_problems": num_problems,
        "problems": problems,
    }


def _print_report(report: dict, class_names: list[str] | None) -> None:
    print(f"{report['file']}: {report['num_samples']} samples")
    if report.get("splits"):
        print("  splits:   " + ", ".join(f"{k} {v}" for k, v in report["splits"].items()))
    for title, key in (("layouts", "layouts"), ("data", "kinds")):
        if report.get(key):
            print(f"  {title + ':':9} " + "; ".join(f"{k}: {v}" for k, v in report[key].items()))
    if report.get("persons"):
        print("  persons:  " + ", ".join(f"M={k}: {v}" for k, v in report["persons"].items()))
    if report.get("frames"):
        f = report["frames"]
        print(f"  frames:   min {f['min']}, median {f['median']:g}, mean {f['mean']}, max {f['max']}")
    hist = report.get("label_histogram") or {}
    if hist:
        counts = np.array(list(hist.values()))
        low, high = report["label_range"]
        checked = "" if report.get("num_classes") else " (pass --num-classes to check them against the model)"
        print(
            f"  labels:   {report['num_classes_seen']} classes, "
            f"{counts.min()}-{counts.max()} samples per class, range {low}-{high}{checked}"
        )
        top = sorted(hist.items(), key=lambda kv: -kv[1])
        shown = (
            top[:5] + ([("...", None)] if len(top) > 10 else []) + (top[-5:] if len(top) > 10 else top[5:10])
        )
        for label, count in shown:
            if count is None:
                print("            ...")
                continue
            name = ""
            if class_names is not None and label.isdigit() and int(label) < len(class_names):
                name = f" {class_names[int(label)]}"
            print(f"            {label:>5}{name}: {count}")
    if report["num_problems"]:
        sys.stdout.flush()  # keep the order of the two streams on a terminal
        print(f"  problems: {report['num_problems']}", file=sys.stderr)
        for line in report["problems"]:
            print(f"    {line}", file=sys.stderr)
        if report["num_problems"] > len(report["problems"]):
            print(f"    ... and {report['num_problems'] - len(report['problems'])} more (--max-problems N lists more)",
                  file=sys.stderr)
    else:
        print("  problems: none")


def run(args: argparse.Namespace) -> int:
    from ..datasets.validation import AnnotationError

    try:
        split, annotations = _load(args.file)
        if hasattr(annotations, "__len__") and len(annotations) == 0:
            raise AnnotationError(f"{args.file}: holds no samples (the annotation list is empty)")
        report = check_annotations(split, annotations, str(args.file), args.num_classes, args.max_problems)
    except (ValueError, OSError) as err:  # pyskl's file errors are ValueErrors
        if args.json:  # a script reading the report still gets one; the error line goes to stderr as always
            print(json.dumps({"file": str(args.file), "num_problems": 1, "problems": [str(err)]}))
        raise
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        class_names = None
        if args.label_map:
            from ..label_maps import load_label_map

            class_names = load_label_map(args.label_map)
        _print_report(report, class_names)
    return 1 if report["num_problems"] else 0
