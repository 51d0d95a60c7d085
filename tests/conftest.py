"""Shared test fixtures: where ../shared is, and skipping cleanly when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PYSKL_SHARED", ROOT.parent / "shared"))
ORACLE = SHARED / "oracle"


def require_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip the test with the reason when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (the shared oracle pack lives beside the project)")
    return path


@pytest.fixture
def shared_dir() -> Path:
    return require_shared()


@pytest.fixture(autouse=True)
def _restore_global_rng():
    """PYSKL's ops draw from the global RNGs; keep tests independent of each other."""
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    yield
    np.random.set_state(np_state)
    random.setstate(py_state)
