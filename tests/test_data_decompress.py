"""DecompressPose against PYSKL's goldens, plus its edge cases."""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import require_shared
from oracle import blobs, case_files, decode_results, load_case

from pyskl.datasets.pipelines.decompress import DecompressPose, decompress_pose
from pyskl.registry import TRANSFORMS


CASES = [p for p in case_files("pose_related") if p.name.startswith("DecompressPose")]


def test_decompress_pose_goldens_found():
    require_shared("oracle", "pipelines", "public", "pose_related")
    assert CASES, "no DecompressPose golden cases in the oracle pack"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_decompress_pose_goldens(path):
    case = load_case(path)
    npz = blobs(str(path.parent))
    cfg = dict(case["op_cfg"])
    op = TRANSFORMS.build(cfg)
    results = decode_results(case["input"], npz)
    np.random.seed(case["rng"]["seed"])
    random.seed(case["rng"]["seed"])
    out = op(results)
    assert np.random.rand() == case["rng_after"]["np_rand"]
    assert random.random() == case["rng_after"]["py_random"]
    expected = decode_results(case["output"], npz)
    assert list(out) == case["output_keys"]
    for key, want in expected.items():
        got = out[key]
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and got.shape == want.shape, key
            np.testing.assert_array_equal(got, want, err_msg=key)
        else:
            assert type(got) is type(want) and got == want, (key, got, want)


def test_rows_fill_person_slots_in_order():
    kp = np.arange(4 * 2 * 3, dtype=np.float16).reshape(4, 2, 3)
    frame_inds = np.array([5, 2, 5, 5])
    new_kp, score, total, num_person = decompress_pose(kp, frame_inds, 10, squeeze=True)
    assert (total, num_person) == (2, 3)
    np.testing.assert_array_equal(new_kp[0, 1], kp[0, :, :2])
    np.testing.assert_array_equal(new_kp[1, 1], kp[2, :, :2])
    np.testing.assert_array_equal(new_kp[2, 1], kp[3, :, :2])
    np.testing.assert_array_equal(score[0, 0], kp[1, :, 2])
    assert not new_kp[1:, 0].any()


def test_no_squeeze_keeps_frame_positions_and_rejects_out_of_range():
    kp = np.ones((2, 3, 3), np.float16)
    new_kp, _, total, _ = decompress_pose(kp, np.array([0, 4]), 6, squeeze=False)
    assert new_kp.shape == (1, 6, 3, 2) and total == 6
    assert new_kp[0, 4].all() and not new_kp[0, 1].any()
    with pytest.raises(ValueError, match="frame_inds outside"):
        decompress_pose(kp, np.array([0, 6]), 6, squeeze=False)


def test_max_person_keeps_highest_scoring():
    kp = np.zeros((3, 2, 3), np.float16)
    kp[:, :, 2] = np.array([0.1, 0.9, 0.5])[:, None]
    kp[:, :, 0] = np.array([1, 2, 3])[:, None]
    out = DecompressPose(max_person=2)(dict(keypoint=kp, frame_inds=np.zeros(3, np.int64), total_frames=1))
    assert out["num_person"] == 2
    np.testing.assert_array_equal(out["keypoint"][:, 0, 0, 0], [2, 3])
    assert "frame_inds" not in out


def test_registered_through_the_pipelines_package():
    import pyskl.datasets.pipelines  # noqa: F401

    assert TRANSFORMS.get("DecompressPose") is DecompressPose
