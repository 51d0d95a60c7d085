"""Reader for the PYSKL oracle pack's golden cases (format: ../shared/oracle/pipelines/README.md)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from conftest import ORACLE


@lru_cache(maxsize=16)
def blobs(folder: str) -> Any:
    return np.load(Path(folder) / "blobs.npz")


def load_case(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def decode(desc: dict, npz: Any) -> Any:
    """Turn one value descriptor back into the Python value it describes.

    Fingerprinted (too large) arrays decode to ``None``; compare them with ``fingerprint_matches``.
    """
    kind = desc["kind"]
    if kind in ("ndarray", "tensor", "list[ndarray]"):
        if desc.get("npz") is None:
            return None
        arr = npz[desc["npz"]]
        return list(arr) if kind == "list[ndarray]" else arr
    if kind == "npscalar":
        return np.dtype(desc["dtype"]).type(desc["value"])
    if kind == "py":
        values = [decode(x, npz) for x in desc["items"]] if "items" in desc else desc["value"]
        return tuple(values) if desc["type"] == "tuple" else values
    if kind == "dict":
        return {k: decode(v, npz) for k, v in desc["items"].items()}
    if kind == "DataContainer":
        return decode(desc["data"], npz)
    return desc.get("value")


def decode_results(descs: dict, npz: Any) -> dict:
    return {k: decode(v, npz) for k, v in descs.items()}


def fingerprint_matches(actual: np.ndarray, desc: dict, npz: Any, atol: float) -> None:
    """Assert a big array agrees with its recorded fingerprint (reductions and first block)."""
    fp = desc["fingerprint"]
    assert list(actual.shape) == desc["shape"], (actual.shape, desc["shape"])
    assert str(actual.dtype) == desc["dtype"], (actual.dtype, desc["dtype"])
    a64 = actual.astype(np.float64)
    np.testing.assert_allclose(a64.sum(axis=(-2, -1)), npz[fp["sum_hw"]], atol=atol * actual.shape[-1] * actual.shape[-2])
    np.testing.assert_allclose(actual.max(axis=(-2, -1)), npz[fp["max_hw"]], atol=atol)
    np.testing.assert_allclose(actual[(0,) * (actual.ndim - 3)], npz[fp["slice0"]], atol=atol)


def case_files(family: str) -> list[Path]:
    folder = ORACLE / "pipelines" / "public" / family
    return sorted(folder.glob("*.json")) if folder.is_dir() else []
