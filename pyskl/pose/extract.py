"""Videos -> PYSKL 2D skeleton annotations (``pyskl extract``), resumable, with a per-video error report.

Each finished video is written atomically to ``OUT.pkl.parts/<frame_dir>.pkl`` as soon as it is done;
the combined ``OUT.pkl`` (``{'split': {'extract': [...]}, 'annotations': [...]}``) is rewritten atomically
after every video. A re-run skips videos already in ``OUT.pkl`` or in the parts folder. Videos that
cannot be used (missing, zero-length, not a video, no frames) are listed with the reason in
``OUT.pkl.errors.json`` and do not stop the others.

Every video starts from a fresh state: the backend's ``reset()`` (where it has one) and a new tracker,
so that a video's result never depends on the videos extracted before it in the same run.
``OUT.pkl.tracks.json`` holds each extracted video's tracking figures (frames with each number of people,
track ids, suspected id switches, seconds); a re-run adds to it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backend import PoseBackend, build_pose_backend
from .tracker import PoseTracker, TrackStore
from .video_reader import VideoError, iter_frames, list_videos, probe_video, read_ahead

__all__ = ["ExtractReport", "VideoItem", "extract_video", "extract_videos", "read_video_list"]


@dataclass(frozen=True)
class VideoItem:
    path: Path
    label: int = -1

    @property
    def frame_dir(self) -> str:
        return self.path.stem


def read_video_list(source: str | os.PathLike) -> list[VideoItem]:
    """Videos from a folder (label -1) or a list file: one ``PATH [LABEL]`` per line, ``#`` comments.

    Relative paths in a list file are relative to the list file's folder.
    """
    source = Path(source)
    if source.is_dir():
        return [VideoItem(p) for p in list_videos(source)]
    if not source.is_file():
        raise FileNotFoundError(f"{source}: neither a folder of videos nor a list file")
    items = []
    for lineno, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        label = -1
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            line, label = parts[0], int(parts[1])
        path = Path(line)
        items.append(VideoItem(path if path.is_absolute() else source.parent / path, label))
    if not items:
        raise ValueError(f"{source}: the list file names no video")
    names = [i.frame_dir for i in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{source}: several videos share the name (frame_dir) {dupes[:5]}")
    return items


def extract_video(
    path: str | os.PathLike,
    backend: PoseBackend,
    label: int = -1,
    max_persons: int = 2,
    tracker: PoseTracker | None = None,
    max_frames: int | None = None,
    on_frame: Callable[[], Any] | None = None,
    report: dict | None = None,
) -> dict:
    """Run ``backend`` over every frame of one video, track persons, and build its annotation.

    The backend is reset first (``backend.reset()`` where it has one): nothing carries over from the
    video it saw before. ``report``, when given, receives the tracking figures of
    :meth:`TrackStore.report`, ``'seconds'``, the wall time of decoding, pose and tracking, and
    ``'cpu_seconds'``, the CPU time the process spent meanwhile (all threads).

    Returns:
        ``{'frame_dir', 'label', 'img_shape', 'original_shape', 'total_frames',
        'keypoint' float32 [M, T, V, 2] (pixels), 'keypoint_score' float32 [M, T, V]}``.

    Raises:
        VideoError: unusable video.
    """
    from ..utils.layouts import get_layout

    info = probe_video(path)
    start, cpu_start = time.perf_counter(), time.process_time()
    tracker = tracker or PoseTracker()
    store = TrackStore()
    if hasattr(backend, "reset"):
        backend.reset()
    for frame in read_ahead(iter_frames(path, max_frames)):
        detections = backend(frame)
        store.add(tracker.update(detections), detections)
        if on_frame is not None:
            on_frame()
    if not store.frames:
        raise VideoError(f"{path}: no decodable frame")
    if report is not None:
        report.update(
            store.report(), seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start
        )
    layout = getattr(backend, "layout", "coco")
    kp, score = store.to_arrays(get_layout(layout).num_joints, max_persons)
    shape = (info.height, info.width)
    return {
        "frame_dir": Path(path).stem,
        "label": int(label),
        "img_shape": shape,
        "original_shape": shape,
        "total_frames": int(kp.shape[1]),
        "keypoint": kp,
        "keypoint_score": score,
    }


@dataclass
class ExtractReport:
    """What one ``extract_videos`` run did.

    Attributes:
        done / skipped: frame_dirs extracted now / found already done.
        errors: video path -> reason, for the videos that failed.
        videos: frame_dir -> tracking figures of each video extracted now (:meth:`TrackStore.report`,
            plus ``seconds``).
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    videos: dict[str, dict] = field(default_factory=dict)

    @property
    def fps(self) -> float | None:
        """End-to-end frames per second (decoding, pose and tracking) over the videos extracted now."""
        seconds = sum(v["seconds"] for v in self.videos.values())
        return sum(v["frames"] for v in self.videos.values()) / seconds if seconds > 0 else None


def _atomic_pickle(obj: Any, path: Path) -> None:
    from ..datasets.io import save_annotations

    save_annotations(obj, path, validate=False)


def _load_parts(parts: Path) -> dict[str, dict]:
    from ..datasets.io import load_annotations

    found = {}
    if parts.is_dir():
        for p in sorted(parts.glob("*.pkl")):
            try:
                found[p.stem] = load_annotations(p, validate=False)
            except Exception:  # a torn/corrupt part is simply redone
                continue
    return found


def _write_combined(out: Path, items: list[VideoItem], done: dict[str, dict]) -> None:
    from ..datasets.io import save_annotations

    # listed videos first, in list order; earlier results for videos no longer listed are kept after them
    listed = [i.frame_dir for i in items if i.frame_dir in done]
    order = listed + [k for k in done if k not in set(listed)]
    annotations = [done[k] for k in order]
    save_annotations({"split": {"extract": order}, "annotations": annotations}, out)


def _update_tracks_report(path: Path, videos: dict[str, dict]) -> None:
    """Merge this run's per-video figures into the JSON report at ``path`` (written atomically)."""
    figures: dict = {}
    if path.is_file():
        try:
            figures = json.loads(path.read_text())
        except (ValueError, OSError):  # a torn report is rewritten from this run's figures
            figures = {}
    for name, fig in videos.items():
        figures[name] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in fig.items()}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(figures, indent=1))
    os.replace(tmp, path)


def extract_videos(
    items: Iterable[VideoItem],
    out: str | os.PathLike,
    backend: str | PoseBackend = "mediapipe",
    max_persons: int = 2,
    backend_kwargs: dict | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> ExtractReport:
    """Extract every video into ``out`` (see the module docstring for resuming and errors).

    ``backend`` is a name for :func:`build_pose_backend` (built with ``backend_kwargs`` and ``max_persons``,
    closed at the end) or a ready backend object (left open).
    """
    from ..datasets.io import load_annotations

    out = Path(out)
    parts = out.with_name(out.name + ".parts")
    items = list(items)
    done: dict[str, dict] = {}
    if out.is_file():
        prev = load_annotations(out, validate=False)
        for ann in prev["annotations"] if isinstance(prev, dict) else prev:
            done[ann["frame_dir"]] = ann
    done.update({k: v for k, v in _load_parts(parts).items() if k not in done})
    report = ExtractReport()
    todo = [item for item in items if item.frame_dir not in done]
    report.skipped = [item.frame_dir for item in items if item.frame_dir in done]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="extract", unit="video", file=sys.stderr, dynamic_ncols=True)
    own = isinstance(backend, str)
    pose = (
        backend
        if not own
        else (
            build_pose_backend(backend, **dict(backend_kwargs or {}, max_persons=max_persons))
            if todo
            else None
        )
    )
    try:
        for item in todo:
            if bar is not None:
                bar.set_postfix_str(item.path.name)
            try:
                figures: dict = {}
                ann = extract_video(
                    item.path, pose, item.label, max_persons, max_frames=max_frames, report=figures
                )
            except VideoError as err:
                report.errors[str(item.path)] = str(err)
            except Exception as err:  # noqa: BLE001 - any failure of one video is reported, not fatal
                report.errors[str(item.path)] = f"{item.path}: {type(err).__name__}: {err}"
            else:
                parts.mkdir(parents=True, exist_ok=True)
                _atomic_pickle(ann, parts / f"{item.frame_dir}.pkl")
                done[item.frame_dir] = ann
                report.done.append(item.frame_dir)
                report.videos[item.frame_dir] = figures
                _write_combined(out, items, done)
            if bar is not None:
                bar.update(1)
    finally:
        if own and pose is not None:
            pose.close()
        if bar is not None:
            bar.close()
    if not out.is_file() and done:
        _write_combined(out, items, done)
    if report.videos:
        _update_tracks_report(out.with_name(out.name + ".tracks.json"), report.videos)
    errors_path = out.with_name(out.name + ".errors.json")
    if report.errors:
        errors_path.parent.mkdir(parents=True, exist_ok=True)
        errors_path.write_text(json.dumps(report.errors, indent=1))
    elif errors_path.exists():
        errors_path.unlink()
    return report
