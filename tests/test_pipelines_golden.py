"""Golden parity of the GCN pipeline ops with PYSKL (../shared/oracle/pipelines/public).

Every op-level case of our ops in sampling/ and pose_related/, and every sample of the GCN configs'
whole train/val/test pipelines, replayed under the oracle's RNG protocol: outputs within the
README's tolerances (keypoint-like atol 1e-6, rtol 1e-5; ints, shapes, dtypes exact) and the same
global np.random / random draws afterwards (``rng_after``).
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import ORACLE, require_shared
from oracle import blobs, load_case
from pipeline_cases import (
    assert_outputs_match,
    assert_rng_after,
    assert_value_matches,
    case_paths,
    decode_input,
    op_config,
    pipeline_config,
    pipeline_input,
    run_seeded,
)

from pyskl.datasets.pipelines import Compose, PipelineError
from pyskl.registry import TRANSFORMS

GCN_OPS = {
    "UniformSampleFrames",
    "UniformSample",
    "UniformSampleDecode",
    "PreNormalize3D",
    "PreNormalize2D",
    "GenSkeFeat",
    "JointToBone",
    "ToMotion",
    "MergeSkeFeat",
    "Rename",
    "PoseDecode",
    "FormatGCNInput",
    "PadTo",
    "Collect",
    "ToTensor",
    "RandomRot",
    "RandomScale",
    "RandomGaussianNoise",
}
PUBLIC = ORACLE / "pipelines" / "public"
OP_CASES = [p for family in ("sampling", "pose_related") for p in case_paths(PUBLIC / family, GCN_OPS)]


def _is_gcn_pipeline(path) -> bool:
    case = json.loads(path.read_text())
    return all(op["type"] in GCN_OPS for op in case["pipeline"])


PIPELINE_CASES = [p for p in case_paths(PUBLIC / "pipelines") if _is_gcn_pipeline(p)]
PIPELINE_SAMPLES = [(p, i) for p in PIPELINE_CASES for i in range(len(json.loads(p.read_text())["samples"]))]


def test_oracle_cases_found():
    require_shared("oracle", "pipelines", "public")
    assert OP_CASES and PIPELINE_CASES, "no oracle cases found for the GCN ops"


@pytest.mark.parametrize("path", OP_CASES, ids=lambda p: p.stem)
def test_op_case(path):
    case = load_case(path)
    npz = blobs(str(path.parent))
    op = TRANSFORMS.build(op_config(case))
    results = decode_input(case["input"], npz)
    outcome = run_seeded(lambda: op(results), case["rng"]["seed"])
    if case.get("error"):
        # PYSKL fails here too; ours must fail with its own clear message naming the op.
        assert isinstance(outcome.error, PipelineError), f"expected a PipelineError, got {outcome.error!r}"
        assert case["op"] in str(outcome.error)
        return
    if outcome.error is not None:
        raise outcome.error
    assert_outputs_match(outcome.value, case["output"], npz)
    assert_rng_after(outcome.rng_after, case["rng_after"])


@pytest.mark.parametrize(
    "path,index", PIPELINE_SAMPLES, ids=lambda x: x.stem if hasattr(x, "stem") else str(x)
)
def test_pipeline_case(path, index):
    case = load_case(path)
    npz = blobs(str(path.parent))
    sample = case["samples"][index]
    pipeline = Compose(pipeline_config(case))
    results = pipeline_input(case, sample, npz)
    outcome = run_seeded(lambda: pipeline(results), sample["seed"])
    if outcome.error is not None:
        raise outcome.error
    assert_outputs_match(outcome.value, sample["output"], npz)
    assert_rng_after(outcome.rng_after, sample["rng_after"])


TRACED = [p for p in PIPELINE_CASES if any(s.get("trace") for s in json.loads(p.read_text())["samples"])]


@pytest.mark.parametrize("path", TRACED, ids=lambda p: p.stem)
def test_pipeline_trace(path):
    """Every op's intermediate keys and changed values in the traced sample (no compensating errors)."""
    case = load_case(path)
    npz = blobs(str(path.parent))
    sample = next(s for s in case["samples"] if s.get("trace"))
    pipeline = Compose(pipeline_config(case))
    results = pipeline_input(case, sample, npz)
    np.random.seed(sample["seed"])
    random.seed(sample["seed"])
    for op, step in zip(pipeline.transforms, sample["trace"], strict=True):
        results = op(results)
        assert set(results) == set(step["keys"]), (
            f"{step['op']}: keys {sorted(results)} != {sorted(step['keys'])}"
        )
        for key, desc in step["changed"].items():
            assert_value_matches(results[key], desc, npz, f"step {step['step']} {step['op']}: {key}")
