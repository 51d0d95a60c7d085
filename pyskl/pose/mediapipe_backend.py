"""mediapipe 0.10.14 backends (legacy ``mp.solutions``; models ship in the wheel, run offline on CPU).

``MediaPipePose``: BlazePose, 33 landmarks converted to COCO-17 (or kept as 'mediapipe' 33).
Legacy mediapipe Pose finds one person per image. For ``max_persons > 1`` each extra person comes
from another Pose instance run on the frame with the people found so far blanked out (their boxes,
slightly enlarged): it finds the second person when people stand apart, but persons that overlap
(hugging, crowds) are found unreliably. For real multi-person work use an ONNX RTMO/RTMPose backend.

Speed: each instance costs one landmark-model pass (~19 ms on one core, whatever the image size: in
video mode the detector is skipped while a person is tracked and the model sees a 256 px warp of the
person's region, so neither cropping nor shrinking the frame saves much). With ``parallel=True`` the
passes run at once on threads (mediapipe releases the GIL): instance ``i`` then blanks the boxes its
predecessors found in the *previous* frame instead of waiting for this frame's, which moves the blanked
area by a frame's worth of motion (covered by ``mask_margin``). An instance that had nobody last frame
(searching for a person), or one of whose predecessors had nobody, still runs after the others with this
frame's boxes blanked; such searches (the detector, ~10 ms) run only every ``search_every`` frames. Only
model_complexity 1 ships in the wheel: 0 (lite) and 2 (heavy) are downloaded by mediapipe on first use.

``MediaPipeHands``: 21 hand landmarks (layout 'handmp'); optionally run on square crops (e.g. around
pose wrists) when hands are too small for the full-frame palm detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backend import Detection, keypoint_box

__all__ = ["MediaPipeHands", "MediaPipePose", "require_mediapipe", "wrist_crops"]


def require_mediapipe() -> Any:
    """Import mediapipe or raise an ImportError saying how to install it."""
    import os
    import warnings

    # mediapipe/TFLite log through glog and absl: keep only errors on the console
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    try:
        import mediapipe as mp
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the mediapipe pose backend needs mediapipe==0.10.14: pip install 'pyskl[demo]' "
            "(or pip install --no-deps mediapipe==0.10.14 'protobuf<5' absl-py attrs flatbuffers)"
        ) from err
    return mp


def _to_rgb(frame: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """RGB copy of a BGR frame, shrunk (INTER_AREA) so its longer side is at most ``max_side``."""
    import cv2

    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a BGR frame [H, W, 3], got shape {frame.shape}")
    h, w = frame.shape[:2]
    if max_side and max(h, w) > max_side:
        f = max_side / max(h, w)
        frame = cv2.resize(frame, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def _landmarks(landmark_list: Any, with_visibility: bool) -> tuple[np.ndarray, np.ndarray]:
    lms = landmark_list.landmark
    xy = np.array([(lm.x, lm.y) for lm in lms], dtype=np.float32)
    vis = (
        np.array([lm.visibility for lm in lms], dtype=np.float32)
        if with_visibility
        else np.ones(len(lms), np.float32)
    )
    return xy, np.clip(vis, 0.0, 1.0)


class MediaPipePose:
    """mediapipe Pose as a pose backend.

    Args:
        max_persons: people per frame (see the module note on how persons beyond the first are found).
        layout: 'coco' (COCO-17, default) or 'mediapipe' (the 33 BlazePose landmarks).
        model_complexity: 0, 1 (default) or 2.
        static_image_mode: False (video mode: landmarks tracked frame to frame) for videos.
        min_detection_confidence / min_tracking_confidence: mediapipe's thresholds.
        mask_margin: relative enlargement of a found person's box before blanking it out.
        max_side: frames are shrunk to this longer side before mediapipe sees them (its models work on
            256 px crops; shrinking 1080p to 960 saves about 15% CPU). None: full resolution.
        parallel: run the per-person passes at once on threads (see the module note); False runs them one
            after the other, each blanking this frame's boxes (the pre-threading behaviour). Video mode
            only: with ``static_image_mode`` the passes always run one after the other.
        search_every: an instance without a person looks for a new one (running the person detector on
            the frame with the others blanked, ~10 ms) only every this many frames. 1: every frame.

    Joints that fall outside the image get score 0 and coordinates clipped to the image.
    """

    def __init__(
        self,
        max_persons: int = 1,
        layout: str = "coco",
        model_complexity: int = 1,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        mask_margin: float = 0.1,
        max_side: int | None = 960,
        parallel: bool = True,
        search_every: int = 1,
    ) -> None:
        mp = require_mediapipe()
        self.max_side = max_side
        # in static image mode every pass runs the detector: it needs this frame's boxes blanked
        self.parallel = parallel and not static_image_mode
        if max_persons < 1:
            raise ValueError(f"max_persons must be >= 1, got {max_persons}")
        if layout not in ("coco", "mediapipe"):
            raise ValueError(f"layout must be 'coco' or 'mediapipe', got {layout!r}")
        self.layout = layout
        self.mask_margin = mask_margin
        self._models = [
            mp.solutions.pose.Pose(
                static_image_mode=static_image_mode,
                model_complexity=model_complexity,
                smooth_landmarks=True,
                enable_segmentation=False,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            for _ in range(max_persons)
        ]
        # per instance: the box (frame pixels) it found in the previous frame, None if it found nobody
        self._last: list[np.ndarray | None] = [None] * max_persons
        self._pool: Any = None
        self.search_every = int(search_every)
        if self.search_every < 1:
            raise ValueError(f"search_every must be >= 1, got {search_every}")
        self._frame = -1
        self._searched = [-self.search_every] * max_persons  # frame of each instance's last search

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        h, w = frame.shape[:2]
        rgb = _to_rgb(frame, self.max_side)
        scale = rgb.shape[1] / w  # detections are in frame pixels; the blanking happens on ``rgb``
        found: list[Detection | None] = [None] * len(self._models)
        # instances 0..n_parallel-1, which all had a person last frame, run at once, each blanking its
        # predecessors' boxes of last frame; the others search for a person after them, as in sequential mode
        n_parallel = 1
        if self.parallel:
            while n_parallel < len(self._models) and all(
                b is not None for b in self._last[: n_parallel + 1]
            ):
                n_parallel += 1
        if n_parallel > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(len(self._models) - 1, thread_name_prefix="mediapipe-pose")
            jobs = [
                self._pool.submit(lambda i=i: self._run(i, self._blanked(rgb, self._last[:i], scale), w, h))
                for i in range(1, n_parallel)
            ]
            found[0] = self._run(0, rgb, w, h)
            found[1:n_parallel] = [job.result() for job in jobs]
            dropped = self._duplicates(found[:n_parallel])
            for j in dropped:
                found[j] = None
        else:
            found[0], dropped = self._run(0, rgb, w, h), set()
        self._frame += 1
        image, blanked = None, set()
        for i in range(n_parallel, len(self._models)):
            # one after the other, each with this frame's boxes found so far blanked
            if self._last[i] is None:  # a search for a new person (the detector runs: the costly case)
                previous_empty = found[i - 1] is None and i - 1 not in dropped
                if previous_empty or self._frame - self._searched[i] < self.search_every:
                    continue
                self._searched[i] = self._frame
            image = rgb.copy() if image is None else image
            for j in range(i):
                if found[j] is not None and j not in blanked:
                    self._blank(image, found[j].box * scale)
                    blanked.add(j)
            found[i] = self._run(i, image, w, h)
        for i in range(len(found)):
            self._last[i] = None if found[i] is None else found[i].box
        return [d for d in found if d is not None]

    @staticmethod
    def _duplicates(found: list[Detection | None], threshold: float = 0.7) -> set[int]:
        """Indices of detections of a person that an earlier instance also found.

        Happens for a frame when an instance that lost its person re-detects on the whole frame and picks
        up one that a later instance tracks (sequential mode would have blanked it for the later one).
        The threshold is well above the similarity of two people hugging (0.45 on the NTU sample)."""
        from .tracker import keypoint_similarity

        dropped: set[int] = set()
        for j in range(1, len(found)):
            earlier = [d for i, d in enumerate(found[:j]) if d is not None and i not in dropped]
            if found[j] is None or not earlier:
                continue
            sim = keypoint_similarity(
                np.stack([found[j].keypoint]),
                np.stack([found[j].score]),
                np.stack([d.keypoint for d in earlier]),
                np.stack([d.score for d in earlier]),
            )
            if sim.max() > threshold:
                dropped.add(j)
        return dropped

    def _run(self, i: int, image: np.ndarray, w: int, h: int) -> Detection | None:
        result = self._models[i].process(image)
        return None if result.pose_landmarks is None else self._detection(result.pose_landmarks, w, h)

    def _blanked(self, rgb: np.ndarray, boxes: Sequence[np.ndarray | None], scale: float) -> np.ndarray:
        image = rgb.copy()
        for box in boxes:
            if box is not None:
                self._blank(image, box * scale)
        return image

    def _blank(self, image: np.ndarray, box: np.ndarray) -> None:
        h, w = image.shape[:2]
        x1, y1, x2, y2 = box
        mx, my = (x2 - x1) * self.mask_margin, (y2 - y1) * self.mask_margin
        x1, x2 = int(max(0, x1 - mx)), int(min(w, x2 + mx + 1))
        y1, y2 = int(max(0, y1 - my)), int(min(h, y2 + my + 1))
        image[y1:y2, x1:x2] = 0

    def _detection(self, landmarks: Any, w: int, h: int) -> Detection:
        from ..datasets.layout_convert import convert_keypoints

        xy, vis = _landmarks(landmarks, with_visibility=True)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= 1)
        vis = np.where(inside, vis, 0.0).astype(np.float32)
        # x * W, y * H as mediapipe's own drawing utils (and ../shared's reference extraction) do
        pix = np.clip(xy * np.array([w, h], np.float32), 0.0, np.array([w - 1, h - 1], np.float32))
        if self.layout == "coco":
            pix, vis = convert_keypoints(pix, vis, "mediapipe", "coco")
        return Detection(pix.astype(np.float32), vis.astype(np.float32), keypoint_box(pix, vis))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for model in self._models:
            model.close()
        self._models = []

    def __enter__(self) -> MediaPipePose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MediaPipeHands:
    """mediapipe Hands as a backend: 21 landmarks per hand (layout 'handmp').

    Args:
        max_num_hands: hands per image (per crop when crops are given).
        static_image_mode: True runs palm detection on every image (PYSKL's gesture demo does).
        model_complexity: 0 or 1.
        min_detection_confidence: palm detector threshold.
        max_side: full frames are shrunk to this longer side first (crops are used at full resolution).

    Each detection's ``score`` is the handedness confidence for every joint (mediapipe Hands gives no
    per-landmark score); ``extra`` holds ``normalized`` (x / W, y / H in the full frame), ``crop_normalized``
    (relative to the crop it was found in, == ``normalized`` for full-frame detections), ``handedness``
    and ``crop`` (the crop box or None).
    """

    layout = "handmp"

    def __init__(
        self,
        max_num_hands: int = 1,
        static_image_mode: bool = True,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        max_side: int | None = 960,
    ) -> None:
        mp = require_mediapipe()
        self.max_side = max_side
        self._model = mp.solutions.hands.Hands(
            static_image_mode=static_image_mode,
            max_num_hands=max_num_hands,
            model_complexity=model_complexity,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def __call__(self, frame: np.ndarray, crops: Sequence[Sequence[int]] | None = None) -> list[Detection]:
        """Hands in the full frame, or in each ``(x1, y1, x2, y2)`` crop when ``crops`` is given."""
        h, w = frame.shape[:2]
        if crops is None:
            return self._detect(_to_rgb(frame, self.max_side), 0, 0, w, h, w, h, None)
        out: list[Detection] = []
        for box in crops:
            x1, y1, x2, y2 = (int(v) for v in box)
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
            if x2 - x1 < 16 or y2 - y1 < 16:
                continue
            crop = _to_rgb(frame[y1:y2, x1:x2])
            out += self._detect(crop, x1, y1, x2 - x1, y2 - y1, w, h, (x1, y1, x2, y2))
        return out

    def _detect(
        self, rgb: np.ndarray, ox: int, oy: int, cw: int, ch: int, w: int, h: int, crop: Any
    ) -> list[Detection]:
        """Hands in ``rgb``, which shows the ``cw`` x ``ch`` frame region at (ox, oy) (maybe shrunk)."""
        result = self._model.process(rgb)
        if not result.multi_hand_landmarks:
            return []
        out = []
        handedness = result.multi_handedness or [None] * len(result.multi_hand_landmarks)
        for landmarks, hand in zip(result.multi_hand_landmarks, handedness):
            xy, _ = _landmarks(landmarks, with_visibility=False)
            pix = xy * np.array([cw, ch], dtype=np.float32) + np.array([ox, oy], dtype=np.float32)
            label, conf = (
                ("", 1.0) if hand is None else (hand.classification[0].label, hand.classification[0].score)
            )
            score = np.full(len(pix), conf, dtype=np.float32)
            extra = {
                "normalized": pix / np.array([w, h], dtype=np.float32),
                "crop_normalized": xy,
                "handedness": label,
                "crop": crop,
            }
            out.append(Detection(pix.astype(np.float32), score, keypoint_box(pix, score, -1.0), extra))
        return out

    def close(self) -> None:
        self._model.close()

    def __enter__(self) -> MediaPipeHands:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wrist_crops(
    pose: Detection,
    frame_shape: tuple[int, int],
    size: int = 320,
    threshold: float = 0.3,
    layout: str = "coco",
) -> list[tuple[int, int, int, int]]:
    """Square ``size`` px crops centred on the confident wrists of a pose detection."""
    from ..utils.layouts import get_layout

    names = get_layout(layout).joint_names
    h, w = frame_shape
    crops = []
    for name in ("left_wrist", "right_wrist"):
        j = names.index(name)
        if pose.score[j] <= threshold:
            continue
        cx, cy = pose.keypoint[j]
        half = size // 2
        x1 = int(np.clip(cx - half, 0, max(0, w - size)))
        y1 = int(np.clip(cy - half, 0, max(0, h - size)))
        crops.append((x1, y1, min(w, x1 + size), min(h, y1 + size)))
    return crops
