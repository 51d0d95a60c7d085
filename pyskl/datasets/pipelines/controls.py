"""Control-experiment ops: destroy one kind of information to measure how much a model relies on it."""
from __future__ import annotations

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require

__all__ = ["ShuffleFrames"]


@TRANSFORMS.register()
class ShuffleFrames(Transform):
    """Randomly permute the sampled frames inside each clip (a temporal-order-blind control).

    Put it right after ``UniformSample``/``UniformSampleFrames``: the model then sees the same poses
    as usual but in random order, so whatever accuracy it loses is what frame order was worth.
    Draws from the global ``np.random`` like PYSKL's random ops (per sample, per clip).

    Required keys: frame_inds ``[num_clips * clip_len]``, clip_len, num_clips.
    Modified keys: frame_inds.
    """

    def __call__(self, results: dict) -> dict:
        inds = np.asarray(require(self, results, "frame_inds"))
        clip_len = int(require(self, results, "clip_len"))
        num_clips = int(results.get("num_clips", 1))
        if inds.size != clip_len * num_clips:
            raise PipelineError(f"ShuffleFrames: frame_inds has {inds.size} entries, expected "
                                f"num_clips*clip_len = {num_clips}*{clip_len}")
        clips = inds.reshape(num_clips, clip_len).copy()
        for clip in clips:
            np.random.shuffle(clip)
        results["frame_inds"] = clips.reshape(inds.shape)
        return results
