"""Whole PoseC3D train/val/test pipelines (through Compose) against PYSKL's pipeline goldens.

Every sample of the posec3d cases in ../shared/oracle/pipelines/public/pipelines (slowonly joint /
limb on NTU-60 HRNet 2D, and the K400 one that starts with DecompressPose): the heatmap tensor
(fingerprinted when large) within atol 1e-5, everything else exact or within 1e-6, and the global
RNGs left exactly where PYSKL leaves them. The traced sample checks every intermediate op.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from conftest import ORACLE, require_shared
from oracle import blobs, load_case
from pipeline_cases import (assert_rng_after, assert_value_matches, case_paths,
                            pipeline_config, pipeline_input, run_seeded)
from pyskl.datasets.pipelines import Compose
from pyskl.registry import TRANSFORMS

try:  # DecompressPose (K400) belongs to the data tools; register it when the module is there
    import pyskl.datasets.pipelines.decompress  # noqa: F401
except ImportError:
    pass

HEATMAP_ATOL = 1e-5
PIPELINES = ORACLE / "pipelines" / "public" / "pipelines"
CASES = [p for p in case_paths(PIPELINES) if p.stem.startswith("posec3d__")]
SAMPLES = [(p, i) for p in CASES for i in range(len(json.loads(p.read_text())["samples"]))]


def _assert_ops_registered(case: dict) -> None:
    missing = sorted({op["type"] for op in case["pipeline"]} - set(TRANSFORMS))
    assert not missing, f"ops not registered: {', '.join(missing)}"


def _atol(key: str) -> float:
    return HEATMAP_ATOL if key.split(".")[0] in ("imgs", "heatmap_imgs") else 1e-6


def test_posec3d_cases_found():
    require_shared("oracle", "pipelines", "public", "pipelines")
    stems = {p.stem for p in CASES}
    assert {"posec3d__slowonly_r50_ntu60_xsub__joint__train",
            "posec3d__slowonly_r50_ntu60_xsub__limb__test"} <= stems


@pytest.mark.parametrize("path,index", SAMPLES, ids=lambda x: x.stem if hasattr(x, "stem") else str(x))
def test_posec3d_pipeline_sample(path, index):
    case = load_case(path)
    _assert_ops_registered(case)
    npz = blobs(str(path.parent))
    sample = case["samples"][index]
    pipeline = Compose(pipeline_config(case))
    results = pipeline_input(case, sample, npz)
    outcome = run_seeded(lambda: pipeline(results), sample["seed"])
    if outcome.error is not None:
        raise outcome.error
    out, expected = outcome.value, sample["output"]
    assert set(out) == set(expected), f"keys {sorted(out)} != {sorted(expected)}"
    for key, desc in expected.items():
        assert_value_matches(out[key], desc, npz, key, atol=_atol(key))
    assert_rng_after(outcome.rng_after, sample["rng_after"])


TRACED = [p for p in CASES if any(s.get("trace") for s in json.loads(p.read_text())["samples"])]


@pytest.mark.parametrize("path", TRACED, ids=lambda p: p.stem)
def test_posec3d_pipeline_trace(path):
    """Each op's keys and changed values in the traced sample (no compensating errors)."""
    case = load_case(path)
    _assert_ops_registered(case)
    npz = blobs(str(path.parent))
    sample = next(s for s in case["samples"] if s.get("trace"))
    pipeline = Compose(pipeline_config(case))
    results = pipeline_input(case, sample, npz)
    np.random.seed(sample["seed"])
    random.seed(sample["seed"])
    for op, step in zip(pipeline.transforms, sample["trace"], strict=True):
        results = op(results)
        assert set(results) == set(step["keys"]), \
            f"{step['op']}: keys {sorted(results)} != {sorted(step['keys'])}"
        for key, desc in step["changed"].items():
            where = f"step {step['step']} {step['op']}: {key}"
            assert_value_matches(results[key], desc, npz, where, atol=_atol(key))


def test_posec3d_full_output_dtype_and_layout():
    """The train output is what Recognizer3D expects: float32 [1, 17, 48, 56, 56] and an int64 label."""
    require_shared("oracle", "pipelines", "public", "pipelines")
    path = PIPELINES / "posec3d__slowonly_r50_ntu60_xsub__joint__train.json"
    case = load_case(path)
    npz = blobs(str(path.parent))
    sample = case["samples"][0]
    results = pipeline_input(case, sample, npz)
    out = Compose(pipeline_config(case))(results)
    assert tuple(out["imgs"].shape) == (1, 17, 48, 56, 56)
    assert str(out["imgs"].dtype) == "torch.float32"
    assert float(out["imgs"].max()) <= 1.0
