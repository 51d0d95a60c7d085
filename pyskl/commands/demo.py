"""``pyskl demo VIDEO OUT.mp4 [--model posec3d|stgcnpp | --config C --checkpoint W]``: actions per person.

Without ``--config`` it runs PYSKL's NTU-120 demo model (PoseC3D joint, or ST-GCN++ with ``--model
stgcnpp``), its checkpoint downloaded once into the cache, with the NTU-120 class names.
"""

from __future__ import annotations

import argparse
import sys

from ..apis.demo import DEMO_MODELS
from ._common import UsageError, require_positive

HELP = "video -> per-person actions: annotated H.264 mp4 + JSON/CSV timeline (any GCN/PoseC3D config)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="input video")
    parser.add_argument("out", help="output mp4 (skeletons, track ids, top-k labels)")
    parser.add_argument(
        "--model",
        choices=sorted(DEMO_MODELS),
        default="posec3d",
        help="PYSKL's NTU-120 demo model when no --config is given (default posec3d: "
        f"{DEMO_MODELS['posec3d']}; stgcnpp: {DEMO_MODELS['stgcnpp']})",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="PYSKL-style config (or zoo name) of a 2D skeleton model (GCN or PoseC3D)",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="weights: a file, an http(s) URL or a zoo name (default: the zoo checkpoint of the config); "
        "'none': random weights, only to test the plumbing",
    )
    parser.add_argument(
        "--label-map",
        default=None,
        help="class names: a shipped label map name or a text file (default: from the config's dataset)",
    )
    parser.add_argument("--window", type=int, default=48, help="frames per recognition window (default 48)")
    parser.add_argument(
        "--stride", type=int, default=16, help="frames between recognitions of a person (default 16)"
    )
    parser.add_argument(
        "--num-clips",
        type=int,
        default=1,
        help="clips per window (overrides the test pipeline; 0 keeps the config's)",
    )
    parser.add_argument(
        "--max-persons",
        type=int,
        default=2,
        help="persons detected and tracked (default 2; BlazePose's detector finds every person)",
    )
    parser.add_argument("--topk", type=int, default=3, help="labels drawn per person (default 3)")
    parser.add_argument(
        "--timeline", default=None, help="timeline JSON (default OUT with .json; CSV beside it)"
    )
    parser.add_argument(
        "--save-pose", default=None, help="also write the tracked skeletons as an annotation pickle"
    )
    parser.add_argument("--backend", default="mediapipe", choices=["mediapipe", "onnx"], help="pose backend")
    parser.add_argument("--backend-model", default=None, help="model file for the onnx backend")
    parser.add_argument("--device", default="cpu", help="torch device for the recognizer (default cpu)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for the recognizer (default 1: pose and decoding run on the other cores)",
    )
    parser.add_argument(
        "--pose-every",
        type=int,
        default=1,
        help="run pose on every N-th frame and interpolate the others (faster, less precise; default 1)",
    )
    parser.add_argument(
        "--scene",
        action="store_true",
        help="one label per window for everyone in the frame together, as PYSKL's demo (NTU models need both "
        "people of a mutual action such as hugging in one sample); default: one label per person",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _model_and_checkpoint(args: argparse.Namespace) -> tuple[str, str]:
    """The config and checkpoint specs the demo runs: the --model zoo entry, or --config with its weights."""
    from ..zoo import entry_for_config, is_zoo_name

    if args.config is None:
        name = DEMO_MODELS[args.model]
        return name, args.checkpoint or name
    if args.checkpoint is not None:
        return args.config, args.checkpoint
    entry = None if is_zoo_name(args.config) else entry_for_config(args.config)
    name = args.config if is_zoo_name(args.config) else (entry.name if entry is not None else None)
    if name is None:
        raise UsageError(
            f"{args.config} is not a zoo config: pass its weights with --checkpoint FILE|URL|ZOO_NAME "
            f"(or --checkpoint none for random weights)"
        )
    return args.config, name


def run(args: argparse.Namespace) -> int:
    require_positive(args, "window", "stride", "max_persons", "topk", "threads", "pose_every", "max_frames")
    if args.num_clips < 0:
        raise UsageError(f"--num-clips must be 0 (the config's) or more, got {args.num_clips}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from ..apis.demo import run_demo
    from ..apis.streaming import SCENE

    config, checkpoint = _model_and_checkpoint(args)
    random_weights = checkpoint.lower() == "none"
    if random_weights:
        print("warning: --checkpoint none: the model has random weights, its labels are meaningless", file=sys.stderr)
    kwargs = {"model": args.backend_model} if args.backend == "onnx" else {}
    result = run_demo(
        args.video,
        args.out,
        config,
        checkpoint,
        label_map=args.label_map,
        window=args.window,
        stride=args.stride,
        num_clips=args.num_clips or None,
        max_persons=args.max_persons,
        topk=args.topk,
        timeline=args.timeline,
        device=args.device,
        backend=args.backend,
        backend_kwargs=kwargs,
        max_frames=args.max_frames,
        progress=not args.no_progress,
        save_pose=args.save_pose,
        torch_threads=args.threads,
        pose_every=args.pose_every,
        scene=args.scene,
    )
    fps = result.fps
    weights = "RANDOM WEIGHTS (--checkpoint none)" if result.random_weights else f"weights {checkpoint}"
    print(
        f"demo: {result.frames} frames, {result.tracks} tracks, {len(result.segments)} segments -> "
        f"{result.video} ({result.codec}), timeline {result.timeline}; model {config}, {weights}"
    )
    print(
        f"end to end: {result.frames} frames in {result.seconds['total']:.1f} s = {fps['total']:.1f} fps "
        "(decoding, pose, tracking, recognition, drawing and encoding)"
    )
    print("fps per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in fps.items() if k != "total"))
    for seg in result.segments:
        span = f"frames {seg['start']}-{seg['end']}"
        who = "scene" if seg["track"] == SCENE else f"track {seg['track']}"
        print(f"  {who}: {span} {seg['label_name']} ({seg['score']:.2f})")
    return 0
