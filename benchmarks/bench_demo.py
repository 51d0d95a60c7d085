"""End-to-end frames/s of ``pyskl demo`` on ../shared/samples/ntu_sample.avi, split by stage.

Stages (wall-clock seconds inside ``pyskl.apis.demo.run_demo``, one after the other: ``pose_ahead=False``):
pose (multi-person BlazePose, its per-person landmark passes on threads; the video decode is not included),
tracking (OKS + IoU tracker), recognition (sliding-window ST-GCN++ per track), drawing (skeletons, labels
and H.264 encoding); each as wall-clock frames/s and from CPU time (frames per CPU-second, all threads of
the process), which does not depend on what else runs on the machine. Then the demo as ``pyskl demo`` runs
it (pose of the next frame on a worker thread, ``pose_ahead=True``), end to end: without drawing (decode +
pose + tracking + recognition: the issue's "pose + recognition" figure) and with drawing. Also runs the
recognition stage alone on replayed poses, so the model's share can be read without the pose cost.

Wall figures need idle cores (the per-person landmark passes and the pose-ahead worker run in parallel):
on a loaded machine compare CPU figures only.

Model: a full-size ST-GCN++ on COCO-17 (PYSKL's stgcn++ defaults: 10 stages, 64 base channels, 60 classes)
with random weights: timings do not depend on the weights. Pass --config/--checkpoint for another model.

    python benchmarks/bench_demo.py [--video V] [--max-persons 2] [--window 48] [--stride 16] [--threads 1]
        [--sequential] [--pose-every N]

``--sequential``: no pose-ahead worker and the person detector run on every frame with room for a newcomer.
``--pose-every N``: the interpolation fallback (its 'pose' stage then includes the decode).

Goal (issue 7): pose + recognition at least the source frame rate (30 fps) on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STGCNPP_COCO = dict(
    model=dict(
        type="RecognizerGCN",
        backbone=dict(
            type="STGCN",
            gcn_adaptive="init",
            gcn_with_res=True,
            tcn_type="mstcn",
            graph_cfg=dict(layout="coco", mode="spatial"),
        ),
        cls_head=dict(type="GCNHead", num_classes=60, in_channels=256),
    ),
    data=dict(
        test=dict(
            type="PoseDataset",
            ann_file="",
            pipeline=[
                dict(type="PreNormalize2D"),
                dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
                dict(type="UniformSample", clip_len=100, num_clips=1),
                dict(type="PoseDecode"),
                dict(type="FormatGCNInput", num_person=2),
                dict(type="Collect", keys=["keypoint", "label"], meta_keys=[]),
                dict(type="ToTensor", keys=["keypoint"]),
            ],
        )
    ),
)


def _row(name: str, frames: int, seconds: dict[str, float]) -> str:
    fps = {k: frames / v if v > 0 else float("inf") for k, v in seconds.items()}
    pr = frames / max(seconds["pose"] + seconds["tracking"] + seconds["recognition"], 1e-9)
    return (
        f"{name:<26} {fps['pose']:>8.1f} {fps['tracking']:>9.0f} {fps['recognition']:>12.1f} "
        f"{fps['drawing']:>9.1f} {pr:>11.1f} {fps['total']:>8.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(ROOT.parent / "shared" / "samples" / "ntu_sample.avi"))
    parser.add_argument("--config", default=None, help="model config (default: full-size ST-GCN++ COCO-17)")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--max-persons", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--window", type=int, default=48)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: pose and decoding use the other core; more spin-wait against them)",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="no pose ahead; the person detector runs on every frame with room for a newcomer",
    )
    parser.add_argument(
        "--pose-every",
        type=int,
        default=1,
        help="pose every n-th frame, interpolate the others (the demo's speed fallback; default 1)",
    )
    args = parser.parse_args()
    from pyskl.cli import configure_process

    configure_process()  # what `pyskl demo` runs with; before torch is imported

    import torch

    from pyskl.apis.demo import MEDIAPIPE_SEARCH_EVERY, run_demo
    from pyskl.datasets.io import load_annotations
    from pyskl.pose.blazepose import BlazePose
    from pyskl.pose.replay import ReplayBackend

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if not Path(args.video).is_file():
        print(f"skipped: {args.video} not found")
        return 0
    config = args.config or STGCNPP_COCO
    # as run_demo builds it; --sequential: a search for new people on every frame
    pose_kwargs = dict(search_every=1 if args.sequential else MEDIAPIPE_SEARCH_EVERY)
    print(
        f"video {args.video}; window {args.window}, stride {args.stride}; torch threads {args.threads}; "
        + ("sequential pose" if args.sequential else "parallel pose passes, pose ahead")
        + (f"; pose every {args.pose_every} frames, interpolated" if args.pose_every > 1 else "")
    )
    print(
        f"{'run':<26} {'pose':>8} {'tracking':>9} {'recognition':>12} {'drawing':>9} {'pose+recog':>11} "
        f"{'total':>8}   (frames/s)"
    )
    cpu_rows, e2e_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for persons in args.max_persons:
            pose_file = Path(tmp) / f"pose{persons}.pkl"
            demo = partial(run_demo, args.video, config=config, checkpoint=args.checkpoint,
                           window=args.window, stride=args.stride, max_persons=persons, progress=False,
                           torch_threads=args.threads)
            backend = BlazePose(max_persons=persons, **pose_kwargs)
            t0 = time.perf_counter()
            res = demo(Path(tmp) / f"demo{persons}.mp4", save_pose=pose_file, backend=backend,
                       pose_ahead=False, pose_every=args.pose_every)
            wall = time.perf_counter() - t0
            backend.close()
            print(
                _row(f"mediapipe, {persons} person(s)", res.frames, res.seconds)
                + f"   [{res.tracks} tracks, wall incl. model load {wall:.1f}s]"
            )
            print(_row("  same, from CPU time", res.frames, res.cpu_seconds) + "   [frames / CPU-seconds]")
            cpu_rows.append((f"mediapipe, {persons} person(s)", res.cpu_ms_per_frame))
            for draw in (False, True):
                backend = BlazePose(max_persons=persons, **pose_kwargs)
                res = demo(Path(tmp) / f"ahead{persons}.mp4" if draw else None,
                           timeline=Path(tmp) / "ahead.json", draw=draw, backend=backend,
                           pose_ahead=not args.sequential, pose_every=args.pose_every)
                backend.close()
                name = f"{persons} p., " + ("with drawing" if draw else "pose+recog only")
                e2e_rows.append((name, res.fps["total"], res.cpu_ms_per_frame["total"]))
            ann = load_annotations(pose_file, validate=False)["annotations"][0]
            res = demo(None, backend=ReplayBackend(ann), timeline=Path(tmp) / "t.json", draw=False,
                       pose_ahead=False)
            print(_row(f"replayed poses, {persons} p.", res.frames, res.seconds) + "   [no drawing]")
            cpu_rows.append((f"replayed poses, {persons} p.", res.cpu_ms_per_frame))
    print("\nCPU ms per frame (all threads; independent of machine load):")
    for name, ms in cpu_rows:
        print(f"{name:<26} " + "  ".join(f"{k} {v:.1f}" for k, v in ms.items()))
    print("\nEnd to end as `pyskl demo` runs it (wall frames/s incl. decode; CPU ms/frame, all threads):")
    for name, fps, ms in e2e_rows:
        print(f"{name:<40} {fps:>6.1f} frames/s   CPU {ms:.1f} ms/frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
