"""``pyskl extract SOURCE... OUT.pkl``: videos -> 2D skeleton annotation pickle (resumable).

A SOURCE is a video file, a glob of videos (``'clips/*.mp4'``), a folder, or a list file (one
``PATH [LABEL]`` per line). A folder holds videos (unlabelled) or one subfolder per class: then the
labels are the classes in name order and their names go to ``OUT.labels.txt``, a label map for
``pyskl demo``. ``--val-fraction`` adds ``train``/``val`` splits.

A video that cannot be read is listed on stderr and does not stop the others. Exit status: 0 when every
video is in OUT, 1 when some failed (the others are in OUT), 2 when nothing could be extracted or an
input or option is wrong (one ``error: ...`` line).
"""

from __future__ import annotations

import argparse
import glob
import math
import sys
from pathlib import Path

from ._common import UsageError, require_positive

# Bytes sniffed to tell a text list file from a binary (video) file.
_SNIFF_BYTES = 4096

HELP = "videos -> 2D skeleton annotation pickle (mediapipe pose, tracking, COCO-17; resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="video files, globs ('clips/*.mp4'), folders (videos, or one subfolder of videos per "
                             "class), or list files with one 'PATH [LABEL]' per line")
    parser.add_argument(
        "out", help="output annotation pickle (OUT.pkl; OUT.pkl.parts/ holds finished videos)"
    )
    parser.add_argument("--val-fraction", type=float, default=0.0, metavar="F",
                        help="put this fraction of each class's videos (the last by name) in a 'val' split and "
                             "the rest in 'train' (default 0: only the 'extract' split)")
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
    from ..pose.extract import extract_videos
    from ..pose.video_reader import VideoError
    from ..utils.lock import clean_stale_temporaries, lock_output

    require_positive(args, "max_persons", "max_frames")
    if not 0.0 <= args.val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if Path(args.out).suffix.lower() not in (".pkl", ".pickle"):
        raise UsageError(f"{args.out}: the output must be an annotation pickle ending in .pkl "
                         "(the last argument is the output; the ones before it are the videos)")
    items, class_names = collect_videos(args.sources)
    if args.backend == "onnx":
        kwargs = {"model": args.backend_model}
    else:
        kwargs = {"layout": args.layout, "model_complexity": args.model_complexity}
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
    _print_failures(report.errors)
    if not Path(args.out).is_file():
        raise VideoError(f"none of the {len(report.errors)} videos could be extracted (reasons above and in "
                         f"{args.out}.errors.json), so {args.out} was not written")
    if class_names:
        labels_path = Path(args.out).with_suffix(".labels.txt")
        labels_path.write_text("".join(f"{name}\n" for name in class_names), encoding="utf-8")
        print(f"extract: {len(class_names)} classes (label map) -> {labels_path}")
    if args.val_fraction > 0:
        train, val = add_train_val_splits(args.out, args.val_fraction)
        print(f"extract: splits 'train' ({train} videos) and 'val' ({val} videos)")
    print(
        f"extract: {len(report.done)} done, {len(report.skipped)} skipped (already done), "
        f"{len(report.errors)} failed -> {args.out}"
    )
    if report.fps is not None:
        print(f"  {report.fps:.1f} frames/s end to end (decoding, pose, tracking)")
        print(f"  tracking report (people per frame, track ids, id switches): {args.out}.tracks.json")
    if report.errors:
        # The videos that failed did not stop the others, whose skeletons are in OUT: a partial result,
        # status 1 (status 2 is for a run that produced nothing).
        print(f"extract: {len(report.errors)} video(s) failed (reasons in {args.out}.errors.json): fix or remove "
              "them and run again; the finished videos are kept", file=sys.stderr)
        return 1
    return 0


def _print_failures(errors: dict[str, str]) -> None:
    """The videos that could not be read, on stderr, where errors go (each reason names its video)."""
    sys.stdout.flush()  # keep the order of the two streams on a terminal
    for reason in errors.values():
        print(f"extract: failed: {reason}", file=sys.stderr)


def collect_videos(sources: list[str]) -> tuple[list, list[str]]:
    """The videos the command line names, with labels; plus class names when they come from class folders.

    Raises:
        UsageError: a source that is missing, a text file with a video's extension, an empty folder or glob,
            or two videos that would get the same sample name (frame_dir).
    """
    from ..pose.extract import VideoItem, read_video_list
    from ..pose.video_reader import VIDEO_EXTENSIONS, list_videos

    items: list = []
    class_names: list[str] = []
    for source in sources:
        path = Path(source)
        if not path.exists() and glob.has_magic(source):
            matches = sorted(Path(m) for m in glob.glob(source) if Path(m).suffix.lower() in VIDEO_EXTENSIONS)
            if not matches:
                raise UsageError(f"{source}: the pattern matches no video ({', '.join(VIDEO_EXTENSIONS)})")
            items += [VideoItem(m) for m in matches]
        elif path.is_dir():
            videos = list_videos(path)
            classes = sorted(d for d in path.iterdir() if d.is_dir() and list_videos(d))
            if videos and classes:
                raise UsageError(f"{path}: holds both videos and class folders ({classes[0].name}/, ...); "
                                 "keep the videos of each class in its folder")
            if classes:
                if class_names:
                    raise UsageError(f"{path}: only one folder of class folders can be given (labels are the "
                                     "class folders' positions in name order)")
                class_names = [d.name for d in classes]
                items += [VideoItem(v, label) for label, d in enumerate(classes) for v in list_videos(d)]
            elif videos:
                items += [VideoItem(v) for v in videos]
            else:
                raise UsageError(f"{path}: no videos in this folder or in its subfolders "
                                 f"(looked for {', '.join(VIDEO_EXTENSIONS)})")
        elif path.is_file():
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                if _looks_like_text(path):
                    raise UsageError(f"{path}: a text file, not a video; a list of videos must not end in "
                                     f"{path.suffix} (name it {path.stem}.txt)")
                items.append(VideoItem(path))
            elif _looks_like_text(path):
                try:
                    items += read_video_list(path)
                except ValueError as err:
                    raise UsageError(str(err)) from None
            else:
                raise UsageError(f"{path}: neither a video ({', '.join(VIDEO_EXTENSIONS)}) nor a text list file")
        else:
            raise UsageError(f"{source}: no such file or folder")
    _check_unique_names(items)
    return items, class_names


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as stream:
        head = stream.read(_SNIFF_BYTES)
    if not head or b"\0" in head:  # an empty file is a (broken) video: the extractor reports it
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(head) - 3  # a multi-byte character cut by the sniff window
    return True


def _check_unique_names(items: list) -> None:
    """Each video becomes the sample named by its file stem: two videos may not share one."""
    seen: dict[str, Path] = {}
    for item in items:
        other = seen.setdefault(item.frame_dir, item.path)
        if other != item.path:
            raise UsageError(f"{other} and {item.path} would both be sample {item.frame_dir!r} (the sample name is "
                             "the file name without its extension): rename one, or give only one of them")


def add_train_val_splits(out: str, val_fraction: float) -> tuple[int, int]:
    """Split the extracted samples into ``train``/``val``: per label, the last ``ceil(f * n)`` by name go to
    val (at least one video of each class stays in train). Returns the two sizes."""
    from ..datasets.io import load_annotations, save_annotations

    data = load_annotations(out, validate=False)
    by_label: dict[int, list[str]] = {}
    for ann in data["annotations"]:
        by_label.setdefault(int(ann["label"]), []).append(ann["frame_dir"])
    train, val = [], []
    for names in by_label.values():
        names = sorted(names)
        n_val = min(math.ceil(val_fraction * len(names)), len(names) - 1)
        train += names[: len(names) - n_val]
        val += names[len(names) - n_val:]
    data["split"] = dict(data.get("split", {}), train=sorted(train), val=sorted(val))
    save_annotations(data, out, validate=False)
    return len(train), len(val)
