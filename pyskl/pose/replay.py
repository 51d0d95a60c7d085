"""A backend that replays skeletons from an annotation instead of estimating them.

Useful to re-run ``pyskl demo`` with poses extracted earlier (``--save-pose``/``pyskl extract``), to
benchmark the later stages alone, and in tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import Detection, keypoint_box

__all__ = ["ReplayBackend"]


class ReplayBackend:
    """Yields, at the n-th call, the persons of frame n of ``annotation`` (persons with no visible joint
    in that frame are left out).

    Args:
        annotation: a PYSKL 2D annotation dict (``keypoint [M, T, V, 2]``, optional ``keypoint_score``).
        layout: the annotation's joint layout.
        threshold: joints scoring at or below it do not count as visible.
    """

    def __init__(self, annotation: dict, layout: str = "coco", threshold: float = 0.0, **_: Any) -> None:
        self.keypoint = np.asarray(annotation["keypoint"], dtype=np.float32)[..., :2]
        score = annotation.get("keypoint_score")
        self.score = (
            np.ones(self.keypoint.shape[:3], np.float32)
            if score is None
            else np.asarray(score, dtype=np.float32)
        )
        self.layout, self.threshold, self.frame = layout, threshold, 0

    def __call__(self, frame: np.ndarray | None = None) -> list[Detection]:
        t = self.frame
        self.frame += 1
        if t >= self.keypoint.shape[1]:
            return []
        out = []
        for m in range(self.keypoint.shape[0]):
            kp, score = self.keypoint[m, t], self.score[m, t]
            visible = (score > self.threshold) & np.any(kp != 0, axis=-1)
            if visible.any():
                out.append(
                    Detection(kp.copy(), score.copy(), keypoint_box(kp[visible], score[visible], -1.0))
                )
        return out

    def close(self) -> None:
        pass
