"""Pure numpy functions behind the GCN pipeline ops (PYSKL semantics, vectorised).

Arrays follow PYSKL's skeleton layout ``[M, T, V, C]`` (persons, frames, joints, channels).
Random functions take ``rng``: the global ``np.random`` module by default (what PYSKL draws from,
so seeded runs reproduce PYSKL's samples) or any ``np.random.RandomState``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "angle_between",
    "format_gcn_input",
    "joint_to_bone",
    "nonzero_frames",
    "pad_to",
    "pre_normalize_2d",
    "pre_normalize_3d",
    "random_gaussian_noise",
    "random_rot",
    "random_scale",
    "rot2d_matrix",
    "rot3d_matrix",
    "rotation_matrix",
    "sample_clip_indices",
    "to_motion",
    "uniform_sample_indices",
]

# Layouts whose 3rd channel (when C == 3) is a detection score rather than a coordinate: bones
# average it. PYSKL's ToMotion (and GenSkeFeat's jm/bm) averages it only for openpose and coco; for
# handmp it takes the plain difference of the score, which we keep for compatibility.
SCORE_LAYOUTS = ("openpose", "coco", "handmp")
MOTION_SCORE_LAYOUTS = ("openpose", "coco")


# ----------------------------------------------------------------------------- geometry
def _unit(v: np.ndarray) -> np.ndarray:
    # norm() of a float16 vector is computed in float16; PYSKL's angles inherit that rounding.
    return v / np.linalg.norm(v)


def angle_between(v1: Any, v2: Any) -> float:
    """Angle in radians between two 3-vectors; 0 when either is (nearly) zero (2s-AGCN formula)."""
    v1, v2 = np.asarray(v1), np.asarray(v2)
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    return np.arccos(np.clip(np.dot(_unit(v1), _unit(v2)), -1.0, 1.0))


def rotation_matrix(axis: Any, theta: float) -> np.ndarray:
    """3x3 matrix rotating by ``theta`` about ``axis`` (quaternion form, as PYSKL's PreNormalize3D)."""
    x, y, z = (float(a) for a in np.asarray(axis).ravel())
    theta = float(theta)
    if abs(x) + abs(y) + abs(z) < 1e-6 or abs(theta) < 1e-6:
        return np.eye(3)
    length = math.sqrt(x * x + y * y + z * z)
    a = math.cos(theta / 2.0)
    sin = math.sin(theta / 2.0)
    b, c, d = -x / length * sin, -y / length * sin, -z / length * sin
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array(
        [
            [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
            [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
            [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
        ]
    )


def _align_matrix(vec: np.ndarray, axis: int) -> np.ndarray:
    """Rotation taking ``vec`` onto the unit axis ``axis`` (0 = x, 2 = z), as PYSKL computes it.

    ``np.cross(vec, e)`` only copies/negates components (exact), and ``dot(unit(vec), e)`` is one
    component of ``unit(vec)``, which keeps vec's dtype (float16 rounding for NTU's float16 data).
    """
    v = [float(t) for t in vec]
    if axis == 2:
        cross = (v[1], -v[0], 0.0)
    else:
        cross = (0.0, v[2], -v[1])
    if np.abs(vec).sum() < 1e-6:
        return rotation_matrix(cross, 0)
    cos = float(_unit(vec)[axis])
    return rotation_matrix(cross, math.acos(min(max(cos, -1.0), 1.0)))


# ----------------------------------------------------------------------------- normalisation
def _round_to_float16(x: np.ndarray) -> np.ndarray:
    """Round float64 differences of float16 values to float16 precision (ties to even), as float64.

    Equals ``x.astype(np.float16)`` for such inputs but is several times faster. Every float16 is
    a multiple of 2**-24, so a difference below the normal range is already exact: only the
    normal-range rounding (drop 42 of float64's 52 mantissa bits) and overflow need handling.
    """
    bits = x.view(np.uint64)
    half_ulp = np.uint64((1 << 41) - 1)
    out = ((bits + half_ulp + ((bits >> np.uint64(42)) & np.uint64(1))) & ~np.uint64((1 << 42) - 1)).view(
        np.float64
    )
    if np.abs(out).max(initial=0) > 65504:
        out = np.where(np.abs(out) > 65504, np.copysign(np.inf, x), out)
    return out


def _nonzero_values(kp: np.ndarray) -> np.ndarray:
    """Elementwise ``not np.isclose(kp, 0)`` (for float16 the tolerance rounds to 0)."""
    if kp.dtype == np.float16:
        return (kp.view(np.uint16) & np.uint16(0x7FFF)) != 0
    tol = kp.dtype.type(1e-8) if kp.dtype.kind == "f" else 1e-8
    return ~(np.abs(kp) <= tol)


def nonzero_frames(kp: np.ndarray) -> np.ndarray:
    """``[M, T]`` mask: the person has a joint not ``np.isclose`` to 0 in that frame."""
    m, t = kp.shape[:2]
    return _nonzero_values(kp).reshape(m, t, -1).any(axis=-1)


def _any_last(mask: np.ndarray) -> np.ndarray:
    """``mask.any(axis=-1)``; ORs the channels directly when there are few (numpy reduces a short
    last axis slowly)."""
    if mask.shape[-1] > 4:
        return mask.any(axis=-1)
    out = mask[..., 0].copy()
    for c in range(1, mask.shape[-1]):
        out |= mask[..., c]
    return out


def _round_like(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float64 results of one subtraction rounded as if computed in ``dtype`` (float64 kept)."""
    if dtype == np.float16:
        return _round_to_float16(x)
    if dtype == np.float32:
        # float64 has >= 2*24+2 bits, so rounding its correctly rounded result again is exact.
        return x.astype(np.float32).astype(np.float64)
    return x


def pre_normalize_3d(
    kp: np.ndarray, zaxis: Sequence[int] = (0, 1), xaxis: Sequence[int] = (8, 4), align_spine: bool = True
) -> tuple[np.ndarray, np.ndarray] | None:
    """PYSKL's PreNormalize3D on ``[M, T, V, 3]``; ``None`` when the skeleton sums to 0.

    Drops frames where the main person is absent (the person with more present frames becomes
    person 0), centres on joint 1 (V == 25, else V-1) of the first kept frame with the rounding of
    the input dtype (float16 for NTU), zeroes missing joints and, with ``align_spine``, rotates
    zaxis onto +z then xaxis onto +x (both rotations applied as one matrix product).

    Returns:
        ``(keypoint, body_center)``: keypoint float64 when aligned, else the input dtype.
    """
    full = kp.astype(np.float64)
    if full.sum() == 0:
        return None
    num_person, total, num_joints, channels = kp.shape
    if num_person not in (1, 2):
        raise ValueError(f"expects 1 or 2 persons, got keypoint of shape {kp.shape}")
    present = _nonzero_values(kp).reshape(num_person, total, -1).any(axis=-1)
    counts = present.sum(axis=1)
    main = 1 if num_person == 2 and counts[0] < counts[1] else 0
    if counts[main] == 0:
        raise ValueError("no frame has a non-zero joint for the main person (all values ~0)")
    # compress (unlike boolean indexing on axis 1) returns a C-contiguous array.
    kept = np.compress(present[main], full[::-1] if main == 1 else full, axis=1)
    center = kept[0, 0, 1 if num_joints == 25 else -1].astype(kp.dtype)
    rows = kept.reshape(-1, num_joints * channels)
    absent = ~_any_last((rows != 0).reshape(-1, num_joints, channels))
    rows = _round_like(rows - np.tile(center.astype(np.float64), num_joints), kp.dtype)
    rows.reshape(-1, num_joints, channels)[absent] = 0
    centered = rows.reshape(kept.shape)
    if not align_spine:
        return centered.astype(kp.dtype), center
    if max(*zaxis, *xaxis) >= num_joints:
        raise ValueError(
            f"zaxis={list(zaxis)} / xaxis={list(xaxis)} name joints beyond the {num_joints} present"
        )
    first = centered[0, 0].astype(kp.dtype)
    rot_z = _align_matrix(first[zaxis[1]] - first[zaxis[0]], 2)
    x_axis = rot_z @ (centered[0, 0, xaxis[0]] - centered[0, 0, xaxis[1]])
    rot_x = _align_matrix(x_axis, 0)
    out = centered.reshape(-1, channels) @ (rot_x @ rot_z).T
    return out.reshape(kept.shape), center


def pre_normalize_2d(
    kp: np.ndarray,
    score: np.ndarray | None,
    img_shape: Sequence[int],
    threshold: float = 0.01,
    mode: str = "fix",
) -> np.ndarray:
    """PYSKL's PreNormalize2D: float32 ``[M, T, V, 2 or 3]`` (score appended as channel 2).

    'fix' maps x, y to [-1, 1] by the image size; 'auto' by the box of confident joints (when it is
    larger than 10 px both ways). Joints with score <= threshold get x = y = 0.
    """
    kp = kp.astype(np.float32)
    if score is not None:
        kp = np.concatenate([kp, score.astype(np.float32)[..., None]], axis=-1)
    keep = drop = None
    if kp.shape[-1] == 3:
        keep = kp[..., 2] > threshold
        drop = ~keep
    if mode == "auto":
        pts = kp[keep] if keep is not None else kp.reshape(-1, kp.shape[-1])
        if len(pts):
            x_max, x_min = pts[:, 0].max(), pts[:, 0].min()
            y_max, y_min = pts[:, 1].max(), pts[:, 1].min()
        else:
            x_max = x_min = y_max = y_min = 0
        if (x_max - x_min) > 10 and (y_max - y_min) > 10:
            kp[..., 0] = (kp[..., 0] - (x_max + x_min) / 2) / (x_max - x_min) * 2
            kp[..., 1] = (kp[..., 1] - (y_max + y_min) / 2) / (y_max - y_min) * 2
    else:
        h, w = img_shape
        kp[..., 0] = (kp[..., 0] - (w / 2)) / (w / 2)
        kp[..., 1] = (kp[..., 1] - (h / 2)) / (h / 2)
    if drop is not None:
        kp[..., :2][drop] = 0
    return kp


# ----------------------------------------------------------------------------- features
def joint_to_bone(
    kp: np.ndarray, pairs: Sequence[tuple[int, int]], score_channel: bool = False
) -> np.ndarray:
    """``bone[..., v1, :] = kp[..., v1, :] - kp[..., v2, :]`` per pair; float32 like PYSKL's buffer.

    With ``score_channel`` (2D layouts with C == 3) channel 2 is the mean score of the two joints.
    """
    v1 = np.array([p[0] for p in pairs], dtype=np.intp)
    v2 = np.array([p[1] for p in pairs], dtype=np.intp)
    bone = np.zeros(kp.shape, dtype=np.float32)
    bone[..., v1, :] = kp[..., v1, :] - kp[..., v2, :]
    if score_channel:
        bone[..., v1, 2] = (kp[..., v1, 2] + kp[..., v2, 2]) / 2
    return bone


def to_motion(x: np.ndarray, score_channel: bool = False) -> np.ndarray:
    """Temporal difference ``x[:, t+1] - x[:, t]`` with the last frame 0, in ``x``'s dtype.

    With ``score_channel`` channel 2 is the mean of the two frames' scores instead.
    """
    motion = np.zeros_like(x)
    motion[:, :-1] = x[:, 1:] - x[:, :-1]
    if score_channel:
        motion[:, :-1, :, 2] = (x[:, :-1, :, 2] + x[:, 1:, :, 2]) / 2
    return motion


# ----------------------------------------------------------------------------- sampling
def sample_clip_indices(
    num_frames: int,
    clip_len: int,
    p_interval: tuple[float, float],
    rng: Any,
    test_start: tuple[int, int] | None = None,
    loop_short: bool = False,
) -> np.ndarray:
    """Indices of one clip drawn like PYSKL's UniformSampleFrames (before ``% num_frames``).

    Draw order: ``rand()`` for the kept ratio, ``randint(T - n + 1)`` for its offset, then one of:
    ``randint(0, n)`` (n < clip_len; replaced by the deterministic start of ``test_start = (i,
    num_clips)`` in test mode), ``choice(clip_len + 1, n - clip_len, replace=False)`` (frames to
    repeat) or ``randint(segment_sizes)`` (one frame per segment).
    """
    ratio = rng.rand() * (p_interval[1] - p_interval[0]) + p_interval[0]
    n = int(ratio * num_frames)
    off = rng.randint(num_frames - n + 1)
    if n < clip_len:
        if test_start is None:
            start = rng.randint(0, n)
        else:
            i, num_clips = test_start
            start = i if n < num_clips else i * n // num_clips
        inds = np.arange(start, start + clip_len)
        if loop_short:
            inds = inds % n
    elif n < 2 * clip_len:
        repeat = rng.choice(clip_len + 1, n - clip_len, replace=False)
        step = np.zeros(clip_len + 1, dtype=np.int64)
        step[repeat] = 1
        inds = np.arange(clip_len) + np.cumsum(step)[:-1]
    else:
        bids = np.arange(clip_len + 1) * n // clip_len
        inds = bids[:-1] + rng.randint(np.diff(bids))
    return inds + off


def uniform_sample_indices(
    num_frames: int,
    clip_len: int,
    num_clips: int = 1,
    p_interval: tuple[float, float] = (1, 1),
    test_mode: bool = False,
    seed: int = 255,
    rng: Any = None,
) -> np.ndarray:
    """PYSKL's UniformSampleFrames frame indices: ``num_clips`` clips concatenated, ``% num_frames``.

    Test mode reseeds ``rng`` with ``seed`` first (PYSKL reseeds the global RNG on every call).
    """
    rng = np.random if rng is None else rng
    if test_mode:
        rng.seed(seed)
    clips = [
        sample_clip_indices(num_frames, clip_len, p_interval, rng, (i, num_clips) if test_mode else None)
        for i in range(num_clips)
    ]
    return np.mod(np.concatenate(clips), num_frames)


def pad_to(
    kp: np.ndarray, length: int, total_frames: int, mode: str = "loop"
) -> np.ndarray:
    """Loop ``kp`` along time to ``length`` frames; ``mode='zero'`` zeroes frames >= total_frames."""
    inds = np.mod(np.arange(length), total_frames)
    out = np.take(kp, inds, axis=1)
    if mode == "zero":
        out[:, total_frames:] = 0
    return out


def format_gcn_input(kp: np.ndarray, num_person: int = 2, num_clips: int = 1) -> np.ndarray:
    """Pad persons with zeros / keep the first ``num_person``, then ``[nc, M, T // nc, V, C]``.

    PYSKL's ``mode='loop'`` checks the person count after padding, so it never loops; callers
    therefore get zero padding for both modes (matching PYSKL's outputs).
    """
    m, t, v, c = kp.shape
    if t % num_clips:
        raise ValueError(f"{t} frames do not split into num_clips={num_clips} clips")
    out = np.zeros((num_clips, num_person, t // num_clips, v, c), dtype=kp.dtype)
    keep = min(m, num_person)
    out[:, :keep] = kp[:keep].reshape(keep, num_clips, t // num_clips, v, c).transpose(1, 0, 2, 3, 4)
    return out


# ----------------------------------------------------------------------------- augmentation
def rot3d_matrix(theta: np.ndarray) -> np.ndarray:
    """``R_z @ R_y @ R_x`` for the three angles of RandomRot."""
    cos, sin = np.cos(theta), np.sin(theta)
    rx = np.array([[1, 0, 0], [0, cos[0], sin[0]], [0, -sin[0], cos[0]]])
    ry = np.array([[cos[1], 0, -sin[1]], [0, 1, 0], [sin[1], 0, cos[1]]])
    rz = np.array([[cos[2], sin[2], 0], [-sin[2], cos[2], 0], [0, 0, 1]])
    return rz @ (ry @ rx)


def rot2d_matrix(theta: float) -> np.ndarray:
    cos, sin = np.cos(theta), np.sin(theta)
    return np.array([[cos, -sin], [sin, cos]])


def random_rot(kp: np.ndarray, theta: float = 0.3, rng: Any = None) -> np.ndarray | None:
    """Rotate ``[M, T, V, C]`` by random angles (float64); ``None`` (no draw) when all ~0.

    C == 3 draws ``uniform(-theta, theta, size=3)``; C == 2 draws ``uniform(-theta)``, which is
    U(-theta, 1.0): PYSKL's bug, kept so seeded runs match.
    """
    rng = np.random if rng is None else rng
    if not _nonzero_values(kp).any():
        return None
    if kp.shape[-1] == 3:
        rot = rot3d_matrix(rng.uniform(-theta, theta, size=3))
    else:
        rot = rot2d_matrix(rng.uniform(-theta))
    c = kp.shape[-1]
    return (kp.reshape(-1, c).astype(np.float64) @ rot.T).reshape(kp.shape)


def random_scale(kp: np.ndarray, scale: Sequence[float], rng: Any = None) -> np.ndarray:
    """Multiply each channel by ``1 + uniform(-1, 1) * scale[c]`` (one draw of size C)."""
    rng = np.random if rng is None else rng
    factor = 1 + rng.uniform(-1, 1, size=len(scale)) * np.array(scale)
    return kp * factor


def random_gaussian_noise(
    kp: np.ndarray, sigma: float = 0.01, base: str = "frame", shared: bool = False, rng: Any = None
) -> np.ndarray:
    """Add per-joint noise of length ~ N(0, sigma) x (size of the frame's / video's skeleton box).

    The direction is a random unit vector per joint (shared over frames with ``shared``).
    Frames whose box minimum is ~0 get no noise.
    """
    rng = np.random if rng is None else rng
    m, t, v, c = kp.shape
    flat = kp.reshape(-1, v, c)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    valid = (lo**2).sum(axis=1) > 1e-4
    if base == "frame":
        norm = np.linalg.norm(hi - lo, axis=1) * valid
    else:
        if not valid.any():
            raise ValueError("base='video' needs at least one frame with a non-zero skeleton")
        norm = np.linalg.norm(hi[valid].max(axis=0) - lo[valid].min(axis=0)) * valid
    if shared:
        noise = np.tile(rng.randn(v) * sigma, (m * t, 1)) * norm[:, None]
        direction = rng.uniform(-1, 1, size=(c, v))
        direction = np.tile(direction / np.linalg.norm(direction, axis=0), (1, m * t))
    else:
        noise = rng.randn(m * t, v) * sigma * norm[:, None]
        direction = rng.uniform(-1, 1, size=(c, m * t * v))
        direction = direction / np.linalg.norm(direction, axis=0)
    offset = (direction * noise.reshape(-1)).T.reshape(m, t, v, c)
    return kp + offset
