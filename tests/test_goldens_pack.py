"""tests/goldens, the committed subset of the PYSKL oracle pack: complete and equal to the full pack."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import GOLDENS, SHARED

SUBSET = sorted(p for p in (GOLDENS / "oracle").rglob("*") if p.is_file())


def test_subset_covers_every_golden_family():
    """Each family the golden tests read has cases in the committed subset, so a fresh clone runs them."""
    oracle = GOLDENS / "oracle"
    for family in ("sampling", "pose_related", "heatmap", "rgb_mm", "pipelines"):
        folder = oracle / "pipelines" / "public" / family
        assert (folder / "blobs.npz").is_file() and len(list(folder.glob("*.json"))) >= 3, family
    assert len(list((oracle / "models" / "common" / "listings").glob("*.json"))) >= 13
    assert len(list((oracle / "models" / "public").glob("*.state_dict.pt"))) >= 2
    assert sum(p.stat().st_size for p in SUBSET) < 12 * 2**20  # a few MB: the full pack stays optional


def test_subset_equals_full_pack():
    """Copied files are byte-identical; trimmed blobs.npz hold the full pack's arrays under the same keys."""
    if SHARED is None or not (SHARED / "oracle").is_dir():
        pytest.skip("the full golden pack is absent (../shared or PYSKL_SHARED): nothing to compare with")
    for path in SUBSET:
        rel = path.relative_to(GOLDENS)
        full = SHARED / rel
        assert full.is_file(), f"{rel} is not in the full pack"
        if path.name == "blobs.npz":
            with np.load(path) as ours, np.load(full) as theirs:
                for key in ours.files:
                    np.testing.assert_array_equal(ours[key], theirs[key], err_msg=f"{rel}:{key}")
        else:
            assert path.read_bytes() == full.read_bytes(), f"{rel} differs from the full pack"
