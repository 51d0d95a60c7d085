"""End-to-end frames/s of ``pyskl extract`` (decode + BlazePose + tracking), with the tracking report.

For each video (default: ../shared/samples/ntu_sample.avi, 1920 x 1080, and the same scaled to 960 x 540,
written to a temporary folder), prints the wall-clock frames/s, the CPU milliseconds per frame (all threads
of the process: does not depend on what else runs on the machine) and the frames/s that CPU time allows on
``--cores`` idle cores (``cores * 1000 / cpu_ms``: an upper bound, reached when decoding and the per-person
landmark passes overlap perfectly), then the people-per-frame counts, track ids and suspected id switches.

    taskset -c 0,1 python benchmarks/bench_extract.py [VIDEO ...] [--max-persons 2] [--cores 2] [--repeat 2]

Goal (issue 15): on 2 cores, two people at 1080p extracted at least at the source frame rate (30 fps).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "samples" / "ntu_sample.avi"


def _scaled_copy(video: Path, folder: Path, width: int, height: int) -> Path:
    import cv2

    from pyskl.pose.video_reader import iter_frames

    out = folder / f"{video.stem}_{height}p.avi"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 30, (width, height))
    for frame in iter_frames(video):
        writer.write(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
    writer.release()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--max-persons", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2, help="cores the CPU-time bound is computed for")
    parser.add_argument("--repeat", type=int, default=2, help="runs per video (interleaved)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from pyskl.pose.blazepose import BlazePose
    from pyskl.pose.extract import extract_video

    with tempfile.TemporaryDirectory() as tmp:
        videos = args.videos
        if not videos:
            if not SAMPLE.is_file():
                print(f"skipped: {SAMPLE} not found")
                return 0
            videos = [SAMPLE, _scaled_copy(SAMPLE, Path(tmp), 960, 540)]
        backend = BlazePose(max_persons=args.max_persons)
        header = f"{'video':<28} {'frames':>6} {'wall fps':>9} {'CPU ms/frame':>13} {'CPU-bound fps':>14}"
        print(header + "   tracking")
        for _ in range(args.repeat):
            for video in videos:
                figures: dict = {}
                extract_video(video, backend, max_persons=args.max_persons, report=figures)
                n = figures["frames"]
                cpu_ms = figures["cpu_seconds"] * 1000 / n
                print(
                    f"{video.name:<28} {n:>6} {n / figures['seconds']:>9.1f} {cpu_ms:>13.1f} "
                    f"{args.cores * 1000 / cpu_ms:>14.1f}   people/frame {figures['people_per_frame']}, "
                    f"{figures['track_ids']} track ids, {figures['id_switches']} suspected switches"
                )
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
