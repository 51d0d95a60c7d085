"""PoseC3D pipeline ops against PYSKL's op-level goldens (oracle families ``heatmap`` and ``rgb_mm``).

Heatmaps within atol 1e-5, other floats 1e-6 (rtol 1e-5), ints/shapes/dtypes exact, tuple element
types exact (e.g. int64 ``img_shape`` after RandomResizedCrop), and the global RNGs left where PYSKL
leaves them.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from conftest import require_shared
from oracle import blobs, case_files, load_case
from pipeline_cases import assert_rng_after, assert_value_matches, decode_input, op_config, run_seeded

import pyskl.datasets.pipelines  # noqa: F401  (registers)
from pyskl.registry import TRANSFORMS

HEATMAP_KEYS = ("imgs", "heatmap_imgs")


def _atol(key: str) -> float:
    return 1e-5 if key in HEATMAP_KEYS else 1e-6


def assert_elem_types(actual, desc: dict, where: str) -> None:
    """Python vs numpy element types of recorded tuples (``img_shape`` is int64 after a random crop)."""
    for i, name in enumerate(desc.get("elem_types") or []):
        if name in ("int", "float", "str", "bool"):
            assert type(actual[i]).__name__ == name, f"{where}[{i}] is {type(actual[i]).__name__}, not {name}"
        else:
            assert np.dtype(type(actual[i])) == np.dtype(name), \
                f"{where}[{i}] is {type(actual[i])}, not {name}"


def _cases(family: str) -> list:
    files = case_files(family)
    return files or [pytest.param(None, marks=pytest.mark.skip(reason=f"oracle family {family} not present"))]


CASES = _cases("heatmap") + _cases("rgb_mm")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem if p is not None else "absent")
def test_op_golden(path):
    require_shared("oracle", "pipelines", "public")
    case = load_case(path)
    npz = blobs(str(path.parent))
    op = TRANSFORMS.build(op_config(case))
    results = decode_input(case["input"], npz)
    outcome = run_seeded(lambda: op(results), case["rng"]["seed"])
    if case.get("error"):
        assert outcome.error is not None, "PYSKL raises here"
        return
    if outcome.error is not None:
        raise outcome.error
    out = outcome.value
    expected_keys = set(case["output_keys"])
    assert set(out) == expected_keys, (
        f"keys differ: extra {set(out) - expected_keys}, missing {expected_keys - set(out)}")
    for key, desc in case["output"].items():
        assert_value_matches(out[key], desc, npz, key, atol=_atol(key))
        if desc["kind"] == "py" and desc["type"] == "tuple":
            assert_elem_types(out[key], desc, key)
    assert_rng_after(outcome.rng_after, case["rng_after"])


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem if p is not None else "absent")
def test_op_pickle_and_repr(path):
    require_shared("oracle", "pipelines", "public")
    case = load_case(path)
    op = TRANSFORMS.build(op_config(case))
    clone = pickle.loads(pickle.dumps(op))
    assert repr(clone) == repr(op)
    assert repr(op).startswith(case["op_cfg"]["type"] + "(")
