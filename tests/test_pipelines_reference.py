"""Vectorised GCN ops against plain per-frame formulations of PYSKL's semantics, on random inputs.

The references below follow PYSKL's documented behaviour step by step (per-frame ``np.isclose``
scans, centring in the input dtype, two successive einsum rotations, per-pair bone loops,
clip-by-clip sampling with the same ``np.random`` calls). Hypothesis drives shapes, dtypes
(float16 like NTU, float32, float64), absent frames/persons and seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyskl.datasets.pipelines  # noqa: F401  (registers the ops)
from pyskl.registry import TRANSFORMS
from pyskl.utils.layouts import get_layout

ATOL, RTOL = 1e-6, 1e-5
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


# ----------------------------------------------------------------------------- references
def ref_angle(v1, v2):
    v2 = np.asarray(v2)
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    u1, u2 = v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2)
    return np.arccos(np.clip(np.dot(u1, u2), -1.0, 1.0))


def ref_rotation(axis, theta):
    axis = np.asarray(axis)
    if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
        return np.eye(3)
    axis = axis / math.sqrt(np.dot(axis, axis))
    a = math.cos(theta / 2.0)
    b, c, d = -axis * math.sin(theta / 2.0)
    return np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
            [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
            [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c],
        ]
    )


def ref_pre_normalize_3d(kp, align_spine=True):
    if kp.sum() == 0:
        return None
    frames = [
        [t for t in range(kp.shape[1]) if not np.all(np.isclose(kp[m, t], 0))] for m in range(kp.shape[0])
    ]
    if kp.shape[0] == 2 and len(frames[0]) < len(frames[1]):
        kp = kp[:, np.array(frames[1])][[1, 0]]
    else:
        kp = kp[:, np.array(frames[0])]
    center = kp[0, 0, 1 if kp.shape[2] == 25 else -1].copy()
    mask = ((kp != 0).sum(-1) > 0)[..., None]
    kp = (kp - center) * mask
    if align_spine:
        for (bottom, top), target in (((0, 1), [0, 0, 1]), ((4, 8), [1, 0, 0])):
            v = kp[0, 0, top] - kp[0, 0, bottom]
            kp = np.einsum("abcd,kd->abck", kp, ref_rotation(np.cross(v, target), ref_angle(v, target)))
    return kp, center


def ref_sample(total, clip_len, num_clips, p_interval, test_mode, decode=False):
    """Frame indices (UniformSampleFrames; ``decode`` = UniformSampleDecode's variant)."""
    if test_mode:
        np.random.seed(255)
    clips = []
    for i in range(num_clips):
        ratio = np.random.rand() * (p_interval[1] - p_interval[0]) + p_interval[0]
        n = int(ratio * total)
        off = np.random.randint(total - n + 1)
        if n < clip_len:
            if test_mode and not decode:
                start = i if n < num_clips else i * n // num_clips
            else:
                start = np.random.randint(0, n)
            inds = np.arange(start, start + clip_len)
            if decode:
                inds = inds % n
        elif n < 2 * clip_len:
            chosen = np.random.choice(clip_len + 1, n - clip_len, replace=False)
            step = np.zeros(clip_len + 1, dtype=np.int64)
            step[chosen] = 1
            inds = np.arange(clip_len) + np.cumsum(step)[:-1]
        else:
            bids = np.array([k * n // clip_len for k in range(clip_len + 1)])
            inds = bids[:-1] + np.array([np.random.randint(h) for h in np.diff(bids)])
        clips.append(inds + off)
    inds = np.concatenate(clips)
    return inds if decode else inds % total


# ----------------------------------------------------------------------------- inputs
@st.composite
def skeletons(draw, joints=25, channels=3):
    m = draw(st.sampled_from([1, 2]))
    t = draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-3, 0.5, 3.0, 200.0]))
    kp = rng.normal(0, scale, (m, t, joints, channels)) + rng.normal(0, scale, channels)
    for _ in range(draw(st.integers(0, 4))):  # absent frames / persons / joints
        person, start = rng.integers(m), rng.integers(t)
        kp[person, start : start + rng.integers(1, t + 1)] = 0
    if draw(st.booleans()):
        kp[rng.integers(m), rng.integers(t), rng.integers(joints)] = 0
    return kp.astype(dtype)


def assert_close(actual, expected):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), atol=ATOL, rtol=RTOL)


# ----------------------------------------------------------------------------- tests
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float16 norms overflow like PYSKL's
@SETTINGS
@given(kp=skeletons(), align_spine=st.booleans())
def test_pre_normalize_3d_matches_reference(kp, align_spine):
    op = TRANSFORMS.build(dict(type="PreNormalize3D", align_spine=align_spine))
    expected = ref_pre_normalize_3d(kp.copy(), align_spine)
    if expected is None or (expected[0].shape[1] == 0):
        return
    out = op(dict(keypoint=kp.copy(), total_frames=kp.shape[1]))
    ref_kp, ref_center = expected
    # float16 rounding can flip a rotation angle when the aligned bone is ~0; compare scale-aware.
    scale = max(1.0, float(np.abs(ref_kp).max()))
    assert out["keypoint"].dtype == ref_kp.dtype and out["keypoint"].shape == ref_kp.shape
    np.testing.assert_allclose(
        out["keypoint"].astype(np.float64), ref_kp.astype(np.float64), atol=ATOL * scale, rtol=RTOL
    )
    assert out["body_center"].dtype == ref_center.dtype
    np.testing.assert_array_equal(out["body_center"], ref_center)
    assert out["total_frames"] == ref_kp.shape[1]


def test_pre_normalize_3d_float16_centring_is_bit_exact():
    rng = np.random.default_rng(7)
    kp = (rng.normal(0, 2, (2, 300, 25, 3)) + [0.1, 0.3, 3.2]).astype(np.float16)
    out = TRANSFORMS.build(dict(type="PreNormalize3D", align_spine=False))(dict(keypoint=kp.copy()))
    ref, _ = ref_pre_normalize_3d(kp, align_spine=False)
    assert out["keypoint"].dtype == np.float16
    np.testing.assert_array_equal(out["keypoint"], ref)


@SETTINGS
@given(
    total=st.integers(1, 400),
    clip_len=st.sampled_from([1, 8, 48, 100]),
    num_clips=st.sampled_from([1, 2, 10]),
    p_low=st.sampled_from([1.0, 0.5, 0.9]),
    test_mode=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_uniform_sample_frames_draws_like_reference(total, clip_len, num_clips, p_low, test_mode, seed):
    p_interval = (p_low, 1.0)
    if p_low * total < 1 and not test_mode:
        return  # a zero-length interval makes PYSKL's randint(0, 0) fail
    op = TRANSFORMS.build(
        dict(type="UniformSampleFrames", clip_len=clip_len, num_clips=num_clips, p_interval=p_interval)
    )
    np.random.seed(seed)
    try:
        expected = ref_sample(total, clip_len, num_clips, p_interval, test_mode)
    except ValueError:
        return
    expected_next = np.random.rand()
    np.random.seed(seed)
    out = op(dict(total_frames=total, start_index=0, test_mode=test_mode))
    np.testing.assert_array_equal(out["frame_inds"], expected)
    assert np.random.rand() == expected_next


@SETTINGS
@given(
    kp=skeletons(),
    clip_len=st.sampled_from([4, 16, 100]),
    num_clips=st.sampled_from([1, 3]),
    test_mode=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_uniform_sample_decode_matches_reference(kp, clip_len, num_clips, test_mode, seed):
    op = TRANSFORMS.build(dict(type="UniformSampleDecode", clip_len=clip_len, num_clips=num_clips))
    np.random.seed(seed)
    inds = ref_sample(kp.shape[1], clip_len, num_clips, (1, 1), test_mode, decode=True)
    expected_next = np.random.rand()
    np.random.seed(seed)
    out = op(dict(keypoint=kp.copy(), test_mode=test_mode))
    assert_close(out["keypoint"], kp[:, inds].astype(np.float32))
    assert np.random.rand() == expected_next


@pytest.mark.parametrize("dataset", ["nturgb+d", "coco", "openpose", "handmp"])
@pytest.mark.parametrize("channels", [2, 3])
def test_bone_and_motion_match_loops(dataset, channels):
    layout = get_layout(dataset)
    kp = np.random.default_rng(3).normal(size=(2, 9, layout.num_joints, channels))
    bone = TRANSFORMS.build(dict(type="JointToBone", dataset=dataset))({"keypoint": kp})["keypoint"]
    expected = np.zeros(kp.shape, np.float32)
    for v1, v2 in layout.bone_pairs:
        expected[..., v1, :] = kp[..., v1, :] - kp[..., v2, :]
        if channels == 3 and dataset != "nturgb+d":
            expected[..., v1, 2] = (kp[..., v1, 2] + kp[..., v2, 2]) / 2
    np.testing.assert_array_equal(bone, expected)
    motion = TRANSFORMS.build(dict(type="ToMotion", dataset=dataset, target="m"))({"keypoint": kp})["m"]
    expected = np.zeros_like(kp)
    for t in range(kp.shape[1] - 1):
        expected[:, t] = kp[:, t + 1] - kp[:, t]
        if channels == 3 and dataset in ("coco", "openpose"):  # PYSKL: handmp takes the plain difference
            expected[:, t, :, 2] = (kp[:, t, :, 2] + kp[:, t + 1, :, 2]) / 2
    np.testing.assert_array_equal(motion, expected)


@SETTINGS
@given(kp=skeletons(joints=17, channels=2), mode=st.sampled_from(["fix", "auto"]), seed=st.integers(0, 2**31))
def test_pre_normalize_2d_matches_reference(kp, mode, seed):
    rng = np.random.default_rng(seed)
    kp = np.abs(kp.astype(np.float32)) * 100
    score = rng.uniform(0, 1, kp.shape[:3]).astype(np.float32)
    score[score < 0.2] = 0
    out = TRANSFORMS.build(dict(type="PreNormalize2D", mode=mode))(
        dict(keypoint=kp.copy(), keypoint_score=score.copy(), img_shape=(720, 1280))
    )
    ref = np.concatenate([kp, score[..., None]], -1)
    keep = ref[..., 2] > 0.01
    if mode == "fix":
        ref[..., 0] = (ref[..., 0] - 640) / 640
        ref[..., 1] = (ref[..., 1] - 360) / 360
    elif keep.any():
        x, y = ref[..., 0][keep], ref[..., 1][keep]
        if x.max() - x.min() > 10 and y.max() - y.min() > 10:
            ref[..., 0] = (ref[..., 0] - (x.max() + x.min()) / 2) / (x.max() - x.min()) * 2
            ref[..., 1] = (ref[..., 1] - (y.max() + y.min()) / 2) / (y.max() - y.min()) * 2
    ref[..., 0][~keep] = 0
    ref[..., 1][~keep] = 0
    assert "keypoint_score" not in out
    assert_close(out["keypoint"], ref)


@SETTINGS
@given(kp=skeletons(), num_person=st.sampled_from([1, 2, 3]), num_clips=st.sampled_from([1, 2]))
def test_format_gcn_input_matches_reference(kp, num_person, num_clips):
    kp = np.concatenate([kp] * num_clips, axis=1)
    out = TRANSFORMS.build(dict(type="FormatGCNInput", num_person=num_person))(
        dict(keypoint=kp, num_clips=num_clips)
    )
    ref = kp[:num_person]
    if ref.shape[0] < num_person:
        ref = np.concatenate([ref, np.zeros((num_person - ref.shape[0],) + ref.shape[1:], ref.dtype)])
    m, t, v, c = ref.shape
    ref = ref.reshape(m, num_clips, t // num_clips, v, c).transpose(1, 0, 2, 3, 4)
    assert out["keypoint"].flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out["keypoint"], ref)


@SETTINGS
@given(kp=skeletons(), theta=st.sampled_from([0.1, 0.3]), seed=st.integers(0, 2**31))
def test_random_rot_and_scale_match_reference(kp, theta, seed):
    np.random.seed(seed)
    out = TRANSFORMS.build(dict(type="RandomRot", theta=theta))(dict(keypoint=kp.copy()))["keypoint"]
    np.random.seed(seed)
    if np.all(np.isclose(kp, 0)):
        assert out is not None
        return
    a = np.random.uniform(-theta, theta, size=3)
    cos, sin = np.cos(a), np.sin(a)
    rx = np.array([[1, 0, 0], [0, cos[0], sin[0]], [0, -sin[0], cos[0]]])
    ry = np.array([[cos[1], 0, -sin[1]], [0, 1, 0], [sin[1], 0, cos[1]]])
    rz = np.array([[cos[2], sin[2], 0], [-sin[2], cos[2], 0], [0, 0, 1]])
    assert_close(out, np.einsum("ab,mtvb->mtva", rz @ ry @ rx, kp))
    np.random.seed(seed)
    out = TRANSFORMS.build(dict(type="RandomScale", scale=theta))(dict(keypoint=kp.copy()))["keypoint"]
    np.random.seed(seed)
    assert_close(out, kp * (1 + np.random.uniform(-1, 1, size=3) * np.array([theta] * 3)))


def test_pose_decode_matches_fancy_indexing():
    rng = np.random.default_rng(5)
    kp, score = rng.normal(size=(2, 30, 17, 2)), rng.uniform(size=(2, 30, 17))
    for inds in (np.arange(10), rng.integers(0, 30, 100), rng.integers(0, 27, (1, 64))):
        out = TRANSFORMS.build(dict(type="PoseDecode"))(
            dict(keypoint=kp, keypoint_score=score, frame_inds=inds, offset=3 if inds.max() < 27 else 0)
        )
        flat = np.squeeze(inds) + (3 if inds.max() < 27 else 0)
        assert_close(out["keypoint"], kp[:, flat].astype(np.float32))
        assert_close(out["keypoint_score"], score[:, flat].astype(np.float32))
