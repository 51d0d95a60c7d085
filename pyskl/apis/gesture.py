"""Real-time hand-gesture recognition (``pyskl gesture``) with mediapipe Hands and PYSKL's ST-GCN++ model.

Per frame: mediapipe Hands on the full frame (``static_image_mode=True, model_complexity=1,
max_num_hands=1``, as PYSKL's demo); when it finds no hand (hands far from the camera are too small for
its palm detector), mediapipe Pose finds the wrists and Hands runs again on square crops around them.
The hand is tracked by box IoU >= 0.5 (a new hand starts a new buffer); every ``predict_every``-th frame
the last up to 10 frames of its landmarks go through the model (see configs/gesture/stgcnpp_hagrid.py).

Coordinates fed to the model: mediapipe's normalised landmarks of the full frame (``hand_coords='frame'``,
what PYSKL's webcam demo feeds), or relative to the crop the hand was found in (``'crop'``, closer in
scale to a webcam hand when the person is far away; full-frame detections are the same either way).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "GESTURE_CLASSES",
    "GESTURE_CONFIG",
    "GESTURE_ZOO_NAME",
    "GestureResult",
    "find_gesture_checkpoint",
    "run_gesture",
]

# PYSKL's gesture label order: 27 Jester dynamic gestures, then 13 HaGRID static ones.
GESTURE_CLASSES: tuple[str, ...] = (
    "Doing other things",
    "Drumming Fingers",
    "No gesture",
    "Pulling Hand In",
    "Pulling Two Fingers In",
    "Pushing Hand Away",
    "Pushing Two Fingers Away",
    "Rolling Hand Backward",
    "Rolling Hand Forward",
    "Shaking Hand",
    "Sliding Two Fingers Down",
    "Sliding Two Fingers Left",
    "Sliding Two Fingers Right",
    "Sliding Two Fingers Up",
    "Stop Sign",
    "Swiping Down",
    "Swiping Left",
    "Swiping Right",
    "Swiping Up",
    "Dislike",
    "Like",
    "Turning Hand Clockwise",
    "Turning Hand Counterclockwise",
    "Zooming In With Full Hand",
    "Zooming In With Two Fingers",
    "Zooming Out With Full Hand",
    "Zooming Out With Two Fingers",
    "Call",
    "Fist",
    "Four",
    "Mute",
    "OK",
    "One",
    "Palm",
    "Peace",
    "Rock",
    "Three-Middle",
    "Three-Left",
    "Two Up",
    "No Gesture",
)

# The same facts as configs/gesture/stgcnpp_hagrid.py, so the installed package needs no repo checkout.
GESTURE_CONFIG: dict[str, Any] = {
    "model": dict(
        type="RecognizerGCN",
        backbone=dict(
            type="STGCN",
            in_channels=2,
            gcn_adaptive="init",
            gcn_with_res=True,
            tcn_type="mstcn",
            num_stages=6,
            down_stages=[6],
            inflate_stages=[6],
            graph_cfg=dict(layout="handmp", mode="spatial"),
        ),
        cls_head=dict(type="GCNHead", num_classes=40, in_channels=128),
    ),
    "test_pipeline": [
        dict(type="PreNormalize2D", threshold=0, mode="auto"),
        dict(type="GenSkeFeat", dataset="handmp", feats=["j"]),
        dict(type="UniformSample", clip_len=10, num_clips=1),
        dict(type="PoseDecode"),
        dict(type="FormatGCNInput", num_person=1),
        dict(type="Collect", keys=["keypoint"], meta_keys=[]),
        dict(type="ToTensor", keys=["keypoint"]),
    ],
}

CHECKPOINT_ENV = "PYSKL_GESTURE_CHECKPOINT"

# the zoo entry of PYSKL's gesture checkpoint (hagrid.pth), downloaded into the cache on first use
GESTURE_ZOO_NAME = "stgcnpp_hagrid"


def find_gesture_checkpoint(explicit: str | os.PathLike | None = None) -> str:
    """The gesture checkpoint spec: ``explicit`` (a file, an http(s) URL or a zoo name), else
    ``$PYSKL_GESTURE_CHECKPOINT``, else the zoo entry :data:`GESTURE_ZOO_NAME` (PYSKL's hagrid.pth, fetched
    into the cache like every zoo checkpoint). Nothing is looked up relative to the working folder.

    Raises:
        FileNotFoundError: the spec looks like a file path (has a folder or a suffix) and is not a file.
    """
    spec = os.fspath(explicit) if explicit else os.environ.get(CHECKPOINT_ENV) or GESTURE_ZOO_NAME
    from ..zoo import is_remote, is_zoo_name

    if not (is_remote(spec) or is_zoo_name(spec) or Path(spec).is_file()):
        source = "--checkpoint" if explicit else f"${CHECKPOINT_ENV}"
        raise FileNotFoundError(
            f"gesture checkpoint {spec} ({source}) not found: give a file, an http(s) URL "
            f"or a zoo name (default: {GESTURE_ZOO_NAME}, PYSKL's hagrid.pth)"
        )
    return spec


@dataclass
class GestureResult:
    frames: int
    hand_frames: int
    crop_frames: int
    predictions: int
    timeline: Path | None
    video: Path | None
    segments: list[dict]
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """End-to-end frames per second: decoding, hands, recognition, drawing and encoding together."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def _frames(source: int | str, max_frames: int | None):
    import cv2

    if isinstance(source, int):
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise RuntimeError(f"camera {source}: cannot open it")
        n = 0
        try:
            while max_frames is None or n < max_frames:
                ok, frame = cap.read()
                if not ok:
                    break
                n += 1
                yield frame
        finally:
            cap.release()
    else:
        from ..pose.video_reader import iter_frames

        yield from iter_frames(source, max_frames)


def run_gesture(
    source: int | str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    config: str | os.PathLike | dict | None = None,
    out_video: str | os.PathLike | None = None,
    timeline: str | os.PathLike | None = None,
    headless: bool = True,
    predict_every: int = 2,
    hand_coords: str = "frame",
    crop_size: int = 320,
    device: str = "cpu",
    max_frames: int | None = None,
    progress: bool = False,
    fps: float | None = None,
) -> GestureResult:
    """Run the gesture demo on a camera index or a video file.

    Args:
        source: camera index (int) or video path.
        checkpoint: a file, URL or zoo name (default: PYSKL's hagrid.pth from the zoo; see
            :func:`find_gesture_checkpoint`).
        config: a config path/dict (default :data:`GESTURE_CONFIG`).
        out_video: annotated mp4 (headless output); None: no video.
        timeline: JSON timeline (+ CSV beside it); default: ``out_video`` with ``.json``.
        headless: no window (a window needs OpenCV with GUI support; opencv-headless has none).
        predict_every: run the model every N-th frame (PYSKL: 2).
        hand_coords: 'frame' or 'crop' (see the module docstring).
        crop_size: side in pixels of the crops around the wrists.
    """
    from ..pose.blazepose import BlazePose
    from ..pose.mediapipe_backend import MediaPipeHands, wrist_crops
    from ..pose.tracker import PoseTracker
    from ..viz import VideoWriter, draw_skeleton, draw_text_block
    from .inference import init_recognizer
    from .streaming import StreamingRecognizer
    from .timeline import Timeline

    if hand_coords not in ("frame", "crop"):
        raise ValueError(f"hand_coords must be 'frame' or 'crop', got {hand_coords!r}")
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    model = init_recognizer(
        config if config is not None else GESTURE_CONFIG, find_gesture_checkpoint(checkpoint), device=device,
        fuse_bn=True,
    )
    if timeline is None and out_video is not None:
        timeline = Path(out_video).with_suffix(".json")
    src_fps = fps
    if src_fps is None and isinstance(source, str):
        from ..pose.video_reader import probe_video

        src_fps = probe_video(source).fps
    lines = Timeline(GESTURE_CLASSES, src_fps or 30.0)
    stream = StreamingRecognizer(
        model, window=10, stride=predict_every, min_frames=1, max_missing=15, use_score=False
    )
    tracker = PoseTracker(similarity="iou", threshold=0.5, max_age=5, max_tracks=1)
    hands = MediaPipeHands(max_num_hands=1, static_image_mode=True, model_complexity=1)
    pose = None
    writer = VideoWriter(out_video, fps=src_fps or 30.0) if out_video is not None else None
    window_ok = not headless
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc="gesture", unit="frame", file=sys.stderr, dynamic_ncols=True)
    frames = hand_frames = crop_frames = npred = 0
    stages = dict(hands=0.0, pose_crops=0.0, recognition=0.0, drawing=0.0)
    current: tuple[int, float] | None = None
    t_start = time.perf_counter()
    try:
        for t, frame in enumerate(_frames(source, max_frames)):
            t0 = time.perf_counter()
            found = hands(frame)
            t1 = time.perf_counter()
            if not found:
                pose = pose or BlazePose(max_persons=1)
                people = pose(frame)
                crops = wrist_crops(people[0], frame.shape[:2], crop_size) if people else []
                found = hands(frame, crops) if crops else []
                if found:
                    crop_frames += 1
            t2 = time.perf_counter()
            found = _pick_hand(found, tracker)
            ids = tracker.update(found)
            poses = {}
            for tid, det in zip(ids, found):
                if tid >= 0:
                    coords = (
                        det.extra["normalized"] if hand_coords == "frame" else det.extra["crop_normalized"]
                    )
                    poses[tid] = (coords, None)
            hand_frames += bool(poses)
            for pred in stream.push(t, poses):
                lines.add(pred)
                current = (pred.label, pred.score)
                npred += 1
            t3 = time.perf_counter()
            if writer is not None or window_ok:
                if found:
                    draw_skeleton(
                        frame,
                        np.stack([d.keypoint for d in found]),
                        None,
                        layout="handmp",
                        track_ids=[max(0, i) for i in ids],
                        radius=3,
                        thickness=2,
                        with_ids=False,
                    )
                text = [
                    f"{GESTURE_CLASSES[current[0]]} {current[1]:.2f}" if current else "(no hand yet)",
                    f"frame {t}",
                ]
                draw_text_block(frame, text, (8, 8))
                if writer is not None:
                    writer.write(frame)
                if window_ok:
                    window_ok = _show(frame)
            stages["hands"] += t1 - t0
            stages["pose_crops"] += t2 - t1
            stages["recognition"] += t3 - t2
            stages["drawing"] += time.perf_counter() - t3
            frames += 1
            if bar is not None:
                bar.update(1)
        for pred in stream.flush():
            lines.add(pred)
            npred += 1
    finally:
        hands.close()
        if pose is not None:
            pose.close()
        if writer is not None:
            writer.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t_start
    if timeline is not None:
        h, w = frame.shape[:2] if frames else (1, 1)
        lines.write(
            timeline,
            Path(timeline).with_suffix(".csv"),
            video=str(source),
            frames=frames,
            width=int(w),
            height=int(h),
            window=10,
            stride=predict_every,
        )
    segments = lines.finish()
    return GestureResult(
        frames,
        hand_frames,
        crop_frames,
        npred,
        Path(timeline) if timeline else None,
        Path(out_video) if out_video is not None else None,
        segments,
        seconds,
        stages,
    )


def _pick_hand(found: list, tracker: Any) -> list:
    """The one hand to follow: the one overlapping the live track most, else the most confident."""
    from ..pose.tracker import box_iou

    if len(found) <= 1:
        return found
    live = [t for t in tracker.tracks if t.last_seen == tracker.frame]
    if live:
        iou = box_iou(np.array([live[0].detection.box]), np.array([d.box for d in found]))[0]
        if iou.max() > 0:
            return [found[int(iou.argmax())]]
    return [max(found, key=lambda d: float(d.score[0]))]


def _show(frame: np.ndarray) -> bool:
    """Show a frame in a window; False when OpenCV has no GUI or the user pressed q / Esc."""
    import cv2

    try:
        cv2.imshow("pyskl gesture", frame)
        key = cv2.waitKey(1) & 0xFF
    except cv2.error:
        print(
            "pyskl gesture: this OpenCV has no window support; use --headless (video/JSON output)",
            file=sys.stderr,
        )
        return False
    return key not in (ord("q"), 27)
