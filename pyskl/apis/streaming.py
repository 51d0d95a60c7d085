"""Recognizers fed one frame of keypoints at a time: a sliding window per tracked person
(:class:`StreamingRecognizer`) or over everyone in the frame together (:class:`SceneRecognizer`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from .inference import make_annotation, predict_scores

__all__ = ["SCENE", "SceneRecognizer", "StreamingRecognizer", "TrackPrediction"]

#: the track id of a prediction over everyone in the frame (:class:`SceneRecognizer`)
SCENE = -1


@dataclass
class TrackPrediction:
    """One prediction for one track over frames ``[start, end]`` (inclusive) of the stream."""

    track: int
    start: int
    end: int
    scores: np.ndarray

    @property
    def label(self) -> int:
        return int(np.argmax(self.scores))

    @property
    def score(self) -> float:
        return float(np.max(self.scores))

    def topk(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(-self.scores)[:k]
        return [(int(i), float(self.scores[i])) for i in order]


@dataclass
class _TrackBuffer:
    first: int
    keypoint: deque = field(default_factory=deque)
    score: deque = field(default_factory=deque)
    last_seen: int = 0
    pending: int = 0  # frames since the last prediction
    last_end: int = -1


class StreamingRecognizer:
    """Sliding-window recognition over a stream of per-frame, per-track keypoints.

    Memory is constant: each live track keeps at most ``window`` frames.

    Args:
        model: from :func:`pyskl.apis.init_recognizer` (any GCN or PoseC3D config).
        window: frames per recognition window.
        stride: a track is recognised again after this many new frames.
        min_frames: frames a track needs before its first prediction (default ``window // 2``).
        img_shape: ``(H, W)`` of the frames (2D pipelines normalise / crop with it).
        max_missing: a track unseen for this many frames is dropped.
        use_score: pass ``keypoint_score`` to the pipeline (False for models without a score channel, e.g.
            the hand-gesture model fed raw mediapipe coordinates).

    Example:
        >>> stream = StreamingRecognizer(model, window=48, stride=16, img_shape=(1080, 1920))
        >>> for t, poses in enumerate(frames):          # poses: {track_id: (keypoint [V, C], score [V])}
        ...     for pred in stream.push(t, poses):
        ...         print(pred.track, pred.label, pred.score)
        >>> final = stream.flush()
    """

    def __init__(
        self,
        model: nn.Module,
        window: int = 48,
        stride: int = 16,
        min_frames: int | None = None,
        img_shape: Sequence[int] | None = None,
        max_missing: int = 30,
        use_score: bool = True,
    ) -> None:
        if window < 1 or stride < 1:
            raise ValueError(f"window and stride must be >= 1, got {window}, {stride}")
        self.model, self.window, self.stride = model, int(window), int(stride)
        self.min_frames = int(min_frames if min_frames is not None else max(1, window // 2))
        self.img_shape = tuple(img_shape) if img_shape is not None else None
        self.max_missing, self.use_score = max_missing, use_score
        self.tracks: dict[int, _TrackBuffer] = {}
        self.frame = -1
        self._shape: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def push(
        self, frame_index: int, poses: Mapping[int, tuple[np.ndarray, np.ndarray | None]]
    ) -> list[TrackPrediction]:
        """Add one frame: ``{track_id: (keypoint [V, C], score [V] or None)}``; returns new predictions."""
        self.frame = int(frame_index)
        for tid, (kp, score) in poses.items():
            kp = np.asarray(kp, np.float32)
            score = np.ones(kp.shape[:-1], np.float32) if score is None else np.asarray(score, np.float32)
            if self._shape is None:
                self._shape = (kp.shape, score.shape)
            buf = self.tracks.get(tid)
            if buf is None:
                buf = self.tracks[tid] = _TrackBuffer(first=self.frame)
            buf.keypoint.append(kp)
            buf.score.append(score)
            buf.last_seen = self.frame
        for tid, buf in list(self.tracks.items()):
            if tid not in poses:
                if self.frame - buf.last_seen > self.max_missing:
                    del self.tracks[tid]
                    continue
                # keep time aligned: a missed frame is all-zero (PYSKL's "no person")
                buf.keypoint.append(np.zeros(self._shape[0], np.float32))
                buf.score.append(np.zeros(self._shape[1], np.float32))
            while len(buf.keypoint) > self.window:
                buf.keypoint.popleft()
                buf.score.popleft()
            buf.pending += 1
        # only tracks seen in this frame: a person who left is not re-labelled from padding
        ready = [
            tid
            for tid, b in self.tracks.items()
            if b.last_seen == self.frame
            and len(b.keypoint) >= self.min_frames
            and (b.last_end < 0 or b.pending >= self.stride)
        ]
        return self._predict(ready)

    def flush(self) -> list[TrackPrediction]:
        """Predict for every live track with frames not yet covered by a prediction (end of stream)."""
        return self._predict(
            [
                tid
                for tid, b in self.tracks.items()
                if b.pending > 0 and len(b.keypoint) > 0 and b.last_seen > b.last_end
            ]
        )

    def _predict(self, tids: list[int]) -> list[TrackPrediction]:
        if not tids:
            return []
        samples = []
        for tid in tids:
            buf = self.tracks[tid]
            score = np.stack(buf.score)[None] if self.use_score else None
            samples.append(make_annotation(np.stack(buf.keypoint)[None], score, self.img_shape))
        scores = predict_scores(self.model, samples)
        out = []
        for tid, s in zip(tids, scores):
            buf = self.tracks[tid]
            start = buf.first if buf.last_end < 0 else buf.last_end + 1
            out.append(TrackPrediction(tid, start, self.frame, s))
            buf.last_end, buf.pending = self.frame, 0
        return out


class SceneRecognizer:
    """Sliding-window recognition of everyone in the frame in one sample, as PYSKL's demo and NTU's
    training samples do: a mutual action (hugging, handshaking) needs both people in the same input.

    Each tracked person keeps a person slot (the lowest free one, up to ``max_people``) while it is
    tracked and for ``max_missing`` frames after; a window's sample holds the slots someone used in it,
    in slot order. Predictions carry the track id :data:`SCENE`. Memory is constant (``window`` frames).

    Args:
        model: from :func:`pyskl.apis.init_recognizer` (any GCN or PoseC3D config).
        window, stride, min_frames, img_shape, max_missing, use_score: as :class:`StreamingRecognizer`;
            a scene with nobody in it for ``max_missing`` frames starts afresh.
        max_people: person slots per sample (GCN configs pad or cut to their own ``num_person``).
    """

    def __init__(
        self,
        model: nn.Module,
        window: int = 48,
        stride: int = 16,
        min_frames: int | None = None,
        img_shape: Sequence[int] | None = None,
        max_missing: int = 30,
        use_score: bool = True,
        max_people: int = 2,
    ) -> None:
        if window < 1 or stride < 1 or max_people < 1:
            raise ValueError(f"window, stride and max_people must be >= 1, got {window}, {stride}, {max_people}")
        self.model, self.window, self.stride = model, int(window), int(stride)
        self.min_frames = int(min_frames if min_frames is not None else max(1, window // 2))
        self.img_shape = tuple(img_shape) if img_shape is not None else None
        self.max_missing, self.use_score, self.max_people = max_missing, use_score, int(max_people)
        self.slots: dict[int, int] = {}  # track id -> person slot
        self.last_seen: dict[int, int] = {}
        self.keypoint: deque = deque(maxlen=self.window)  # per frame: [max_people, V, C]
        self.score: deque = deque(maxlen=self.window)
        self.frame = -1
        self.first = 0  # frame index of the first frame since the scene was last empty
        self.pending = 0
        self.last_end = -1
        self.empty_for = 0

    def push(
        self, frame_index: int, poses: Mapping[int, tuple[np.ndarray, np.ndarray | None]]
    ) -> list[TrackPrediction]:
        """Add one frame: ``{track_id: (keypoint [V, C], score [V] or None)}``; returns new predictions."""
        self.frame = int(frame_index)
        for tid in [t for t, seen in self.last_seen.items() if self.frame - seen > self.max_missing]:
            del self.last_seen[tid]
            self.slots.pop(tid, None)
        for tid in sorted(poses):
            self.last_seen[tid] = self.frame
            if tid not in self.slots:
                free = sorted(set(range(self.max_people)) - set(self.slots.values()))
                if free:  # more people than slots: the later ones are left out
                    self.slots[tid] = free[0]
        placed = {tid: self.slots[tid] for tid in poses if tid in self.slots}
        if not placed:
            self.empty_for += 1
            if self.empty_for > self.max_missing:  # nobody for a while: the next person starts a new scene
                self.keypoint.clear()
                self.score.clear()
                self.pending, self.last_end = 0, -1
            elif self.keypoint:
                self._append({})
            return []
        if not self.keypoint:
            self.first = self.frame
        self.empty_for = 0
        self._append({self.slots[tid]: poses[tid] for tid in placed})
        ready = len(self.keypoint) >= self.min_frames and (self.last_end < 0 or self.pending >= self.stride)
        return self._predict() if ready else []

    def flush(self) -> list[TrackPrediction]:
        """Predict over the frames not yet covered by a prediction (end of stream)."""
        return self._predict() if self.keypoint and self.pending > 0 else []

    def _append(self, by_slot: Mapping[int, tuple[np.ndarray, np.ndarray | None]]) -> None:
        last = self.keypoint[-1].shape[1:] if self.keypoint else None
        shape = next((np.shape(kp) for kp, _ in by_slot.values()), last)  # [V, C]
        kp = np.zeros((self.max_people, *shape), np.float32)
        score = np.zeros((self.max_people, shape[0]), np.float32)
        for slot, (k, s) in by_slot.items():
            kp[slot] = k
            score[slot] = 1.0 if s is None else s
        self.keypoint.append(kp)
        self.score.append(score)
        self.pending += 1

    def _predict(self) -> list[TrackPrediction]:
        kp = np.stack(self.keypoint, axis=1)  # [max_people, T, V, C]
        score = np.stack(self.score, axis=1)
        used = score.reshape(self.max_people, -1).max(axis=1) > 0
        sample = make_annotation(kp[used], score[used] if self.use_score else None, self.img_shape)
        scores = predict_scores(self.model, [sample])[0]
        start = self.first if self.last_end < 0 else self.last_end + 1
        self.last_end, self.pending = self.frame, 0
        return [TrackPrediction(SCENE, start, self.frame, scores)]
