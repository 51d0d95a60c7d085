"""Decoding and formatting ops: PoseDecode, PadTo, FormatGCNInput, Collect, ToTensor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require, require_array
from .functional import format_gcn_input, pad_to

__all__ = ["Collect", "FormatGCNInput", "PadTo", "PoseDecode", "ToTensor", "to_tensor"]


def _gather_frames(op: str, key: str, arr: np.ndarray, inds: np.ndarray) -> np.ndarray:
    """``arr[:, inds]`` as float32; casts before gathering when that touches fewer elements."""
    if arr.ndim < 2:
        raise PipelineError(f"{op}: results[{key!r}] must be [M, T, ...], got shape {arr.shape}")
    total = arr.shape[1]
    if inds.size and (inds.max() >= total or inds.min() < -total):
        raise PipelineError(
            f"{op}: frame index out of range for results[{key!r}] with {total} frames "
            f"(frame_inds + offset span {inds.min()}..{inds.max()})"
        )
    if inds.size > total:
        return np.take(arr.astype(np.float32, copy=False), inds, axis=1)
    return np.take(arr, inds, axis=1).astype(np.float32, copy=False)


@TRANSFORMS.register()
class PoseDecode(Transform):
    """Gather the sampled frames of keypoint / keypoint_score as float32 (PYSKL).

    Required keys: frame_inds (else ``arange(total_frames)`` is used and stored), offset (optional,
    added to the indices), keypoint ``[M, T, V, C]`` and/or keypoint_score ``[M, T, V]``.
    Modified keys: keypoint, keypoint_score (``[M, len(frame_inds), ...]`` float32), frame_inds
    (squeezed to 1-D).
    """

    def __call__(self, results: dict) -> dict:
        if "frame_inds" not in results:
            total = require(self, results, "total_frames")
            if not isinstance(total, (int, np.integer)) or total < 0:
                raise PipelineError(f"PoseDecode: results['total_frames'] must be an int, got {total!r}")
            results["frame_inds"] = np.arange(total)
        inds = results["frame_inds"]
        if not isinstance(inds, np.ndarray) or inds.dtype.kind not in "iu":
            raise PipelineError(
                f"PoseDecode: results['frame_inds'] must be an int array, got "
                f"{getattr(inds, 'dtype', type(inds).__name__)}"
            )
        if inds.ndim != 1:
            inds = results["frame_inds"] = np.squeeze(inds)
        offset = results.get("offset", 0)
        if not isinstance(offset, (int, np.integer)):
            raise PipelineError(f"PoseDecode: results['offset'] must be an int, got {offset!r}")
        inds = inds + offset
        if "keypoint_score" in results:
            score = require_array(self, results, "keypoint_score")
            results["keypoint_score"] = _gather_frames("PoseDecode", "keypoint_score", score, inds)
        if "keypoint" in results:
            kp = require_array(self, results, "keypoint")
            results["keypoint"] = _gather_frames("PoseDecode", "keypoint", kp, inds)
        return results


@TRANSFORMS.register()
class PadTo(Transform):
    """Loop the skeleton along time to ``length`` frames; 'zero' zeroes the looped part (PYSKL).

    A skeleton longer than ``length`` is an error, and like PYSKL only ``keypoint`` is padded
    (the op serves 3D skeletons, which carry no keypoint_score).

    Like PYSKL it starts from frame 0 whatever ``start_index`` says (that key offsets frame indices
    of the sampling ops only).

    Required keys: keypoint ``[M, T, V, C]``, total_frames (<= length).
    Modified keys: keypoint, total_frames (= length).
    """

    def __init__(self, length: int, mode: str = "loop") -> None:
        if mode not in ("loop", "zero"):
            raise ValueError(f"PadTo: mode must be 'loop' or 'zero', got {mode!r}")
        if not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"PadTo: length must be a positive int, got {length!r}")
        self.length = length
        self.mode = mode

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4)
        total = require(self, results, "total_frames")
        if not isinstance(total, (int, np.integer)) or not 1 <= total <= kp.shape[1]:
            raise PipelineError(f"PadTo: results['total_frames']={total!r} does not fit keypoint {kp.shape}")
        if total > self.length:
            raise PipelineError(f"PadTo: results['total_frames']={total} exceeds length={self.length}")
        results["keypoint"] = pad_to(kp, self.length, total, self.mode)
        results["total_frames"] = self.length
        return results


@TRANSFORMS.register()
class FormatGCNInput(Transform):
    """Shape the skeleton as the GCN input ``[num_clips, num_person, clip_len, V, C]`` (PYSKL).

    keypoint_score, when present, is appended as a channel; persons are zero-padded or cut to
    ``num_person``. ``mode='loop'`` is accepted but pads with zeros too: PYSKL tests the person
    count after padding, so its loop branch never runs.

    Required keys: keypoint ``[M, num_clips * clip_len, V, C]``, num_clips (default 1),
    keypoint_score (optional).
    Modified keys: keypoint (contiguous, input dtype).
    """

    def __init__(self, num_person: int = 2, mode: str = "zero") -> None:
        if mode not in ("zero", "loop"):
            raise ValueError(f"FormatGCNInput: mode must be 'zero' or 'loop', got {mode!r}")
        self.num_person = num_person
        self.mode = mode

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4)
        if "keypoint_score" in results:
            score = require_array(self, results, "keypoint_score", ndim=3)
            if score.shape != kp.shape[:3]:
                raise PipelineError(
                    f"FormatGCNInput: keypoint_score {score.shape} does not match keypoint {kp.shape}"
                )
            kp = np.concatenate([kp, score[..., None]], axis=-1)
        num_clips = results.get("num_clips", 1)
        if kp.shape[1] % num_clips:
            raise PipelineError(
                f"FormatGCNInput: keypoint has {kp.shape[1]} frames, not a multiple of num_clips={num_clips}"
            )
        results["keypoint"] = format_gcn_input(kp, self.num_person, num_clips)
        return results


@TRANSFORMS.register()
class Collect(Transform):
    """Keep only ``keys`` (plus a ``meta_name`` dict of ``meta_keys`` when that is non-empty).

    Required keys: keys, meta_keys. Returns a new dict (lists of one value with ``nested``).
    """

    def __init__(
        self,
        keys: Sequence[str],
        meta_keys: Sequence[str] = (
            "filename",
            "label",
            "original_shape",
            "img_shape",
            "pad_shape",
            "flip_direction",
            "img_norm_cfg",
        ),
        meta_name: str = "img_metas",
        nested: bool = False,
    ) -> None:
        self.keys = keys
        self.meta_keys = meta_keys
        self.meta_name = meta_name
        self.nested = nested

    def __call__(self, results: dict) -> dict:
        data = {key: require(self, results, key) for key in self.keys}
        if len(self.meta_keys):
            data[self.meta_name] = {key: require(self, results, key) for key in self.meta_keys}
        if self.nested:
            data = {k: [v] for k, v in data.items()}
        return data


def to_tensor(data: Any) -> Any:
    """A torch tensor from an array, a sequence, an int (LongTensor [1]) or a float (FloatTensor [1])."""
    import torch

    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        return torch.from_numpy(data)
    if isinstance(data, (int, np.integer)) and not isinstance(data, bool):
        return torch.LongTensor([int(data)])
    if isinstance(data, (float, np.floating)):
        return torch.FloatTensor([float(data)])
    if isinstance(data, Sequence) and not isinstance(data, str):
        return torch.tensor(data)
    raise TypeError(f"type {type(data).__name__} cannot be converted to a tensor")


@TRANSFORMS.register()
class ToTensor(Transform):
    """Convert ``keys`` to torch tensors (arrays share memory).

    Required keys: keys. Modified keys: keys.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = keys

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            try:
                results[key] = to_tensor(require(self, results, key))
            except TypeError as err:
                raise PipelineError(f"ToTensor: results[{key!r}]: {err}") from err
        return results
