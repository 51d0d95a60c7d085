"""Annotation loading: PYSKL pickle vs packed memory-mapped directory, side by side.

Generates an NTU-like 3D set (float16 ``[2, T, 25, 3]``, T uniform in [100, 300]), writes it both
as a pickle and as a packed directory, then for each format measures, in fresh processes:

* open time: ``pickle.load`` (what PYSKL's ``mmcv.load`` does) vs ``open_packed``;
* per-worker memory: the parent opens the set, forks N workers (as a DataLoader does) and each
  touches every sample's keypoints; each worker reports its RSS and its private (unshared)
  memory, read from ``/proc/self/smaps_rollup``.

Run: ``python benchmarks/bench_dataset.py [--num 10000] [--workers 4] [--sizes 2500 10000]``.
With several ``--sizes`` it shows how per-worker memory grows with the set.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _packed_module():
    """``pyskl/datasets/packed.py`` loaded without ``pyskl.datasets`` (it needs only numpy and ``pyskl.utils``),
    so that the measured processes hold no torch or other package imports that would blur the memory figures."""
    import importlib.util

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # this checkout's pyskl.utils, which the packed writer imports
    spec = importlib.util.spec_from_file_location("pyskl.datasets._packed_alone",
                                                  ROOT / "pyskl" / "datasets" / "packed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_set(num: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    anns = []
    for i in range(num):
        t = int(rng.integers(100, 301))
        anns.append(
            dict(
                frame_dir=f"S{i % 32 + 1:03d}C00{i % 3 + 1}P{i % 40 + 1:03d}R001A{i % 60 + 1:03d}_{i}",
                label=i % 60,
                total_frames=t,
                keypoint=rng.standard_normal((2, t, 25, 3), dtype=np.float32).astype(np.float16),
            )
        )
    names = [a["frame_dir"] for a in anns]
    return {
        "split": {"xsub_train": names[: num * 2 // 3], "xsub_val": names[num * 2 // 3 :]},
        "annotations": anns,
    }


def memory_kib() -> dict[str, int]:
    """Rss, Anonymous and Private_Dirty memory of this process, in KiB.

    Private_Dirty is what a worker alone holds in RAM (copied-on-write heap pages, its own
    allocations); clean file-backed pages are the page cache and can always be shared or dropped.
    """
    fields = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    return {
        "rss": fields["Rss"],
        "anon": fields.get("Anonymous", 0),
        "private": fields.get("Private_Dirty", 0),
    }


def _open(kind: str, path: Path):
    if kind == "pickle":
        with open(path, "rb") as f:
            return pickle.load(f)["annotations"]
    return _packed_module().open_packed(path)[1]


def _touch_all(annotations) -> float:
    # What PoseDataset.__getitem__ does per sample before the pipeline runs.
    total = 0.0
    for i in range(len(annotations)):
        total += float(copy.deepcopy(annotations[i])["keypoint"][0, 0, 0, 0])
    return total


def measure_here(kind: str, path: Path, workers: int) -> dict:
    """Open the set in this (fresh) process, then fork workers that touch every sample."""
    gc.collect()
    start = time.perf_counter()
    annotations = _open(kind, path)
    open_s = time.perf_counter() - start
    parent = memory_kib()
    children = []
    for _ in range(workers):
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(r)
            _touch_all(annotations)
            os.write(w, json.dumps(memory_kib()).encode())
            os._exit(0)
        os.close(w)
        children.append((child, r))
    stats = []
    for child, r in children:
        raw = b""
        while chunk := os.read(r, 4096):
            raw += chunk
        os.waitpid(child, 0)
        stats.append(json.loads(raw))
    worst = {k: max((s[k] for s in stats), default=0) / 1024 for k in ("rss", "anon", "private")}
    return dict(
        open_s=open_s, parent_mib=parent["rss"] / 1024, **{f"worker_{k}_mib": v for k, v in worst.items()}
    )


def measure(kind: str, path: Path, workers: int) -> dict:
    """``measure_here`` in a fresh interpreter, so nothing of the generator's memory is inherited."""
    cmd = [sys.executable, __file__, "--measure", kind, str(path), str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"measuring {kind} {path} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=10000, help="samples (ignored when --sizes is given)")
    parser.add_argument("--sizes", type=int, nargs="*", help="several set sizes, to show growth")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="open-time repeats (median)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the files (temp dir)")
    parser.add_argument("--measure", nargs=3, metavar=("KIND", "PATH", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        kind, path, workers = args.measure
        print(json.dumps(measure_here(kind, Path(path), int(workers))))
        return 0
    sizes = args.sizes or [args.num]
    root = Path(tempfile.mkdtemp(prefix="pyskl_bench_", dir=args.workdir))
    print(
        f"{'samples':>8} {'format':>7} {'file MiB':>9} {'open s':>8} {'parent RSS':>11} "
        f"{'worker RSS':>11} {'worker anon':>12} {'worker private':>15}   (MiB)"
    )
    try:
        for num in sizes:
            data = make_set(num)
            pkl = root / f"set_{num}.pkl"
            with open(pkl, "wb") as f:
                pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
            packed = _packed_module().write_packed(data, root / f"set_{num}_packed")
            del data
            gc.collect()
            rows = {}
            for kind, path in (("pickle", pkl), ("packed", packed)):
                runs = [measure(kind, path, args.workers if r == 0 else 0) for r in range(args.repeats)]
                row = runs[0]
                row["open_s"] = float(np.median([r["open_s"] for r in runs]))
                size = (
                    path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())
                )
                rows[kind] = row
                print(
                    f"{num:>8} {kind:>7} {size / 2**20:>9.0f} {row['open_s']:>8.3f} "
                    f"{row['parent_mib']:>11.0f} "
                    f"{row['worker_rss_mib']:>11.0f} {row['worker_anon_mib']:>12.0f} "
                    f"{row['worker_private_mib']:>15.0f}"
                )
            print(
                f"{num:>8} open speed-up {rows['pickle']['open_s'] / rows['packed']['open_s']:.0f}x, "
                f"worker private memory {rows['pickle']['worker_private_mib']:.0f} -> "
                f"{rows['packed']['worker_private_mib']:.0f} MiB, worker anonymous memory "
                f"{rows['pickle']['worker_anon_mib']:.0f} -> {rows['packed']['worker_anon_mib']:.0f} MiB "
                f"({args.workers} workers)"
            )
            shutil.rmtree(packed)
            pkl.unlink()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        "worker RSS counts every resident page a worker maps. For the packed set that includes the "
        "file-backed pages it read, which are the page cache shared by all workers; 'anon' is "
        "process memory (inherited copy-on-write heap for the pickle), 'private' (Private_Dirty) what "
        "each worker holds alone."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
