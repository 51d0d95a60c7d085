"""Temporal sampling ops: UniformSampleFrames / UniformSample and UniformSampleDecode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require, require_array
from .functional import sample_clip_indices, uniform_sample_indices

__all__ = ["UniformSample", "UniformSampleDecode", "UniformSampleFrames"]


def _interval(op: str, p_interval: Any) -> tuple[float, float]:
    # PYSKL wants a tuple; a list (what JSON configs give) is accepted as one on purpose.
    if isinstance(p_interval, (int, float)) and not isinstance(p_interval, bool):
        return (p_interval, p_interval)
    if isinstance(p_interval, (tuple, list)) and len(p_interval) == 2:
        return (p_interval[0], p_interval[1])
    raise ValueError(f"{op}: p_interval must be a number or a (low, high) pair, got {p_interval!r}")


def _check_clip_args(op: str, clip_len: Any, num_clips: Any) -> None:
    for name, value in (("clip_len", clip_len), ("num_clips", num_clips)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")


def _total_frames(op: str, results: dict) -> int:
    total = require(op, results, "total_frames")
    if not isinstance(total, (int, np.integer)) or total < 1:
        raise PipelineError(f"{op}: results['total_frames'] must be a positive int, got {total!r}")
    return int(total)


@TRANSFORMS.register()
class UniformSampleFrames(Transform):
    """Sample ``num_clips`` clips of ``clip_len`` frame indices uniformly over the video (PYSKL).

    Each clip first keeps a random sub-interval of ``p_interval`` of the frames; train mode draws
    from the global ``np.random``; test mode reseeds it with ``seed`` (255) on every call, as PYSKL.

    Required keys: total_frames, start_index (default 0), test_mode (default False).
    Added keys: frame_inds (int64 ``[num_clips * clip_len]``), clip_len, frame_interval (None),
    num_clips.
    """

    def __init__(
        self,
        clip_len: int,
        num_clips: int = 1,
        p_interval: float | Sequence[float] = 1,
        seed: int = 255,
    ) -> None:
        name = type(self).__name__
        _check_clip_args(name, clip_len, num_clips)
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.p_interval = p_interval
        self._interval = _interval(name, p_interval)
        self.seed = seed

    def __call__(self, results: dict) -> dict:
        name = type(self).__name__
        total = _total_frames(name, results)
        if "keypoint" in results:
            kp = require_array(name, results, "keypoint", ndim=4)
            if kp.shape[1] != total:
                raise PipelineError(
                    f"{name}: results['total_frames']={total} but keypoint has "
                    f"{kp.shape[1]} frames (shape {kp.shape})"
                )
        try:
            inds = uniform_sample_indices(
                total,
                self.clip_len,
                self.num_clips,
                self._interval,
                bool(results.get("test_mode", False)),
                self.seed,
            )
        except ValueError as err:
            raise PipelineError(
                f"{name}: cannot sample {self.clip_len} frames from total_frames={total} "
                f"with p_interval={self.p_interval!r}: {err}"
            ) from err
        results["frame_inds"] = inds + results.get("start_index", 0)
        results["clip_len"] = self.clip_len
        results["frame_interval"] = None
        results["num_clips"] = self.num_clips
        return results


@TRANSFORMS.register()
class UniformSample(UniformSampleFrames):
    """Same op as ``UniformSampleFrames`` under the name the GCN configs use."""


@TRANSFORMS.register()
class UniformSampleDecode(Transform):
    """Sample clips like UniformSampleFrames and slice ``keypoint`` directly (DG-STGCN configs).

    Draws the same numbers in train and test mode (its short-video branch draws a random start
    even in test); test mode reseeds the global RNG with ``seed`` first.

    Required keys: keypoint ``[M, T, V, C]``, keypoint_score (optional, appended as a channel),
    test_mode (default False).
    Added keys: clip_len, frame_interval (None), num_clips.
    Modified keys: keypoint (float32 ``[M, num_clips * clip_len, V, C']``); keypoint_score removed.
    """

    def __init__(
        self, clip_len: int, num_clips: int = 1, p_interval: float | Sequence[float] = 1, seed: int = 255
    ) -> None:
        _check_clip_args("UniformSampleDecode", clip_len, num_clips)
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.p_interval = p_interval
        self._interval = _interval("UniformSampleDecode", p_interval)
        self.seed = seed

    def _handle(self, results: dict) -> dict:
        kp = require_array("UniformSampleDecode", results, "keypoint", ndim=4)
        if "keypoint_score" in results:
            score = require_array("UniformSampleDecode", results, "keypoint_score", ndim=3)
            if score.shape != kp.shape[:3]:
                raise PipelineError(
                    f"UniformSampleDecode: keypoint_score {score.shape} does not match keypoint {kp.shape}"
                )
            kp = np.concatenate([kp, score[..., None]], axis=-1)
        results.pop("keypoint")
        results.pop("keypoint_score", None)
        kp = kp.astype(np.float32)
        total = kp.shape[1]
        if total < 1:
            raise PipelineError(f"UniformSampleDecode: keypoint has no frames (shape {kp.shape})")
        try:
            clips = [
                sample_clip_indices(total, self.clip_len, self._interval, np.random, loop_short=True)
                for _ in range(self.num_clips)
            ]
        except ValueError as err:
            raise PipelineError(
                f"UniformSampleDecode: cannot sample {self.clip_len} frames from "
                f"{total} with p_interval={self.p_interval!r}: {err}"
            ) from err
        results["clip_len"] = self.clip_len
        results["frame_interval"] = None
        results["num_clips"] = self.num_clips
        results["keypoint"] = np.take(kp, np.concatenate(clips), axis=1)
        return results

    def __call__(self, results: dict) -> dict:
        require_array("UniformSampleDecode", results, "keypoint", ndim=4)
        if results.get("test_mode", False):
            np.random.seed(self.seed)
        return self._handle(results)
