"""Shared test fixtures: where the golden data is, and skipping cleanly when a file is in neither pack.

Golden data comes from two packs with the same layout (``oracle/...``, ``samples/...``, ``checkpoints/...``):
the optional full pack beside the project (``../shared``, or the folder ``PYSKL_SHARED`` names; set
``PYSKL_SHARED=none`` to run as a fresh clone without it) and the subset committed under ``tests/goldens``
(rebuilt by ``tests/goldens/refresh.py``). The full pack wins when present.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDENS = ROOT / "tests" / "goldens"


def _shared_pack() -> Path | None:
    setting = os.environ.get("PYSKL_SHARED")
    if setting is not None and setting.strip().lower() in ("", "none"):
        return None
    path = Path(setting) if setting else ROOT.parent / "shared"
    return path if path.is_dir() else None


SHARED = _shared_pack()
PACKS = [p for p in (SHARED, GOLDENS) if p is not None]
ORACLE = (SHARED / "oracle") if SHARED is not None and (SHARED / "oracle").is_dir() else GOLDENS / "oracle"


def require_shared(*parts: str) -> Path:
    """Path of golden data in the full pack or else in tests/goldens; skip the test, saying how to get it,
    when neither holds it."""
    for pack in PACKS:
        path = pack.joinpath(*parts)
        if path.exists():
            return path
    where = "/".join(parts)
    pytest.skip(f"{where} is only in the full golden pack: put it at ../shared or point PYSKL_SHARED at it "
                f"(tests/goldens holds a subset)")


@pytest.fixture(autouse=True)
def _restore_global_rng():
    """PYSKL's ops draw from the global RNGs; keep tests independent of each other."""
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    yield
    np.random.set_state(np_state)
    random.setstate(py_state)
