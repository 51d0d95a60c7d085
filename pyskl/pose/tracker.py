"""Frame-to-frame person tracking: optimal assignment over keypoint similarity and box IoU.

``PoseTracker.update(detections)`` returns a track id per detection. Each track predicts where its person
is (constant velocity from its last two sightings), detections are matched to predictions by an optimal
assignment (:func:`pyskl.pose._assignment.linear_assignment`) over the similarity (OKS and box IoU,
averaged, by default), and a track that found nobody is kept for ``max_age`` frames; a person who
reappears near where their track predicted them keeps their id (a second, looser matching by the
distance between box centres relative to the box size). ``TrackStore`` accumulates a video's tracked
poses into PYSKL's ``keypoint [M, T, V, 2]`` / ``keypoint_score [M, T, V]`` and reports on them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ._assignment import linear_assignment
from .backend import Detection, keypoint_box

__all__ = ["PoseTracker", "TrackStore", "box_iou", "count_swaps", "keypoint_similarity"]


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
    velocity: np.ndarray  # [V, 2] keypoint motion per frame

    def predict(self, frame: int, max_gap: int) -> Detection:
        """Where the person should be at ``frame`` (motion extrapolated over at most ``max_gap`` frames)."""
        gap = min(frame - self.last_seen, max_gap)
        kp = self.detection.keypoint + gap * self.velocity
        return Detection(kp, self.detection.score, keypoint_box(kp, self.detection.score))


SIMILARITIES = ("iou", "oks", "oks+iou")


class PoseTracker:
    """Optimal-assignment tracker with constant-velocity prediction.

    Args:
        similarity: 'oks+iou' (default: the mean of keypoint similarity and box IoU), 'iou' or 'oks'.
        threshold: minimum similarity between a detection and a track's prediction to continue it.
        max_age: frames a track survives without a match.
        max_tracks: new tracks are not started while this many are live (None: unlimited).
        rejoin_distance: a detection left unmatched joins an unmatched track whose predicted box centre is
            within this many box diagonals (a person briefly lost or occluded keeps their id).
        max_extrapolation: frames of motion extrapolated for a track that found nobody.
    """

    def __init__(
        self,
        similarity: str = "oks+iou",
        threshold: float = 0.2,
        max_age: int = 15,
        max_tracks: int | None = None,
        rejoin_distance: float = 0.5,
        max_extrapolation: int = 5,
    ) -> None:
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        self.similarity, self.threshold = similarity, threshold
        self.max_age, self.max_tracks = max_age, max_tracks
        self.rejoin_distance, self.max_extrapolation = rejoin_distance, max_extrapolation
        self.frame = -1
        self.next_id = 0
        self.tracks: list[_Track] = []

    def _matrix(self, predicted: list[Detection], detections: list[Detection]) -> np.ndarray:
        iou = oks = None
        if self.similarity != "oks":
            iou = box_iou(np.array([p.box for p in predicted]), np.array([d.box for d in detections]))
        if self.similarity != "iou":
            oks = keypoint_similarity(
                np.array([p.keypoint for p in predicted]),
                np.array([p.score for p in predicted]),
                np.array([d.keypoint for d in detections]),
                np.array([d.score for d in detections]),
            )
        if iou is None:
            return oks
        return iou if oks is None else (iou + oks) / 2

    @staticmethod
    def _centre_distance(predicted: list[Detection], detections: list[Detection]) -> np.ndarray:
        """Distance between box centres in units of the predicted box's diagonal, ``[P, D]``."""
        a = np.array([p.box for p in predicted], np.float64)
        b = np.array([d.box for d in detections], np.float64)
        ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
        diag = np.maximum(np.hypot(*(a[:, 2:] - a[:, :2]).T), 1.0)
        return np.linalg.norm(ca[:, None] - cb[None], axis=-1) / diag[:, None]

    @staticmethod
    def _match(
        score: np.ndarray, accept: np.ndarray, rows: list[int], cols: list[int]
    ) -> list[tuple[int, int]]:
        """Optimal matching of ``rows`` x ``cols`` maximising ``score``; pairs outside ``accept`` dropped."""
        if not rows or not cols:
            return []
        sub = score[np.ix_(rows, cols)]
        r, c = linear_assignment(-np.where(accept[np.ix_(rows, cols)], sub, -1e3))
        return [(rows[i], cols[j]) for i, j in zip(r, c) if accept[rows[i], cols[j]]]

    def update(self, detections: list[Detection]) -> list[int]:
        """Advance one frame; returns the track id of each detection (-1: dropped by ``max_tracks``)."""
        self.frame += 1
        self.tracks = [t for t in self.tracks if self.frame - t.last_seen <= self.max_age]
        ids = [-1] * len(detections)
        pairs: list[tuple[int, int]] = []
        if self.tracks and detections:
            predicted = [t.predict(self.frame, self.max_extrapolation) for t in self.tracks]
            sim = self._matrix(predicted, detections)
            all_t, all_d = list(range(len(self.tracks))), list(range(len(detections)))
            pairs = self._match(sim, sim >= self.threshold, all_t, all_d)
            # second chance: a person briefly lost or occluded rejoins the track that predicted them nearby
            free_t = [i for i in range(len(self.tracks)) if i not in {p[0] for p in pairs}]
            free_d = [j for j in range(len(detections)) if j not in {p[1] for p in pairs}]
            if free_t and free_d:
                dist = self._centre_distance(predicted, detections)
                pairs += self._match(-dist, dist <= self.rejoin_distance, free_t, free_d)
        for ti, di in pairs:
            track, det = self.tracks[ti], detections[di]
            gap = self.frame - track.last_seen
            motion = (det.keypoint - track.detection.keypoint) / gap
            # joints missed in either pose carry no motion; a long gap's motion is unreliable
            both = (det.score > 0.3) & (track.detection.score > 0.3)
            reliable = both[:, None] & (gap <= self.max_extrapolation)
            track.velocity = np.where(reliable, motion, 0.0)
            track.detection, track.last_seen = det, self.frame
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
            self.tracks.append(_Track(self.next_id, det, self.frame, np.zeros_like(det.keypoint)))
            ids[di] = self.next_id
            live.add(self.next_id)
            self.next_id += 1
        return ids


class TrackStore:
    """Collects tracked poses per frame, packs them as PYSKL arrays and reports on them."""

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

    def report(self) -> dict:
        """Per-video tracking figures.

        Returns:
            ``{'frames': T, 'people_per_frame': {count: frames}, 'track_ids': N, 'id_switches': S}``.
            ``id_switches`` counts suspected swaps: two tracks, both seen in consecutive frames, whose poses
            each fit the other track's motion much better than their own (see :func:`count_swaps`).
        """
        counts = Counter(len(frame) for frame in self.frames)
        ids = {tid for frame in self.frames for tid in frame}
        return {
            "frames": len(self.frames),
            "people_per_frame": dict(sorted(counts.items())),
            "track_ids": len(ids),
            "id_switches": count_swaps(self.frames),
        }


def count_swaps(frames: list[dict[int, Detection]]) -> int:
    """Suspected identity swaps in tracked frames ``[{track_id: detection}]``.

    Each track's pose is predicted from its last two frames (constant velocity; its last pose when it was
    not seen two frames back). Tracks a and b, both seen in consecutive frames, swapped when each pose
    fits the other's prediction much better: ``d(a, pred_b) + d(b, pred_a) < 0.5 * (d(a, pred_a) +
    d(b, pred_b))``, with d the mean distance between joints confident in both.
    """

    def dist(p: Detection, q: np.ndarray, q_score: np.ndarray) -> float:
        both = (p.score > 0.3) & (q_score > 0.3)
        both = both if both.any() else np.ones_like(both)
        return float(np.linalg.norm(p.keypoint[both] - q[both], axis=-1).mean())

    swaps = 0
    for t in range(1, len(frames)):
        before, now = frames[t - 1], frames[t]
        older = frames[t - 2] if t >= 2 else {}
        common = sorted(set(before) & set(now))
        pred = {
            i: (2 * before[i].keypoint - older[i].keypoint) if i in older else before[i].keypoint
            for i in common
        }
        for k, a in enumerate(common):
            for b in common[k + 1 :]:
                sa, sb = before[a].score, before[b].score
                crossed = dist(now[a], pred[b], sb) + dist(now[b], pred[a], sa)
                kept = dist(now[a], pred[a], sa) + dist(now[b], pred[b], sb)
                swaps += crossed < 0.5 * kept
    return swaps
