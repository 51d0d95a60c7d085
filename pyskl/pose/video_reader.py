"""Reading video frames with OpenCV, with one clear error per kind of bad file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "VIDEO_EXTENSIONS", "VideoError", "VideoInfo", "iter_frames", "list_videos", "probe_video", "read_ahead",
]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


class VideoError(RuntimeError):
    """A video that cannot be used: missing, unreadable, not a video, or without frames."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float
    frame_count: int  # as the container reports it (may be 0 or wrong for some files)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open ``path`` and report its size, fps and frame count; raise :class:`VideoError` if unusable."""
    import cv2

    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoError(f"{path}: no such file")
    if os.path.isdir(path):
        raise VideoError(f"{path}: is a directory, not a video")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{path}: zero-length file")
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoError(f"{path}: not a readable video (OpenCV cannot open it)")
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
        count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        ok, _ = cap.read()
        if not ok or width <= 0 or height <= 0:
            raise VideoError(f"{path}: not a readable video (no decodable frame)")
    finally:
        cap.release()
    return VideoInfo(path, width, height, fps if 0 < fps < 1000 else 30.0, count)


def iter_frames(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield BGR uint8 frames ``[H, W, 3]`` one at a time (constant memory)."""
    import cv2

    probe_video(path)
    cap = cv2.VideoCapture(os.fspath(path))
    try:
        n = 0
        while max_frames is None or n < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
    finally:
        cap.release()


def read_ahead(frames: Iterator[np.ndarray], depth: int = 2) -> Iterator[np.ndarray]:
    """``frames`` in order, up to ``depth`` of them decoded ahead on a worker thread (OpenCV releases
    the GIL while decoding, so decoding overlaps the caller's work on the current frame)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    end = object()
    with ThreadPoolExecutor(1, thread_name_prefix="decode") as pool:
        jobs = deque(pool.submit(next, frames, end) for _ in range(depth))
        try:
            while True:
                frame = jobs.popleft().result()
                if frame is end:
                    return
                jobs.append(pool.submit(next, frames, end))
                yield frame
        finally:  # stopped early: let the queued reads finish before the video is released
            for job in jobs:
                job.cancel()


def list_videos(folder: str | os.PathLike) -> list[Path]:
    """Video files (by extension) directly inside ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
