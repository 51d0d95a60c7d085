"""MMAction2-style frame sampling and decoding that PYSKL registers: ``SampleFrames``, ``ArrayDecode``,
``DecordInit`` and ``DecordDecode`` (videos read with OpenCV; decord is not needed).

No PYSKL skeleton config uses them; user configs derived from MMAction2's RGB recipes do.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require
from .video_io import VideoFile

__all__ = ["ArrayDecode", "DecordDecode", "DecordInit", "SampleFrames", "sample_frames_offsets"]


def sample_frames_offsets(num_frames: int, clip_len: int, frame_interval: int, num_clips: int,
                          test_mode: bool, twice_sample: bool = False, keep_tail_frames: bool = False,
                          rng: Any = np.random) -> np.ndarray:
    """Start frame of each clip, MMAction2's ``SampleFrames`` rule (``rng``: numpy's global by default).

    Train: clips spread over ``num_clips`` equal segments with a random shift inside each (several
    fallbacks for short videos); test: the middle of each segment (plus the unshifted starts with
    ``twice_sample``).
    """
    span = clip_len * frame_interval
    if test_mode:
        avg = (num_frames - span + 1) / float(num_clips)
        if num_frames <= span - 1:
            return np.zeros(num_clips, dtype=np.int64)
        base = np.arange(num_clips) * avg
        offsets = (base + avg / 2.0).astype(np.int64)
        return np.concatenate([offsets, base.astype(np.int64)]) if twice_sample else offsets
    if keep_tail_frames:
        avg = (num_frames - span + 1) / float(num_clips)
        if num_frames > span - 1:
            base = np.arange(num_clips) * avg
            return (base + rng.uniform(0, avg, num_clips)).astype(np.int64)
        return np.zeros(num_clips, dtype=np.int64)
    avg = (num_frames - span + 1) // num_clips
    if avg > 0:
        return np.arange(num_clips) * avg + rng.randint(avg, size=num_clips)
    if num_frames > max(num_clips, span):
        return np.sort(rng.randint(num_frames - span + 1, size=num_clips))
    if avg == 0:
        ratio = (num_frames - span + 1.0) / num_clips
        return np.around(np.arange(num_clips) * ratio).astype(np.int64)
    return np.zeros(num_clips, dtype=np.int64)


@TRANSFORMS.register()
class SampleFrames(Transform):
    """Clips of ``clip_len`` frames ``frame_interval`` apart, MMAction2's/PYSKL's ``SampleFrames``.

    Random draws come from numpy's global RNG, as PYSKL's.

    Required keys: total_frames, start_index (default 0), test_mode (default False).
    Added keys: frame_inds (int64 ``[clips * clip_len]``), clip_len, frame_interval, num_clips.

    Args:
        clip_len: frames per clip.
        frame_interval: step between sampled frames.
        num_clips: clips per video (doubled in test mode with ``twice_sample``).
        temporal_jitter: add a random ``[0, frame_interval)`` offset to each frame.
        twice_sample: in test mode, also sample the unshifted clip starts.
        out_of_bound_opt: ``'loop'`` (wrap around) or ``'repeat_last'`` (repeat the clip's last
            valid frame) for indices past the end.
        start_index: not used (PYSKL warns; the dataset sets ``results['start_index']``).
        keep_tail_frames: MMAction2's float-interval train sampling that can reach the last frames.
    """

    def __init__(self, clip_len: int, frame_interval: int = 1, num_clips: int = 1,
                 temporal_jitter: bool = False, twice_sample: bool = False, out_of_bound_opt: str = "loop",
                 start_index: Any = None, keep_tail_frames: bool = False) -> None:
        if out_of_bound_opt not in ("loop", "repeat_last"):
            raise ValueError(f"SampleFrames: out_of_bound_opt must be 'loop' or 'repeat_last', "
                             f"got {out_of_bound_opt!r}")
        for name, value in (("clip_len", clip_len), ("frame_interval", frame_interval),
                            ("num_clips", num_clips)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SampleFrames: {name} must be a positive int, got {value!r}")
        if start_index is not None:
            warnings.warn("SampleFrames: start_index is not used here; the dataset sets "
                          "results['start_index']", UserWarning, stacklevel=2)
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.temporal_jitter = temporal_jitter
        self.twice_sample = twice_sample
        self.out_of_bound_opt = out_of_bound_opt
        self.keep_tail_frames = keep_tail_frames

    def __call__(self, results: dict) -> dict:
        total = require(self, results, "total_frames")
        if not isinstance(total, (int, np.integer)) or total < 1:
            raise PipelineError(f"SampleFrames: results['total_frames'] must be a positive int, "
                                f"got {total!r}")
        offsets = sample_frames_offsets(int(total), self.clip_len, self.frame_interval, self.num_clips,
                                        bool(results.get("test_mode", False)), self.twice_sample,
                                        self.keep_tail_frames)
        inds = (offsets[:, None] + np.arange(self.clip_len)[None] * self.frame_interval).reshape(-1)
        if self.temporal_jitter:
            inds = inds + np.random.randint(self.frame_interval, size=len(inds))
        inds = inds.reshape(-1, self.clip_len)
        if self.out_of_bound_opt == "loop":
            inds = np.mod(inds, total)
        else:
            inside = inds < total
            last = np.max(inside * inds, axis=1, keepdims=True)
            inds = np.where(inside, inds, last)
        results["frame_inds"] = (inds.reshape(-1) + results.get("start_index", 0)).astype(np.int64)
        results["clip_len"] = self.clip_len
        results["frame_interval"] = self.frame_interval
        results["num_clips"] = self.num_clips
        return results


def _frame_inds(op: str, results: dict) -> np.ndarray:
    inds = np.asarray(require(op, results, "frame_inds"))
    if inds.ndim != 1:
        inds = np.squeeze(inds)
        results["frame_inds"] = inds
    return inds.reshape(-1)


@TRANSFORMS.register()
class ArrayDecode(Transform):
    """Frames from an in-memory array ``results['array'] [T, H, W, C]``, PYSKL's ``ArrayDecode``.

    ``'RGB'`` takes ``array[i]``; ``'Flow'`` takes the two channels of ``array[i]`` as two images.

    Required keys: array, frame_inds, modality; optional offset (added to every index).
    Added keys: imgs (list), original_shape, img_shape.
    """

    def __call__(self, results: dict) -> dict:
        array = require(self, results, "array")
        modality = results.get("modality", "RGB")
        inds = _frame_inds("ArrayDecode", results) + results.get("offset", 0)
        if inds.size and (inds.min() < 0 or inds.max() >= len(array)):
            raise PipelineError(f"ArrayDecode: frame index {int(inds.max())} outside the array's "
                                f"{len(array)} frames")
        if modality == "RGB":
            imgs = [array[i] for i in inds]
        elif modality == "Flow":
            imgs = [img for i in inds for img in (array[i, ..., 0], array[i, ..., 1])]
        else:
            raise PipelineError(f"ArrayDecode: modality must be 'RGB' or 'Flow', got {modality!r}")
        results["imgs"] = imgs
        results["original_shape"] = imgs[0].shape[:2]
        results["img_shape"] = imgs[0].shape[:2]
        return results


@TRANSFORMS.register()
class DecordInit(Transform):
    """Open ``results['filename']`` and count its frames, PYSKL's ``DecordInit`` on OpenCV.

    Required keys: filename.
    Added keys: video_reader (a picklable ``VideoFile``), total_frames (exact frame count).

    Args:
        io_backend: only ``'disk'``.
        num_threads: decoder threads.
    """

    def __init__(self, io_backend: str = "disk", num_threads: int = 1) -> None:
        if io_backend != "disk":
            raise ValueError(f"DecordInit: only io_backend='disk' is supported, got {io_backend!r}")
        self.io_backend = io_backend
        self.num_threads = num_threads

    def __call__(self, results: dict) -> dict:
        reader = VideoFile(require(self, results, "filename"), self.num_threads)
        results["video_reader"] = reader
        results["total_frames"] = len(reader)
        return results


@TRANSFORMS.register()
class DecordDecode(Transform):
    """Decode the ``frame_inds`` frames of ``results['video_reader']``, PYSKL's ``DecordDecode``.

    Every mode decodes frame-exactly (``mode`` is accepted for configs that set it).

    Required keys: video_reader, frame_inds.
    Added keys: imgs (list of RGB uint8 ``[H, W, 3]``), original_shape, img_shape.
    Modified keys: video_reader (None).
    """

    def __init__(self, mode: str = "accurate") -> None:
        if mode not in ("accurate", "efficient"):
            raise ValueError(f"DecordDecode: mode must be 'accurate' or 'efficient', got {mode!r}")
        self.mode = mode

    def __call__(self, results: dict) -> dict:
        reader = require(self, results, "video_reader")
        inds = _frame_inds("DecordDecode", results)
        imgs = reader.get_frames(inds)
        results["video_reader"] = None
        results["imgs"] = imgs
        results["original_shape"] = imgs[0].shape[:2]
        results["img_shape"] = imgs[0].shape[:2]
        return results
