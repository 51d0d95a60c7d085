"""Helpers to replay the oracle's pipeline cases (op-level and whole-pipeline) through our ops.

Usage (see tests/test_pipelines_golden.py):
    case = load_case(path); npz = blobs(str(path.parent))
    outcome = run_seeded(lambda: op(results), case["rng"]["seed"])
    assert_outputs_match(outcome.value, case["output"], npz)
    assert_rng_after(outcome.rng_after, case["rng_after"])
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from oracle import decode, fingerprint_matches

ATOL, RTOL = 1e-6, 1e-5  # keypoint-like floats (oracle README)


def restore_tuples(obj: Any, paths: list) -> Any:
    """Turn the lists at the recorded paths back into tuples (JSON has no tuples), deepest first."""
    for path in sorted(paths, key=len, reverse=True):
        if not path:
            obj = tuple(obj)
            continue
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = tuple(parent[path[-1]])
    return obj


def op_config(case: dict) -> dict:
    """The case's op dict with its tuples restored."""
    return restore_tuples(json.loads(json.dumps(case["op_cfg"])), case.get("op_cfg_tuple_paths") or [])


def pipeline_config(case: dict) -> list:
    """The whole-pipeline case's op list with its tuples restored."""
    return restore_tuples(json.loads(json.dumps(case["pipeline"])), case.get("pipeline_tuple_paths") or [])


def decode_input(descs: dict, npz: Any) -> dict:
    """Decoded input results, arrays copied so an op may write into them."""
    out = {}
    for key, desc in descs.items():
        value = decode(desc, npz)
        out[key] = value.copy() if isinstance(value, np.ndarray) else value
    return out


def pipeline_input(case: dict, sample: dict, npz: Any) -> dict:
    """A pipeline sample's input as PoseDataset hands it to the pipeline (injected keys added)."""
    results = decode_input(sample["input"], npz)
    results.update(modality="Pose", start_index=0, test_mode=bool(case["test_mode"]))
    return results


@dataclass
class Outcome:
    value: Any
    error: BaseException | None
    rng_after: dict


def run_seeded(fn: Callable[[], Any], seed: int) -> Outcome:
    """Run ``fn`` under the oracle's RNG protocol and record the draws that follow it."""
    np.random.seed(seed)
    random.seed(seed)
    value, error = None, None
    try:
        value = fn()
    except Exception as err:  # noqa: BLE001 - recorded for the caller to judge
        error = err
    return Outcome(value, error, {"np_rand": np.random.rand(), "py_random": random.random()})


def assert_rng_after(actual: dict, expected: dict) -> None:
    assert actual["np_rand"] == expected["np_rand"], f"np.random stream differs: {actual} vs {expected}"
    assert actual["py_random"] == expected["py_random"], (
        f"python random stream differs: {actual} vs {expected}"
    )


def _as_numpy(value: Any, kind: str, where: str) -> np.ndarray:
    if kind == "tensor":
        import torch

        assert isinstance(value, torch.Tensor), (
            f"{where}: expected a torch.Tensor, got {type(value).__name__}"
        )
        return value.numpy()
    if kind == "list[ndarray]":
        assert isinstance(value, list), f"{where}: expected a list of arrays, got {type(value).__name__}"
        return np.stack(value)
    assert isinstance(value, np.ndarray), f"{where}: expected an ndarray, got {type(value).__name__}"
    return value


def assert_value_matches(
    actual: Any, desc: dict, npz: Any, where: str, atol: float = ATOL, rtol: float = RTOL
) -> None:
    """Compare one value with its descriptor: dtype/shape/python type exact, floats within tolerance."""
    kind = desc["kind"]
    if kind in ("ndarray", "tensor", "list[ndarray]"):
        arr = _as_numpy(actual, kind, where)
        assert str(arr.dtype) == desc["dtype"], f"{where}: dtype {arr.dtype} != {desc['dtype']}"
        assert list(arr.shape) == desc["shape"], f"{where}: shape {arr.shape} != {desc['shape']}"
        if desc.get("npz") is None and "fingerprint" in desc:
            fingerprint_matches(arr, desc, npz, atol)
            return
        expected = npz[desc["npz"]]
        if arr.dtype.kind in "fc":
            np.testing.assert_allclose(arr, expected, atol=atol, rtol=rtol, equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(arr, expected, err_msg=where)
    elif kind == "npscalar":
        assert isinstance(actual, np.generic), (
            f"{where}: expected a numpy scalar, got {type(actual).__name__}"
        )
        assert str(actual.dtype) == desc["dtype"], f"{where}: dtype {actual.dtype} != {desc['dtype']}"
        np.testing.assert_allclose(actual, desc["value"], atol=atol, rtol=rtol, err_msg=where)
    elif kind == "py":
        assert type(actual).__name__ == desc["type"], (
            f"{where}: type {type(actual).__name__} != {desc['type']}"
        )
        if "items" in desc:
            assert len(actual) == len(desc["items"]), f"{where}: length {len(actual)} != {len(desc['items'])}"
            for i, (a, d) in enumerate(zip(actual, desc["items"])):
                assert_value_matches(a, d, npz, f"{where}[{i}]", atol, rtol)
        elif isinstance(desc["value"], float):
            assert abs(actual - desc["value"]) <= atol + rtol * abs(desc["value"]), (
                f"{where}: {actual} != {desc['value']}"
            )
        else:
            assert list(actual) == desc["value"] if isinstance(actual, tuple) else actual == desc["value"], (
                f"{where}: {actual!r} != {desc['value']!r}"
            )
    elif kind in ("dict", "DataContainer"):
        items = desc["items"] if kind == "dict" else desc["data"].get("items", {})
        assert isinstance(actual, dict), f"{where}: expected a dict, got {type(actual).__name__}"
        assert set(actual) == set(items), f"{where}: keys {sorted(actual)} != {sorted(items)}"
        for key, sub in items.items():
            assert_value_matches(actual[key], sub, npz, f"{where}.{key}", atol, rtol)
    else:
        raise AssertionError(f"{where}: unhandled descriptor kind {kind!r}")


def assert_outputs_match(
    actual: dict, expected: dict, npz: Any, atol: float = ATOL, rtol: float = RTOL
) -> None:
    """Compare a whole results dict with the recorded output descriptors (same keys, each value)."""
    assert isinstance(actual, dict), f"expected a results dict, got {type(actual).__name__}"
    assert set(actual) == set(expected), (
        f"keys differ: missing {sorted(set(expected) - set(actual))}, "
        f"extra {sorted(set(actual) - set(expected))}"
    )
    for key, desc in expected.items():
        assert_value_matches(actual[key], desc, npz, key, atol, rtol)


def case_paths(family_dir: Path, ops: set[str] | None = None) -> list[Path]:
    """Case files of one oracle family folder, optionally only those of the given op types."""
    if not family_dir.is_dir():
        return []
    paths = sorted(family_dir.glob("*.json"))
    if ops is None:
        return paths
    return [p for p in paths if json.loads(p.read_text()).get("op") in ops]
