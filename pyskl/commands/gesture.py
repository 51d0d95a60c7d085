"""``pyskl gesture [--camera N | --video FILE] [--headless]``: hand gestures with PYSKL's ST-GCN++ model."""

from __future__ import annotations

import argparse

from ._common import require_positive

HELP = "real-time hand-gesture recognition (mediapipe Hands + PYSKL's hagrid ST-GCN++, 40 classes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=None, help="camera index (default 0 when no --video)")
    src.add_argument("--video", default=None, help="a video file instead of a camera")
    parser.add_argument(
        "--headless", action="store_true", help="no window: write --out video and the JSON timeline"
    )
    parser.add_argument(
        "--out",
        default=None,
        help="annotated mp4 (default with --headless: gesture_out.mp4, or VIDEO stem + _gesture.mp4)",
    )
    parser.add_argument(
        "--timeline", default=None, help="JSON timeline (default: --out with .json; CSV beside it)"
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="a file, an http(s) URL or a zoo name (default: $PYSKL_GESTURE_CHECKPOINT, else the zoo's "
        "stgcnpp_hagrid: PYSKL's hagrid.pth, downloaded once into the cache)",
    )
    parser.add_argument("--config", default=None, help="model config (default: the built-in hagrid config)")
    parser.add_argument(
        "--predict-every", type=int, default=2, help="run the model every N-th frame (default 2)"
    )
    parser.add_argument(
        "--hand-coords",
        choices=["frame", "crop"],
        default="frame",
        help="landmark coordinates fed to the model (see pyskl.apis.gesture)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for the recognizer (default: torch's choice)",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")


def run(args: argparse.Namespace) -> int:
    require_positive(args, "predict_every", "threads", "max_frames")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from pathlib import Path

    from ..apis.gesture import run_gesture

    source = args.video if args.video is not None else (args.camera if args.camera is not None else 0)
    out = args.out
    if out is None and args.headless:
        out = f"{Path(args.video).stem}_gesture.mp4" if args.video else "gesture_out.mp4"
    result = run_gesture(
        source,
        checkpoint=args.checkpoint,
        config=args.config,
        out_video=out,
        timeline=args.timeline,
        headless=args.headless,
        predict_every=args.predict_every,
        hand_coords=args.hand_coords,
        device=args.device,
        max_frames=args.max_frames,
        progress=args.headless,
    )
    print(
        f"gesture: {result.frames} frames; hand in {result.hand_frames} frames "
        f"({result.crop_frames} from wrist crops); {result.predictions} predictions"
    )
    print(
        f"  end to end: {result.frames} frames in {result.seconds:.1f} s = {result.fps:.1f} fps "
        "(decoding, hands, recognition, drawing and encoding)"
    )
    print("  seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in result.stages.items()))
    if result.video:
        print(f"  video: {result.video}")
    if result.timeline:
        print(f"  timeline: {result.timeline}")
    for seg in result.segments[:20]:
        print(f"  frames {seg['start']}-{seg['end']}: {seg['label_name']} ({seg['score']:.2f})")
    return 0
