"""``DecompressPose``: K400-style per-box keypoint rows -> dense ``[M, T, V, 2]`` arrays."""

from __future__ import annotations

import numpy as np

from ...registry import TRANSFORMS
from .compose import Transform

__all__ = ["DecompressPose", "decompress_pose"]


def _rank_within_frame(frame_inds: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows share its frame (the person slot it fills)."""
    order = np.argsort(frame_inds, kind="stable")
    sorted_inds = frame_inds[order]
    is_start = np.ones(len(order), dtype=bool)
    is_start[1:] = sorted_inds[1:] != sorted_inds[:-1]
    group_start = np.maximum.accumulate(np.where(is_start, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - group_start
    return rank


def decompress_pose(
    keypoint: np.ndarray,
    frame_inds: np.ndarray,
    total_frames: int,
    squeeze: bool = True,
    max_person: int = 10,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Scatter per-box rows ``[N, V, 3]`` into ``[M, T, V, 2]`` keypoints and ``[M, T, V]`` scores.

    Rows of the same frame fill person slots in their original order. With ``squeeze`` the frames
    that have no box are dropped (T = number of distinct frame indices). When a frame holds more
    than ``max_person`` boxes, every frame's persons are sorted by total score (stable, descending)
    and only the first ``max_person`` are kept.

    Returns:
        ``(keypoint, keypoint_score, total_frames, num_person)``; ``num_person`` is the count before
        truncation to ``max_person``.
    """
    keypoint = np.asarray(keypoint)
    frame_inds = np.asarray(frame_inds).astype(np.int64).reshape(-1)
    if keypoint.ndim != 3 or keypoint.shape[-1] != 3 or len(keypoint) != len(frame_inds):
        raise ValueError(
            f"DecompressPose: keypoint must be [N, V, 3] with N == len(frame_inds), got "
            f"{keypoint.shape} and {frame_inds.shape}"
        )
    if squeeze:
        uniq, frame_inds = np.unique(frame_inds, return_inverse=True)
        total_frames = len(uniq)
    elif len(frame_inds) and (frame_inds.min() < 0 or frame_inds.max() >= total_frames):
        raise ValueError(f"DecompressPose: frame_inds outside [0, {total_frames}) with squeeze=False")
    num_joints = keypoint.shape[1]
    rank = _rank_within_frame(frame_inds)
    num_person = int(rank.max()) + 1 if len(rank) else 0
    # PYSKL allocates float16 regardless of the input dtype.
    new_kp = np.zeros((num_person, total_frames, num_joints, 2), dtype=np.float16)
    new_score = np.zeros((num_person, total_frames, num_joints), dtype=np.float16)
    new_kp[rank, frame_inds] = keypoint[..., :2]
    new_score[rank, frame_inds] = keypoint[..., 2]
    if num_person > max_person:
        counts = np.bincount(frame_inds, minlength=total_frames)
        score_sum = new_score.sum(-1)  # [M, T], float16 like PYSKL's per-frame sum
        key = np.where(np.arange(num_person)[:, None] < counts[None], -score_sum.astype(np.float64), np.inf)
        order = np.argsort(key, axis=0, kind="stable")  # [M, T]
        frames = np.arange(total_frames)[None]
        new_kp = new_kp[order, frames]
        new_score = new_score[order, frames]
        new_kp, new_score = new_kp[:max_person], new_score[:max_person]
    return new_kp, new_score, total_frames, num_person


@TRANSFORMS.register()
class DecompressPose(Transform):
    """Turn K400-style compressed keypoints into PYSKL's dense layout.

    Required keys: ``keypoint`` ``[N, V, 3]`` (x, y, score per box), ``frame_inds`` ``[N]``,
    ``total_frames``; optional ``anno_inds`` (bool mask or indices selecting rows).
    Added keys: ``keypoint_score`` ``[M, T, V]``; ``num_person`` when a frame had more than
    ``max_person`` boxes.
    Modified keys: ``keypoint`` -> ``[M, T, V, 2]`` float16, ``total_frames`` (number of distinct
    frames when ``squeeze``). Removed keys: ``frame_inds``.

    Args:
        squeeze: drop frames without any box.
        max_person: keep at most this many persons per frame (highest total score first).
    """

    def __init__(self, squeeze: bool = True, max_person: int = 10) -> None:
        self.squeeze = squeeze
        self.max_person = max_person

    def __call__(self, results: dict) -> dict:
        for key in ("keypoint", "frame_inds", "total_frames"):
            if key not in results:
                raise KeyError(f"DecompressPose needs {key!r} (sample {results.get('frame_dir')!r})")
        keypoint = results["keypoint"]
        frame_inds = results.pop("frame_inds")
        if "anno_inds" in results:
            keypoint = keypoint[results["anno_inds"]]
            frame_inds = frame_inds[results["anno_inds"]]
        kp, score, total_frames, num_person = decompress_pose(
            keypoint, frame_inds, results["total_frames"], self.squeeze, self.max_person
        )
        if self.squeeze:
            # PYSKL's count comes out as a numpy integer (int64 under numpy 1.x).
            results["total_frames"] = np.int64(total_frames)
        results["keypoint"] = kp
        if num_person > self.max_person:
            results["num_person"] = self.max_person
        results["keypoint_score"] = score
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(squeeze={self.squeeze}, max_person={self.max_person})"
