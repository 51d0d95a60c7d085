"""Reading RGB frames from a video file with OpenCV, for the ops that stand in for PYSKL's decord.

Frames are decoded in order up to the last one asked for, so every index gives exactly that frame
(seeking by timestamp is not frame-accurate in every container); only the requested frames are kept.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from .compose import PipelineError

__all__ = ["VideoFile", "read_video_frames"]


def _open(path: str, num_threads: int) -> cv2.VideoCapture:
    if not os.path.isfile(path):
        raise PipelineError(f"video file {path!r} does not exist (check data_prefix and frame_dir, or "
                            "set results['filename'])")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise PipelineError(f"video file {path!r} cannot be opened by OpenCV (not a video, or an "
                            "unsupported codec)")
    if num_threads > 0 and hasattr(cv2, "CAP_PROP_N_THREADS"):
        cap.set(cv2.CAP_PROP_N_THREADS, num_threads)
    return cap


def read_video_frames(path: str, frame_inds: Sequence[int] | np.ndarray,
                      num_threads: int = 1) -> list[np.ndarray]:
    """The frames ``frame_inds`` (any order, repeats allowed) of ``path`` as RGB uint8 ``[H, W, 3]``.

    Raises:
        PipelineError: the file is missing or unreadable, or an index is negative or past its end.
    """
    inds = np.asarray(frame_inds, dtype=np.int64).reshape(-1)
    if inds.size == 0:
        return []
    if inds.min() < 0:
        raise PipelineError(f"video {path!r}: frame index {int(inds.min())} is negative")
    wanted = set(inds.tolist())
    last = int(inds.max())
    frames: dict[int, np.ndarray] = {}
    cap = _open(path, num_threads)
    try:
        for index in range(last + 1):
            if index in wanted:
                ok, frame = cap.read()
                if ok:
                    frames[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            else:
                ok = cap.grab()
            if not ok:
                raise PipelineError(f"video {path!r} has {index} frames; frame {last} was asked for "
                                    "(total_frames in the annotation does not match the video?)")
    finally:
        cap.release()
    return [frames[i] for i in inds.tolist()]


class VideoFile:
    """A video path with its exact frame count: what ``DecordInit`` puts in ``results['video_reader']``.

    Holds no open handle, so it pickles and crosses DataLoader workers.

    Args:
        path: the video file.
        num_threads: decoder threads (OpenCV's ``CAP_PROP_N_THREADS``; 0 leaves OpenCV's default).
    """

    def __init__(self, path: str, num_threads: int = 1) -> None:
        self.path = str(path)
        self.num_threads = num_threads
        cap = _open(self.path, num_threads)
        try:
            count = 0
            while cap.grab():
                count += 1
        finally:
            cap.release()
        if count == 0:
            raise PipelineError(f"video file {self.path!r} has no decodable frames")
        self.num_frames = count

    def __len__(self) -> int:
        return self.num_frames

    def get_frames(self, frame_inds: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """RGB uint8 frames ``[H, W, 3]`` at ``frame_inds``."""
        return read_video_frames(self.path, frame_inds, self.num_threads)

    def __repr__(self) -> str:
        return f"VideoFile({self.path!r}, num_frames={self.num_frames})"
