"""Multi-person BlazePose: mediapipe 0.10.14's detector and landmark TFLite models, run with ai-edge-litert.

Per frame, every person is a rotated square region (:mod:`pyskl.pose._roi`) that the landmark model
(``pose_landmark_full.tflite``, 256 x 256 crop -> 39 landmarks, a presence score, a 64 x 64 heatmap)
reads. A person's landmarks give its region for the next frame (the mid-hip and size/rotation
auxiliary landmarks 33 and 34), so the person detector (``pose_detection.tflite``, 224 x 224 letterboxed
frame -> 2254 SSD candidates, :mod:`pyskl.pose._ssd`, :mod:`pyskl.pose._nms`) runs only when nobody is
followed, right when someone goes missing, and every ``search_every`` frames while fewer than
``max_persons`` people are followed. Detections of people already followed are dropped. A followed
person goes missing when its presence score drops or its landmarks land on another followed person's
body (people hugging); it keeps its last region for a few frames (``max_hold``) to be found again.

Pre- and post-processing follow mediapipe's pose graphs (facts): detector input letterboxed into
[-1, 1], candidates merged by weighted NMS (IoU 0.3); landmark crop in [0, 1] with the edge pixels
repeated; presence threshold 0.5; landmarks refined on the heatmap (7 x 7 window, sigmoid weights, when
the window's best confidence is at least 0.5); visibility is the sigmoid of its logit. Unlike
mediapipe's single-person video mode, no temporal smoothing is applied.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._nms import weighted_nms
from ._roi import RotatedRect, alignment_rect, from_crop, warp_crop
from ._ssd import decode_detections, ssd_anchors
from .backend import Detection, keypoint_box

__all__ = ["BlazePose", "PersonState", "model_paths", "refine_on_heatmap"]

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 39  # 33 body landmarks + 2 auxiliary (ROI) landmarks + 4 unused
ROI_SCALE = 1.25
MIN_ROI_SIZE = 8.0  # pixels
TORSO = [11, 12, 23, 24]  # shoulders and hips


def model_paths() -> tuple[str, str]:
    """Paths of the detector and landmark models inside the installed mediapipe package."""
    try:
        import mediapipe
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the BlazePose backend reads its models from mediapipe==0.10.14: pip install 'pyskl[demo]'"
        ) from err
    root = os.path.join(os.path.dirname(mediapipe.__file__), "modules")
    paths = (
        os.path.join(root, "pose_detection", "pose_detection.tflite"),
        os.path.join(root, "pose_landmark", "pose_landmark_full.tflite"),
    )
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path}: BlazePose model missing from the mediapipe package (need 0.10.14)"
            )
    return paths


def _interpreter(path: str, threads: int) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the BlazePose backend needs ai-edge-litert: pip install 'pyskl[demo]'") from err
    interpreter = Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def refine_on_heatmap(
    xy: np.ndarray, heatmap: np.ndarray, kernel: int = 7, min_confidence: float = 0.5
) -> np.ndarray:
    """Landmarks ``[L, 2]`` (normalised to the crop) moved to the confidence-weighted mean heatmap cell
    of a ``kernel`` window around each; landmarks whose window's best confidence is below
    ``min_confidence`` (or that lie outside the heatmap) are kept as they are.

    Args:
        heatmap: ``[H, W, L]`` logits.
    """
    h, w, n = heatmap.shape
    half = kernel // 2
    col = (xy[:, 0] * w).astype(np.int64)  # truncated towards zero, as mediapipe casts
    row = (xy[:, 1] * h).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    # cells of each window, [L, k, k]; those beyond the heatmap's edge weigh nothing
    offsets = np.arange(-half, half + 1)
    rows = row[:, None, None] + offsets[None, :, None]
    cols = col[:, None, None] + offsets[None, None, :]
    valid = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w) & inside[:, None, None]
    channel = np.arange(len(xy))[:, None, None]
    logits = heatmap[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1), np.minimum(channel, n - 1)]
    conf = np.where(valid, _sigmoid(logits.astype(np.float64)), 0.0)
    total = conf.sum(axis=(1, 2))
    refine = inside & (conf.max(axis=(1, 2)) >= min_confidence) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    refined = np.stack(
        [(cols * conf).sum(axis=(1, 2)) / safe / w, (rows * conf).sum(axis=(1, 2)) / safe / h], axis=-1
    )
    return np.where(refine[:, None], refined, xy)


@dataclass
class PersonState:
    """One followed person: the region its landmark model reads next frame and its last landmarks."""

    rect: RotatedRect
    landmarks: np.ndarray | None = None  # [35, 2] image pixels (33 body + 2 auxiliary)
    visibility: np.ndarray | None = None  # [33]
    presence: float = 0.0
    held: int = 0  # frames in a row it has been missing (see BlazePose.max_hold)

    def drift(self) -> float:
        """How far the mid-hip landmark lies from the centre of the region it was read in, in units of
        the hip-to-scale-point distance (small for a person the region was centred on)."""
        hip, point = self.landmarks[33], self.landmarks[34]
        radius = max(float(np.hypot(*(point - hip))), 1.0)
        return float(np.hypot(hip[0] - self.rect.cx, hip[1] - self.rect.cy)) / radius


class BlazePose:
    """Multi-person BlazePose as a pose backend (see the module docstring).

    Args:
        max_persons: people followed per frame at most (the best-scoring detections are taken).
        layout: 'coco' (COCO-17, default) or 'mediapipe' (the 33 BlazePose landmarks).
        search_every: while fewer than ``max_persons`` people are followed, run the detector every this
            many frames to find newcomers (it also runs right after a person is lost). 1: every frame.
        min_detection_score: detector candidates below it are dropped (mediapipe's graph: 0.2; its
            single-person solution: 0.5). People who hug or overlap often score between the two.
        confirm_below: a newcomer from a detection scoring below this is kept only when its landmarks
            show both shoulders and both hips (visibility at least 0.5).
        min_presence: a person whose landmark presence score falls below it goes missing (see ``max_hold``).
        threads: interpreter threads per model; the landmark passes of several people also run on a
            pool of ``max_persons`` threads (the interpreter releases the GIL).
        same_person: a detection whose mid-hip lies within this fraction of a followed person's
            hip-to-scale-point distance from that person's mid-hip is that person.
        max_hold: a followed person goes missing when its presence score falls below ``min_presence`` or
            its landmarks land on another followed person's body (people hugging or crossing: the model
            reads the more visible person in a region centred on the other; of the two, the one farther
            off its region's centre goes missing). A missing person is not output and keeps its last
            region for up to this many frames, until its landmarks come back or the detector finds it.
        model_complexity: 1 only (the landmark model that ships in the wheel; mediapipe's name for it).

    Call :meth:`reset` between videos: a new video starts with nobody followed.
    """

    def __init__(
        self,
        max_persons: int = 2,
        layout: str = "coco",
        search_every: int = 3,
        min_detection_score: float = 0.2,
        min_presence: float = 0.5,
        threads: int = 1,
        confirm_below: float = 0.5,
        same_person: float = 0.25,
        max_hold: int = 10,
        model_complexity: int = 1,
    ) -> None:
        if model_complexity != 1:
            raise ValueError(
                f"model_complexity {model_complexity} is not available offline: mediapipe's wheel ships only "
                "the full landmark model (model_complexity 1)"
            )
        if max_persons < 1:
            raise ValueError(f"max_persons must be >= 1, got {max_persons}")
        if layout not in ("coco", "mediapipe"):
            raise ValueError(f"layout must be 'coco' or 'mediapipe', got {layout!r}")
        if search_every < 1:
            raise ValueError(f"search_every must be >= 1, got {search_every}")
        detector_path, landmark_path = model_paths()
        self.layout, self.max_persons, self.search_every = layout, max_persons, search_every
        self.min_detection_score, self.min_presence = min_detection_score, min_presence
        self.same_person, self.max_hold, self.confirm_below = same_person, max_hold, confirm_below
        self._detector = _interpreter(detector_path, threads)
        # one landmark interpreter per person slot, so that the passes can run at once
        self._landmarkers = [_interpreter(landmark_path, threads) for _ in range(max_persons)]
        self._pool = (
            ThreadPoolExecutor(max_persons, thread_name_prefix="blazepose") if max_persons > 1 else None
        )
        self._anchors = ssd_anchors(DETECTOR_SIZE)
        self.detector_runs = 0
        self.reset()

    def reset(self) -> None:
        """Forget everyone followed (call at the start of each video)."""
        self.persons: list[PersonState] = []
        self._frame = -1
        self._last_search = -(10**9)

    # -- detector -------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> list[tuple[RotatedRect, float]]:
        """Every person the detector finds in an RGB frame: (region, score), best first."""
        h, w = rgb.shape[:2]
        frame_rect = RotatedRect(w / 2, h / 2, float(max(w, h)), 0.0)
        crop = warp_crop(rgb, frame_rect, DETECTOR_SIZE, border_zero=True)
        self._detector.set_tensor(
            self._detector.get_input_details()[0]["index"], (crop.astype(np.float32) / 127.5 - 1.0)[None]
        )
        self._detector.invoke()
        outputs = self._detector.get_output_details()
        raw_boxes, raw_scores = (self._detector.get_tensor(o["index"])[0] for o in outputs)
        boxes, keypoints, scores = decode_detections(
            raw_boxes, raw_scores, self._anchors, DETECTOR_SIZE, self.min_detection_score
        )
        boxes, keypoints, scores = weighted_nms(boxes, keypoints, scores, 0.3)
        self.detector_runs += 1
        out = []
        for kp, score in zip(keypoints, scores):
            pix = from_crop(frame_rect, kp, 1.0)  # letterboxed square -> frame pixels
            out.append((alignment_rect(pix[0], pix[1], ROI_SCALE), float(score)))
        return out

    # -- landmarks ------------------------------------------------------------------------------
    def _landmarks(self, slot: int, rgb: np.ndarray, rect: RotatedRect) -> PersonState:
        model = self._landmarkers[slot]
        crop = warp_crop(rgb, rect, LANDMARK_SIZE).astype(np.float32) / 255.0
        model.set_tensor(model.get_input_details()[0]["index"], crop[None])
        model.invoke()
        outputs = {o["name"]: o["index"] for o in model.get_output_details()}
        raw = model.get_tensor(outputs["Identity"]).reshape(NUM_LANDMARKS, 5)
        presence = float(model.get_tensor(outputs["Identity_1"]).reshape(-1)[0])
        if presence < self.min_presence:
            return PersonState(rect, presence=presence)
        heatmap = model.get_tensor(outputs["Identity_3"])[0]
        xy = refine_on_heatmap(raw[:, :2] / LANDMARK_SIZE, heatmap)
        pix = from_crop(rect, xy[:35], 1.0)
        return PersonState(rect, pix, _sigmoid(raw[:33, 3].astype(np.float64)), presence)

    def _run_landmarks(self, rgb: np.ndarray, rects: list[RotatedRect]) -> list[PersonState]:
        if self._pool is None or len(rects) < 2:
            return [self._landmarks(i, rgb, r) for i, r in enumerate(rects)]
        jobs = [self._pool.submit(self._landmarks, i, rgb, r) for i, r in enumerate(rects)]
        return [job.result() for job in jobs]

    # -- one frame --------------------------------------------------------------------------------
    def _is_followed(self, rect: RotatedRect, persons: list[PersonState]) -> bool:
        """Whether a detector region is one of ``persons``: its two alignment points (mid-hip and the
        size/rotation point) both lie within ``same_person`` times the person's own hip-to-point
        distance of the person's (people who hug stand farther apart than that)."""
        top = rect.corners()[:2].mean(axis=0)  # the crop's top edge centre = centre + scale * vector
        point = np.array([rect.cx, rect.cy]) + (top - (rect.cx, rect.cy)) / ROI_SCALE
        for person in persons:
            hip, their_point = person.landmarks[33], person.landmarks[34]
            radius = max(float(np.hypot(*(their_point - hip))), 1.0)
            near_hip = np.hypot(rect.cx - hip[0], rect.cy - hip[1]) < self.same_person * radius
            if near_hip and np.hypot(*(point - their_point)) < self.same_person * radius:
                return True
        return False

    @staticmethod
    def _same_body(person: PersonState, others: list[PersonState], threshold: float = 0.7) -> bool:
        """Whether ``person``'s landmarks are (nearly) those of one of ``others``."""
        from .tracker import keypoint_similarity

        if not others:
            return False
        sim = keypoint_similarity(
            person.landmarks[None, :33], person.visibility[None],
            np.stack([o.landmarks[:33] for o in others]), np.stack([o.visibility for o in others]),
        )
        return bool(sim.max() > threshold)

    def _follow(self, rgb: np.ndarray) -> tuple[list[PersonState], list[PersonState], bool]:
        """Landmarks of everyone followed, read in their regions from the last frame.

        Returns:
            ``(found, held, newly_missing)``: the people found again; the missing ones kept with their last
            region (see ``max_hold``); whether someone went missing in this frame.
        """
        previous = self.persons
        results = self._run_landmarks(rgb, [p.rect for p in previous])
        found: list[PersonState] = []
        missing = [i for i, r in enumerate(results) if r.landmarks is None]
        # the person least displaced within its region keeps the body; another one landing on it is missing
        for i in sorted(set(range(len(results))) - set(missing), key=lambda i: results[i].drift()):
            if self._same_body(results[i], found):
                missing.append(i)
            else:
                found.append(results[i])
        # a missing person keeps its last region for a while: the presence score dips for a frame or two
        # when people overlap, and the detector often cannot see a person half hidden by another
        held = [
            PersonState(p.rect, p.landmarks, p.visibility, p.presence, p.held + 1)
            for p in (previous[i] for i in missing)
            if p.held < self.max_hold
        ]
        return found, held, any(previous[i].held == 0 for i in missing)

    def _find_newcomers(
        self, rgb: np.ndarray, found: list[PersonState], held: list[PersonState]
    ) -> tuple[list[PersonState], list[PersonState]]:
        """Run the detector; add the people it finds who are not followed yet to ``found`` (up to
        ``max_persons``); drop from ``held`` those found again. Returns the new ``(found, held)``."""
        self._last_search = self._frame
        new = [(rect, score) for rect, score in self.detect(rgb) if not self._is_followed(rect, found)]
        new = new[: self.max_persons - len(found)]
        found = list(found)
        for (rect, score), person in zip(new, self._run_landmarks(rgb, [rect for rect, _ in new])):
            if person.landmarks is None or self._same_body(person, found):
                continue
            # the landmark model's presence score is high on almost any crop: a weak detection must show
            # a body (shoulders and hips visible) to count as a person
            if score < self.confirm_below and person.visibility[TORSO].min() < 0.5:
                continue
            found.append(person)
            # a held person found again by the detector continues from this fresh region
            held = [h for h in held if not self._is_followed(rect, [h])]
        return found, held

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        import cv2

        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a BGR frame [H, W, 3], got shape {frame.shape}")
        self._frame += 1
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        found, held, newly_missing = self._follow(rgb)
        # the detector runs when nobody is followed, right when someone goes missing, and every
        # ``search_every`` frames while there is room for a newcomer (or a missing person to find again)
        due = self._frame - self._last_search >= self.search_every
        if not found or newly_missing or (len(found) < self.max_persons and due):
            found, held = self._find_newcomers(rgb, found, held)
        # each person's next region comes from its auxiliary landmarks (mid-hip, size/rotation point);
        # a region that collapsed to a few pixels holds no person to follow
        for p in found:
            p.rect = alignment_rect(p.landmarks[33], p.landmarks[34], ROI_SCALE)
        found = [p for p in found if p.rect.size >= MIN_ROI_SIZE]
        self.persons = found + held[: self.max_persons - len(found)]
        h, w = frame.shape[:2]
        return [self._detection(p, w, h) for p in found]

    def _detection(self, person: PersonState, w: int, h: int) -> Detection:
        from ..datasets.layout_convert import convert_keypoints

        xy = person.landmarks[:33].astype(np.float32)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
        score = np.where(inside, person.visibility, 0.0).astype(np.float32)
        xy = np.clip(xy, 0.0, np.array([w - 1, h - 1], np.float32))
        if self.layout == "coco":
            xy, score = convert_keypoints(xy, score, "mediapipe", "coco")
        extra = {"presence": person.presence, "landmarks": person.landmarks.astype(np.float32)}
        return Detection(xy.astype(np.float32), score.astype(np.float32), keypoint_box(xy, score), extra)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._detector, self._landmarkers = None, []

    def __enter__(self) -> BlazePose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
