"""PoseC3D pipeline ops against PYSKL's op-level goldens (oracle families ``heatmap`` and ``rgb_mm``)."""
from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pytest

from conftest import require_shared
from oracle import blobs, case_files, decode, decode_results, fingerprint_matches, load_case

import pyskl.datasets.pipelines.cropping  # noqa: F401  (registers)
import pyskl.datasets.pipelines.heatmap  # noqa: F401
import pyskl.datasets.pipelines.multimodal  # noqa: F401
import pyskl.datasets.pipelines.shape  # noqa: F401
from pyskl.registry import TRANSFORMS

HEATMAP_KEYS = ("imgs", "heatmap_imgs")


def restore_tuples(obj, paths):
    """JSON lost the tuples of a config; put them back at the recorded paths (deepest first)."""
    for path in sorted(paths, key=len, reverse=True):
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = tuple(parent[path[-1]])
    return obj


def _to_numpy(value):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return np.stack(value)
    return value


def assert_value(actual, desc: dict, npz, where: str, key: str) -> None:
    """Compare one results value with its golden descriptor (dtype/shape exact, floats by tolerance)."""
    kind = desc["kind"]
    if kind in ("ndarray", "tensor", "list[ndarray]"):
        if kind == "tensor":
            assert hasattr(actual, "detach"), f"{where}: {key} should be a tensor, got {type(actual)}"
        elif kind == "list[ndarray]":
            assert isinstance(actual, list), f"{where}: {key} should be a list, got {type(actual)}"
        else:
            assert isinstance(actual, np.ndarray), f"{where}: {key} should be an ndarray, got {type(actual)}"
        arr = _to_numpy(actual)
        atol = 1e-5 if key in HEATMAP_KEYS else 1e-6
        if desc.get("npz") is None:
            fingerprint_matches(arr, desc, npz, atol=atol)
            return
        expected = npz[desc["npz"]]
        assert list(arr.shape) == list(desc["shape"]), f"{where}: {key} shape {arr.shape} != {desc['shape']}"
        assert str(arr.dtype) == desc["dtype"], f"{where}: {key} dtype {arr.dtype} != {desc['dtype']}"
        if np.issubdtype(arr.dtype, np.floating):
            np.testing.assert_allclose(arr, expected, atol=atol, rtol=1e-5, err_msg=f"{where}: {key}")
        else:
            np.testing.assert_array_equal(arr, expected, err_msg=f"{where}: {key}")
        return
    if kind == "dict":
        assert isinstance(actual, dict), f"{where}: {key} should be a dict"
        assert set(actual) == set(desc["items"]), f"{where}: {key} keys {set(actual)}"
        for sub, sub_desc in desc["items"].items():
            assert_value(actual[sub], sub_desc, npz, where, f"{key}.{sub}")
        return
    expected = decode(desc, npz)
    if kind == "py" and desc["type"] in ("tuple", "list"):
        assert type(actual).__name__ == desc["type"], f"{where}: {key} is {type(actual).__name__}"
        assert len(actual) == len(expected), f"{where}: {key} {actual} != {expected}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            if isinstance(e, float):
                assert a == pytest.approx(e, rel=1e-6, abs=1e-9), f"{where}: {key}[{i}] {a} != {e}"
            else:
                assert a == e, f"{where}: {key}[{i}] {a} != {e}"
        for i, name in enumerate(desc.get("elem_types") or []):
            if name in ("int", "float", "str", "bool"):
                assert type(actual[i]).__name__ == name, f"{where}: {key}[{i}] is {type(actual[i])}, not {name}"
            else:
                assert np.dtype(type(actual[i])) == np.dtype(name), f"{where}: {key}[{i}] is {type(actual[i])}"
        return
    if kind == "npscalar":
        assert np.dtype(type(actual)) == np.dtype(desc["dtype"]), f"{where}: {key} type {type(actual)}"
    if isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-6), f"{where}: {key} {actual} != {expected}"
    else:
        assert actual == expected, f"{where}: {key} {actual!r} != {expected!r}"
        if kind == "py":
            assert type(actual).__name__ == desc["type"], f"{where}: {key} is {type(actual).__name__}"


def assert_results(results: dict, output: dict, npz, where: str, output_keys=None) -> None:
    if output_keys is not None:
        assert set(results) == set(output_keys), (
            f"{where}: keys differ: extra {set(results) - set(output_keys)}, missing {set(output_keys) - set(results)}")
    for key, desc in output.items():
        assert key in results, f"{where}: missing output key {key!r}"
        assert_value(results[key], desc, npz, where, key)


def assert_rng_after(rng_after: dict, where: str) -> None:
    assert np.random.rand() == rng_after["np_rand"], f"{where}: np.random consumed differently from PYSKL"
    assert random.random() == rng_after["py_random"], f"{where}: python random consumed differently from PYSKL"


def build_op(case: dict):
    cfg = restore_tuples(copy.deepcopy(case["op_cfg"]), case.get("op_cfg_tuple_paths") or [])
    return TRANSFORMS.build(cfg)


def _cases(family: str) -> list:
    files = case_files(family)
    return files or [pytest.param(None, marks=pytest.mark.skip(reason=f"oracle family {family} not present"))]


@pytest.mark.parametrize("path", _cases("heatmap") + _cases("rgb_mm"),
                         ids=lambda p: p.stem if p is not None else "absent")
def test_op_golden(path):
    require_shared("oracle", "pipelines", "public")
    case = load_case(path)
    npz = blobs(str(path.parent))
    op = build_op(case)
    results = decode_results(case["input"], npz)
    # decode may alias one blob for several keys; ops modify arrays in place like PYSKL's
    results = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in results.items()}
    np.random.seed(case["rng"]["seed"])
    random.seed(case["rng"]["seed"])
    if case.get("error"):
        with pytest.raises(Exception):
            op(results)
        return
    out = op(results)
    rng_after = case["rng_after"]
    assert_rng_after(rng_after, path.stem)
    assert_results(out, case["output"], npz, path.stem, case["output_keys"])


@pytest.mark.parametrize("path", _cases("heatmap") + _cases("rgb_mm"),
                         ids=lambda p: p.stem if p is not None else "absent")
def test_op_pickle_and_repr(path):
    require_shared("oracle", "pipelines", "public")
    case = load_case(path)
    op = build_op(case)
    clone = pickle.loads(pickle.dumps(op))
    assert repr(clone) == repr(op)
    assert repr(op).startswith(case["op_cfg"]["type"] + "(")
