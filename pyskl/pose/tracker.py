"""Frame-to-frame person tracking by box IoU or keypoint similarity (greedy, highest first).

``PoseTracker.update(detections)`` returns a track id per detection; ``TrackStore`` accumulates the
tracked poses of a whole video into PYSKL's ``keypoint [M, T, V, 2]`` / ``keypoint_score [M, T, V]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backend import Detection

__all__ = ["PoseTracker", "TrackStore", "box_iou", "keypoint_similarity"]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``[len(a), len(b)]`` of (x1, y1, x2, y2) boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def keypoint_similarity(
    kp_a: np.ndarray,
    score_a: np.ndarray,
    kp_b: np.ndarray,
    score_b: np.ndarray,
    threshold: float = 0.3,
    kappa: float = 0.1,
) -> np.ndarray:
    """OKS-like similarity matrix ``[A, B]``: mean over joints confident in both of
    ``exp(-d^2 / (2 (kappa * s)^2))``, with ``s`` the diagonal of the first pose's box."""
    kp_a, kp_b = np.asarray(kp_a, np.float64), np.asarray(kp_b, np.float64)  # [A, V, 2], [B, V, 2]
    if len(kp_a) == 0 or len(kp_b) == 0:
        return np.zeros((len(kp_a), len(kp_b)))
    both = (np.asarray(score_a)[:, None] > threshold) & (np.asarray(score_b)[None] > threshold)  # [A, B, V]
    d2 = np.sum((kp_a[:, None] - kp_b[None]) ** 2, axis=-1)
    span = kp_a.max(axis=1) - kp_a.min(axis=1)
    scale2 = np.maximum(np.sum(span**2, axis=-1), 1.0)[:, None, None] * kappa**2
    sim = np.exp(-d2 / (2 * scale2))
    count = both.sum(-1)
    return np.where(count > 0, (sim * both).sum(-1) / np.maximum(count, 1), 0.0)


@dataclass
class _Track:
    track_id: int
    detection: Detection
    last_seen: int


class PoseTracker:
    """Greedy tracker: each detection joins the most similar live track above ``threshold``.

    Args:
        similarity: 'iou' (box IoU) or 'oks' (keypoint similarity).
        threshold: minimum similarity to continue a track.
        max_age: frames a track survives without a match.
        max_tracks: new tracks are not started while this many are live (None: unlimited).
    """

    def __init__(
        self,
        similarity: str = "iou",
        threshold: float = 0.3,
        max_age: int = 10,
        max_tracks: int | None = None,
    ) -> None:
        if similarity not in ("iou", "oks"):
            raise ValueError(f"similarity must be 'iou' or 'oks', got {similarity!r}")
        self.similarity, self.threshold, self.max_age, self.max_tracks = (
            similarity,
            threshold,
            max_age,
            max_tracks,
        )
        self.frame = -1
        self.next_id = 0
        self.tracks: list[_Track] = []

    def _matrix(self, detections: list[Detection]) -> np.ndarray:
        if self.similarity == "iou":
            return box_iou(
                np.array([t.detection.box for t in self.tracks]), np.array([d.box for d in detections])
            )
        return keypoint_similarity(
            np.array([t.detection.keypoint for t in self.tracks]),
            np.array([t.detection.score for t in self.tracks]),
            np.array([d.keypoint for d in detections]),
            np.array([d.score for d in detections]),
        )

    def update(self, detections: list[Detection]) -> list[int]:
        """Advance one frame; returns the track id of each detection (-1: dropped by ``max_tracks``)."""
        self.frame += 1
        self.tracks = [t for t in self.tracks if self.frame - t.last_seen <= self.max_age]
        ids = [-1] * len(detections)
        if self.tracks and detections:
            sim = self._matrix(detections)
            order = np.dstack(np.unravel_index(np.argsort(-sim, axis=None), sim.shape))[0]
            used_t, used_d = set(), set()
            for ti, di in order:
                if sim[ti, di] < self.threshold:
                    break
                if ti in used_t or di in used_d:
                    continue
                used_t.add(ti), used_d.add(di)
                track = self.tracks[ti]
                track.detection, track.last_seen = detections[di], self.frame
                ids[di] = track.track_id
        live = {t.track_id for t in self.tracks if t.last_seen == self.frame}
        for di, det in enumerate(detections):
            if ids[di] >= 0:
                continue
            if self.max_tracks is not None and len(self.tracks) >= self.max_tracks:
                # replace the stalest unmatched track rather than refusing a person forever
                stale = [t for t in self.tracks if t.track_id not in live]
                if not stale:
                    continue
                self.tracks.remove(min(stale, key=lambda t: t.last_seen))
            self.tracks.append(_Track(self.next_id, det, self.frame))
            ids[di] = self.next_id
            live.add(self.next_id)
            self.next_id += 1
        return ids


class TrackStore:
    """Collects tracked poses per frame and packs them as PYSKL arrays."""

    def __init__(self) -> None:
        self.frames: list[dict[int, Detection]] = []

    def add(self, ids: list[int], detections: list[Detection]) -> None:
        self.frames.append({i: d for i, d in zip(ids, detections) if i >= 0})

    def to_arrays(self, num_joints: int, max_persons: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``keypoint float32 [M, T, V, 2]``, ``keypoint_score float32 [M, T, V]``; tracks ordered by total
        score (highest first), at most ``max_persons``; frames where a track is absent are zeros. M >= 1."""
        total: dict[int, float] = {}
        for frame in self.frames:
            for tid, det in frame.items():
                total[tid] = total.get(tid, 0.0) + float(det.score.sum())
        order = sorted(total, key=lambda t: -total[t])[:max_persons]
        m, t = max(1, len(order)), len(self.frames)
        kp = np.zeros((m, t, num_joints, 2), np.float32)
        score = np.zeros((m, t, num_joints), np.float32)
        for fi, frame in enumerate(self.frames):
            for mi, tid in enumerate(order):
                if tid in frame:
                    kp[mi, fi] = frame[tid].keypoint
                    score[mi, fi] = frame[tid].score
        return kp, score
