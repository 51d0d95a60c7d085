"""Rebuild tests/goldens/ (the in-repository subset of the PYSKL oracle pack) from ../shared.

The full pack (../shared/oracle, ~90 MB) stays optional; this subset (a few MB) keeps every golden test
family running in a fresh clone: for each pipeline op the smallest case per (op, mode), a few whole
pipelines per model family, every model listing and graph, and the weights/IO of the smallest CNN and
GCN models. Pipeline blobs are trimmed to the arrays the chosen cases use. Run from the repository root:
``python tests/goldens/refresh.py [SHARED_DIR]``.
"""
from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OP_FAMILIES = ("sampling", "pose_related", "heatmap", "rgb_mm")
PIPELINE_CASES = (  # whole train/val/test pipelines: one 3D-skeleton GCN, one 2D GCN, PoseC3D joint + limb
    "posec3d__slowonly_r50_346_k400__joint__{}",
    "stgcn++__stgcn++_ntu120_xsub_hrnet__bm__{}",
    "dgstgcn__ntu60_xsub_3dkp__j__test",
    "posec3d__slowonly_r50_ntu60_xsub__joint__train",
    "posec3d__slowonly_r50_ntu60_xsub__limb__test",
)
MODEL_NAMES = ("x3d_shallow_ntu60_xsub_joint", "stgcnpp_gesture")
COPIED = (
    "oracle/README.md",
    "oracle/models/common/listings",
    "oracle/models/common/graphs.npz",
    "oracle/models/common/graph_edges.json",
    "oracle/models/common/models.json",
    "oracle/pipelines/README.md",
    "oracle/pipelines/common/config_inventory.json",
    "oracle/pipelines/common/conventions.json",
    "oracle/pipelines/common/rng_facts.json",
    "oracle/pipelines/public/index.json",
    "oracle/pipelines/public/metrics.json",
    "oracle/pipelines/public/metrics.npz",
    "oracle/pipelines/public/samples",
    "oracle/protogcn/README.md",
    "oracle/protogcn/common/listings",
)


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _blob_sizes(folder: Path) -> dict[str, int]:
    with zipfile.ZipFile(folder / "blobs.npz") as z:
        return {info.filename[: -len(".npy")]: info.compress_size for info in z.infolist()}


def _blob_keys(case: Path, sizes: dict[str, int]) -> set[str]:
    return {s for s in _strings(json.loads(case.read_text())) if s in sizes}


def _chosen_op_cases(folder: Path) -> list[Path]:
    """The smallest case (by blob bytes) of each (op, mode), plus every case whose PYSKL call raises."""
    sizes = _blob_sizes(folder)
    best: dict[tuple, tuple[int, Path]] = {}
    errors = []
    for path in sorted(folder.glob("*.json")):
        case = json.loads(path.read_text())
        if case.get("error"):
            errors.append(path)
            continue
        cost = sum(sizes[k] for k in _blob_keys(path, sizes))
        group = (case["op"], case.get("mode"))
        if group not in best or cost < best[group][0]:
            best[group] = (cost, path)
    return sorted({p for _, p in best.values()} | set(errors))


def _write_subset(src: Path, dst: Path, cases: list[Path]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    sizes = _blob_sizes(src)
    keys = set().union(*(_blob_keys(p, sizes) for p in cases))
    for path in cases:
        shutil.copyfile(path, dst / path.name)
    with np.load(src / "blobs.npz") as npz:
        np.savez_compressed(dst / "blobs.npz", **{k: npz[k] for k in sorted(keys)})


def main(shared: Path) -> None:
    oracle = shared / "oracle"
    if HERE.joinpath("oracle").exists():
        shutil.rmtree(HERE / "oracle")
    for rel in COPIED:
        src, dst = shared / rel, HERE / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=shutil.copyfile)
        else:
            shutil.copyfile(src, dst)
    public = oracle / "pipelines" / "public"
    for family in OP_FAMILIES:
        chosen = _chosen_op_cases(public / family)
        _write_subset(public / family, HERE / "oracle/pipelines/public" / family, chosen)
    splits = {True: ("train", "val", "test"), False: ("",)}
    names = [n.format(split) for n in PIPELINE_CASES for split in splits["{}" in n]]
    _write_subset(public / "pipelines", HERE / "oracle/pipelines/public/pipelines",
                  [public / "pipelines" / f"{n}.json" for n in names])
    models = HERE / "oracle/models/public"
    models.mkdir(parents=True)
    for name in MODEL_NAMES:
        for suffix in (".io.json", ".io.npz", ".state_dict.pt"):
            shutil.copyfile(oracle / "models/public" / f"{name}{suffix}", models / f"{name}{suffix}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared")
