"""The offline video demo behind ``pyskl demo``: pose -> tracking -> sliding-window recognition -> drawing.

Frames stream from the reader through every stage into the writer, so memory does not grow with the
video's length. ``run_demo`` returns per-stage wall-clock times (used by ``benchmarks/bench_demo.py``).
With ``pose_ahead`` (default) the next frame is posed (and the one after decoded) on worker threads while the
current one is tracked, recognised and drawn, so decoding, pose estimation and the rest use both cores.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEMO_MODELS", "MEDIAPIPE_SEARCH_EVERY", "POSE_AHEAD_FRAMES", "DemoResult", "class_names_for",
           "run_demo"]

# the zoo models ``pyskl demo`` runs without --config: PYSKL's own demo models (NTU-120 X-Sub, HRNet 2D)
DEMO_MODELS: dict[str, str] = {
    "posec3d": "slowonly_r50_ntu120_xsub_joint",
    "stgcnpp": "stgcnpp_ntu120_xsub_hrnet_j",
}

# frames the pose worker may run ahead of recognition and drawing (each held frame: 6 MB at 1080p)
POSE_AHEAD_FRAMES = 4

# the mediapipe backend looks for people not yet found every 5th frame (a newcomer is picked up within
# 167 ms at 30 fps) instead of running its person detector on every frame
MEDIAPIPE_SEARCH_EVERY = 5


@dataclass
class DemoResult:
    frames: int
    tracks: int
    video: Path | None
    timeline: Path
    segments: list[dict]
    codec: str
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    pose_ahead: bool = False
    random_weights: bool = False
    classes: list[str] = field(default_factory=list)

    @property
    def fps(self) -> dict[str, float]:
        """Frames per second of each stage alone and of everything together ('total': end to end, with
        decoding, pose, recognition, drawing and encoding)."""
        return {k: self.frames / v if v > 0 else float("inf") for k, v in self.seconds.items()}

    @property
    def cpu_ms_per_frame(self) -> dict[str, float]:
        """CPU time (all threads of this process) per frame of each stage, in ms: unlike wall-clock
        fps it does not depend on what else the machine runs. With ``pose_ahead`` the pose worker's CPU
        time falls into whichever stage ran beside it: only 'total' is then exact."""
        return {k: 1000 * v / max(self.frames, 1) for k, v in self.cpu_seconds.items()}


def _now() -> np.ndarray:
    return np.array([time.perf_counter(), time.process_time()])


def class_names_for(
    num_classes: int, label_map: str | os.PathLike | Sequence[str] | None, config: dict | None = None
) -> list[str]:
    """Class names from a label map name/file/list (exactly ``num_classes`` of them), else the shipped map
    of the config's dataset when known, else the class numbers (see :func:`pyskl.label_maps.class_names`)."""
    from ..label_maps import class_names

    if isinstance(label_map, os.PathLike):
        label_map = Path(label_map)
    return class_names(num_classes, label_map, config)


def _check_layout(cfg: dict, layout: str) -> None:
    """Refuse a GCN config built for another skeleton (e.g. NTU-25 3D) than the pose backend gives."""
    graph = ((cfg.get("model") or {}).get("backbone") or {}).get("graph_cfg") or {}
    expected = graph.get("layout")
    if expected is not None and expected != layout:
        raise ValueError(
            f"the config's model uses the {expected!r} skeleton layout, but the pose backend gives "
            f"{layout!r} keypoints: use a config trained on {layout!r} 2D skeletons"
        )


def _num_classes(model) -> int:
    head = getattr(model, "cls_head", None)
    n = getattr(head, "num_classes", None)
    if n is None:
        raise AttributeError("cannot tell the model's number of classes (cls_head.num_classes)")
    return int(n)


def run_demo(
    video: str | os.PathLike,
    out: str | os.PathLike | None,
    config: str | os.PathLike | dict,
    checkpoint: str | os.PathLike | None,
    label_map: str | os.PathLike | Sequence[str] | None = None,
    window: int = 48,
    stride: int = 16,
    num_clips: int | None = 1,
    max_persons: int = 2,
    topk: int = 3,
    timeline: str | os.PathLike | None = None,
    device: str = "cpu",
    backend: Any = "mediapipe",
    backend_kwargs: dict | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    draw: bool = True,
    save_pose: str | os.PathLike | None = None,
    pose_ahead: bool = True,
    pose_every: int = 1,
    torch_threads: int | None = None,
    scene: bool = False,
) -> DemoResult:
    """Recognise actions per tracked person in ``video``; write the annotated mp4 and the timeline.

    Args:
        video: input video file.
        out: annotated H.264 mp4 (None: no video, timeline only).
        config, checkpoint: any GCN or PoseC3D PYSKL config (or zoo name) and its weights: a file, an
            http(s) URL or a zoo name (2D COCO-17 keypoints unless the backend gives another layout).
            None or 'none': random weights, and the video, the timeline and the result say so.
        label_map: class names (shipped label-map name, text file, or list; exactly one per class).
            None: the shipped map of the config's dataset when known, else class numbers.
        window, stride: frames per recognition window, frames between recognitions of a track.
        num_clips: clips per window (overrides the test pipeline's; None keeps it).
        max_persons: persons detected and tracked.
        topk: labels drawn per person.
        backend: a pose backend name (built with ``backend_kwargs``; for 'mediapipe' ``search_every``
            defaults to :data:`MEDIAPIPE_SEARCH_EVERY`) or a ready backend object.
        timeline: JSON path (default: ``out`` with ``.json``); a CSV is written beside it.
        save_pose: also write the tracked skeletons as a PYSKL annotation pickle (grows with the video:
            keypoints only).
        pose_ahead: pose the next frames on a worker thread (up to :data:`POSE_AHEAD_FRAMES` ahead; decode
            on another) while frame t is tracked, recognised and drawn (same results). The 'pose' stage
            time is then the wait for the worker. False: everything in this thread, one stage after the other.
        torch_threads: torch CPU threads for the recognizer while the demo runs (restored after). None: 1
            with ``pose_ahead`` (the pose and decode workers use the other cores; on 2 cores a second torch
            thread spin-waits against them, measured 10x slower recognition), else torch's setting.
        pose_every: estimate poses on every n-th frame only and interpolate the others (a speed fallback,
            :mod:`pyskl.pose.strided`; frames are then held back up to n - 1 frames). 1: every frame.
        scene: recognise everyone in the frame together, one label per window for the whole scene (PYSKL's
            demo; NTU models need both people of a mutual action in one sample), instead of one per person
            (see :class:`pyskl.apis.streaming.SceneRecognizer`). Timeline segments then have track -1.
    """
    from ..pose import PoseTracker, TrackStore, build_pose_backend
    from ..pose.video_reader import iter_frames, probe_video
    from ..viz import VideoWriter, draw_skeleton, draw_text_block, track_color
    from .inference import init_recognizer
    from .streaming import SCENE, SceneRecognizer, StreamingRecognizer
    from .timeline import Timeline

    if pose_every < 1:
        raise ValueError(f"pose_every must be >= 1, got {pose_every}")
    info = probe_video(video)
    if out is None and timeline is None:
        raise ValueError("give an output video, a timeline path, or both")
    timeline = Path(timeline) if timeline is not None else Path(out).with_suffix(".json")
    random_weights = checkpoint is None or str(checkpoint).lower() == "none"
    weights = None if random_weights else checkpoint
    model = init_recognizer(config, weights, device=device, num_clips=num_clips, fuse_bn=True)
    classes = class_names_for(_num_classes(model), label_map, model.cfg)
    banner = ["RANDOM WEIGHTS: labels are meaningless"] if random_weights else []
    own = isinstance(backend, str)
    kwargs = dict(backend_kwargs or {}, max_persons=max_persons)
    if backend == "mediapipe":
        kwargs.setdefault("search_every", MEDIAPIPE_SEARCH_EVERY)
    pose = build_pose_backend(backend, **kwargs) if own else backend
    layout = getattr(pose, "layout", "coco")
    _check_layout(model.cfg, layout)
    tracker = PoseTracker(max_tracks=max_persons)
    if scene:
        stream = SceneRecognizer(model, window=window, stride=stride, img_shape=(info.height, info.width),
                                 max_people=max_persons)
    else:
        stream = StreamingRecognizer(model, window=window, stride=stride, img_shape=(info.height, info.width))
    lines = Timeline(classes, info.fps)
    latest: dict[int, list[tuple[int, float]]] = {}
    stages = ("pose", "tracking", "recognition", "drawing", "total")
    clock = np.zeros((len(stages), 2))  # per stage: wall, CPU seconds
    writer = VideoWriter(out, fps=info.fps) if out is not None and draw else None
    total = info.frame_count if max_frames is None else min(info.frame_count or max_frames, max_frames)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total or None, desc="demo", unit="frame", file=sys.stderr, dynamic_ncols=True)
    frames, seen_tracks = 0, set()
    store = TrackStore() if save_pose is not None else None
    pools = []
    restore_threads = _set_torch_threads(1 if torch_threads is None and pose_ahead else torch_threads)
    t_start = _now()
    try:
        frames_in = iter_frames(video, max_frames)
        if pose_ahead:
            from concurrent.futures import ThreadPoolExecutor

            # a three-stage pipeline: decode | pose | track, recognise, draw. The pose worker may run a few
            # frames ahead, so that it keeps a core busy while a recognition (a burst of ~100 ms on one
            # core every ``stride`` frames) holds up this thread
            pools = [ThreadPoolExecutor(1, thread_name_prefix=f"demo-{n}") for n in ("pose", "decode")]
            frames_in = _run_ahead(frames_in, pools[1], 2)
        posed = None
        if pose_every > 1:
            from ..pose.strided import strided_poses

            posed = strided_poses(frames_in, pose, pose_every)
        if pose_ahead:
            posed = _run_ahead(posed or _posed_frames(frames_in, pose), pools[0], POSE_AHEAD_FRAMES)
        for t in itertools.count():
            if posed is None:
                frame = next(frames_in, None)  # decoding is timed in no stage (only in 'total')
                if frame is None:
                    break
                t0 = _now()
                detections = pose(frame)
                t1 = _now()
            else:
                t0 = _now()
                item = next(posed, None)  # decode + pose, or the wait for the worker doing them
                t1 = _now()
                if item is None:
                    clock[0] += t1 - t0
                    break
                frame, detections = item
            ids = tracker.update(detections)
            poses = {i: (d.keypoint, d.score) for i, d in zip(ids, detections) if i >= 0}
            seen_tracks.update(poses)
            if store is not None:
                store.add(ids, detections)
            t2 = _now()
            for pred in stream.push(t, poses):
                lines.add(pred)
                latest[pred.track] = pred.topk(topk)
            t3 = _now()
            if writer is not None:
                tids = sorted(poses)
                if tids:
                    draw_skeleton(
                        frame,
                        np.stack([poses[i][0] for i in tids]),
                        np.stack([poses[i][1] for i in tids]),
                        layout=layout,
                        track_ids=tids,
                        with_ids=False,
                    )
                placed = []  # label boxes drawn so far: later ones move up instead of covering them
                for tid in tids:
                    kp, score = poses[tid]
                    ok = score > 0.3
                    pts = kp[ok] if ok.any() else kp
                    text = [f"#{tid}"] + [f"{classes[c][:28]} {s:.2f}" for c, s in latest.get(tid, [])]
                    box = draw_text_block(
                        frame,
                        text,
                        (int(pts[:, 0].min()), int(pts[:, 1].min()) - 12),
                        track_color(tid),
                        anchor="bottom",
                        avoid=placed,
                    )
                    placed.append(box)
                head = [f"frame {t}"]
                if scene:
                    head += [f"{classes[c][:40]} {s:.2f}" for c, s in latest.get(SCENE, [])]
                draw_text_block(frame, head, (8, 8))
                if banner:  # bottom left, in red: people's labels sit above them, near the top
                    draw_text_block(frame, banner, (8, frame.shape[0] - 8), (0, 0, 255), anchor="bottom")
                writer.write(frame)
            t4 = _now()
            clock[:4] += np.stack([t1 - t0, t2 - t1, t3 - t2, t4 - t3])
            frames += 1
            if bar is not None:
                bar.update(1)
        t0 = _now()
        for pred in stream.flush():
            lines.add(pred)
        clock[2] += _now() - t0
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        _set_torch_threads(restore_threads)
        if own:
            pose.close()
        if writer is not None:
            writer.close()
        if bar is not None:
            bar.close()
    clock[4] = _now() - t_start
    seconds = {k: float(v) for k, v in zip(stages, clock[:, 0])}
    cpu_seconds = {k: float(v) for k, v in zip(stages, clock[:, 1])}
    if store is not None:
        _save_pose(store, save_pose, Path(video).stem, layout, max_persons, (info.height, info.width))
    lines.write(
        timeline,
        timeline.with_suffix(".csv"),
        video=str(video),
        frames=frames,
        width=info.width,
        height=info.height,
        window=window,
        stride=stride,
        random_weights=random_weights,
        checkpoint=None if random_weights else str(checkpoint),
        grouping="scene" if scene else "person",
    )
    return DemoResult(
        frames,
        len(seen_tracks),
        Path(out) if writer is not None else None,
        timeline,
        lines.segments,
        writer.codec if writer is not None else "",
        seconds,
        cpu_seconds,
        pose_ahead,
        random_weights,
        classes,
    )


def _set_torch_threads(threads: int | None) -> int | None:
    """Set torch's intra-op threads; returns the previous count (None: nothing changed)."""
    if threads is None:
        return None
    import torch

    previous = torch.get_num_threads()
    if threads != previous:
        torch.set_num_threads(threads)
    return previous


def _posed_frames(frames: Iterator[np.ndarray], pose: Any) -> Iterator[tuple[np.ndarray, list]]:
    for frame in frames:
        yield frame, pose(frame)


def _run_ahead(items: Iterator, pool: Any, depth: int) -> Iterator:
    """``items``, up to ``depth`` of them computed ahead on ``pool`` (one thread: order is kept) while the
    caller works on the current one."""

    def step():
        return next(items, _END)

    jobs = deque(pool.submit(step) for _ in range(depth))
    while True:
        item = jobs.popleft().result()
        if item is _END:
            return
        jobs.append(pool.submit(step))
        yield item


_END = object()


def _save_pose(store, path, name: str, layout: str, max_persons: int, shape: tuple[int, int]) -> None:
    from ..datasets.io import save_annotations
    from ..utils.layouts import get_layout

    kp, score = store.to_arrays(get_layout(layout).num_joints, max_persons)
    ann = {
        "frame_dir": name,
        "label": -1,
        "img_shape": shape,
        "original_shape": shape,
        "total_frames": int(kp.shape[1]),
        "keypoint": kp,
        "keypoint_score": score,
    }
    save_annotations({"split": {"demo": [name]}, "annotations": [ann]}, path)
