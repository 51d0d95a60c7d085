"""Procedural skeleton actions: NTU-25 3D and COCO-17 2D annotation files in PYSKL's format.

Each sample is an articulated body (per-subject proportions) driven by joint-angle trajectories of its class,
posed by forward kinematics, seen from one of three Kinect-like cameras (NTU's -45/0/+45 degree views) and
corrupted with noise, dropped frames and sometimes an idle second person. Several classes are built to need
temporal order: they share the same poses but differ in order (raise left-then-right vs right-then-left;
sit down vs stand up, which are exact time reversals) or in repetition count (clap slowly vs clap fast), so
a model that ignores frame order cannot tell them apart.

Coordinates: 3D in metres, Kinect camera space (x to the camera's left = the facing subject's right, y up,
z depth ~3 m), float16 ``[M, T, 25, 3]``; 2D in pixels of a 1080x1920 frame, ``keypoint`` float32
``[M, T, 17, 2]`` plus ``keypoint_score`` ``[M, T, 17]``. Splits ``xsub_*`` by subject, ``xview_*`` by camera
(camera 1 is validation, as in NTU). Everything derives from ``seed`` through ``np.random.default_rng``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["SYNTHETIC_CLASSES", "TEMPORAL_PAIRS", "make_synthetic", "write_synthetic"]

SYNTHETIC_CLASSES: tuple[str, ...] = (
    "wave",
    "raise_left_then_right_arm",
    "raise_right_then_left_arm",
    "sit_down",
    "stand_up",
    "clap_slowly",
    "clap_fast",
    "jump",
    "kick",
    "bow",
    "punch",
    "turn_around",
    "walk_in_place",
)
#: Class pairs that share poses and differ only in temporal order or repetition count.
TEMPORAL_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (3, 4), (5, 6))

_DEG = np.pi / 180.0
_FOCAL, _CX, _CY = 1060.0, 960.0, 540.0  # Kinect v2 colour camera, 1920x1080
_IMG_SHAPE = (1080, 1920)
_CAMERA_YAW = {1: 0.0, 2: -45.0 * _DEG, 3: 45.0 * _DEG}
# NTU-25 joints then the five COCO face points (nose, l/r eye, l/r ear) used for the 2D layout.
_NUM_BODY = 30
_NTU_TO_COCO = np.array([25, 26, 27, 28, 29, 4, 8, 5, 9, 6, 10, 12, 16, 13, 17, 14, 18])
_NOISY_JOINTS = np.array([7, 11, 21, 22, 23, 24])  # hands, tips and thumbs jitter most on a Kinect

_CHANNELS = ("root_dy", "yaw", "pitch", "head_pitch",
             "l_flex", "l_abd", "l_rot", "l_elbow", "r_flex", "r_abd", "r_rot", "r_elbow",
             "l_hip", "l_hip_abd", "l_knee", "r_hip", "r_hip_abd", "r_knee")


# ------------------------------------------------------------------------------------------- small helpers
def _ramp(s: np.ndarray, a: float, b: float) -> np.ndarray:
    """Smooth 0 -> 1 between a and b."""
    u = np.clip((s - a) / max(b - a, 1e-6), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _bump(s: np.ndarray, a: float, b: float) -> np.ndarray:
    """Smooth 0 -> 1 -> 0 over [a, b]."""
    u = np.clip((s - a) / max(b - a, 1e-6), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * u)


def _plateau(s: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    """Up over [a, b], hold, down over [c, d]."""
    return _ramp(s, a, b) * (1.0 - _ramp(s, c, d))


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[N, 3, 3]`` about a body axis."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    k = 3 - i - j
    out[..., k, k] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def _apply(rot: np.ndarray, vec: Any) -> np.ndarray:
    """``rot @ vec`` for ``[N, 3, 3]`` rotations and a 3-vector or per-frame vectors ``[N, 3]`` -> ``[N, 3]``."""
    vec = np.asarray(vec, dtype=np.float64)
    if vec.ndim == 1:
        return rot @ vec
    return (rot @ vec[..., None])[..., 0]


def _vec(x: Any, y: Any, z: Any, frames: int) -> np.ndarray:
    """Per-frame vectors ``[N, 3]`` from scalars or ``[N]`` arrays."""
    out = np.empty((frames, 3))
    out[:, 0], out[:, 1], out[:, 2] = x, y, z
    return out


# ------------------------------------------------------------------------------------------------- bodies
_SEGMENTS = dict(spine1=0.26, spine2=0.22, neck=0.07, head=0.14, shoulder=0.17, upper_arm=0.28, forearm=0.25,
                 hand=0.07, tip=0.06, hip=0.09, thigh=0.43, shin=0.41, foot=0.14)


def _subject_body(seed: int, subject: int) -> dict[str, float]:
    """Segment lengths (metres) of one subject: overall size and per-segment proportions vary."""
    rng = np.random.default_rng([seed, 10_000 + subject])
    size = rng.uniform(0.86, 1.12)
    return {k: v * size * rng.normal(1.0, 0.045) for k, v in _SEGMENTS.items()}


def _forward_kinematics(body: dict[str, np.ndarray], ang: dict[str, np.ndarray]) -> np.ndarray:
    """Joint positions ``[N, 30, 3]`` in the body frame (x right, y up, z backward; origin at the pelvis).

    Every input is per frame (``[N]``), so many sequences are posed in one vectorised pass.
    """
    frames = ang["yaw"].shape[0]
    root_rot = _rot("y", ang["yaw"])
    torso = root_rot @ _rot("x", -ang["pitch"])
    head_rot = torso @ _rot("x", -ang["head_pitch"])
    pos = np.zeros((frames, _NUM_BODY, 3))
    root = _vec(0.0, ang["root_dy"], 0.0, frames)
    torso_up = _apply(torso, (0, 1.0, 0))
    pos[:, 0] = root
    pos[:, 1] = root + body["spine1"][:, None] * torso_up
    pos[:, 20] = root + (body["spine1"] + body["spine2"])[:, None] * torso_up
    pos[:, 2] = pos[:, 20] + body["neck"][:, None] * torso_up
    pos[:, 3] = pos[:, 2] + body["head"][:, None] * _apply(head_rot, (0, 1.0, 0))
    face = {25: (0, -0.02, -0.10), 26: (-0.032, 0.02, -0.085), 27: (0.032, 0.02, -0.085),
            28: (-0.075, 0.0, 0.0), 29: (0.075, 0.0, 0.0)}
    for joint, offset in face.items():
        pos[:, joint] = pos[:, 3] + _apply(head_rot, offset)

    down = (0, -1.0, 0)
    for side, sign, (sh, el, wr, ha, tip, th) in (("l", -1.0, (4, 5, 6, 7, 21, 22)),
                                                 ("r", 1.0, (8, 9, 10, 11, 23, 24))):
        upper = torso @ _rot("x", ang[f"{side}_flex"]) @ _rot("z", sign * ang[f"{side}_abd"]) \
            @ _rot("y", -sign * ang[f"{side}_rot"])
        fore = upper @ _rot("x", ang[f"{side}_elbow"])
        fore_down = _apply(fore, down)
        pos[:, sh] = pos[:, 20] + _apply(torso, _vec(sign * body["shoulder"], -0.03, 0.0, frames))
        pos[:, el] = pos[:, sh] + body["upper_arm"][:, None] * _apply(upper, down)
        pos[:, wr] = pos[:, el] + body["forearm"][:, None] * fore_down
        pos[:, ha] = pos[:, wr] + body["hand"][:, None] * fore_down
        pos[:, tip] = pos[:, ha] + body["tip"][:, None] * fore_down
        pos[:, th] = pos[:, wr] + _apply(fore, (0, -0.035, -0.035))
    for side, sign, (hp, kn, an, ft) in (("l", -1.0, (12, 13, 14, 15)), ("r", 1.0, (16, 17, 18, 19))):
        thigh = root_rot @ _rot("x", ang[f"{side}_hip"]) @ _rot("z", sign * ang[f"{side}_hip_abd"])
        shin = thigh @ _rot("x", -ang[f"{side}_knee"])
        pos[:, hp] = root + _apply(root_rot, _vec(sign * body["hip"], -0.04, 0.0, frames))
        pos[:, kn] = pos[:, hp] + body["thigh"][:, None] * _apply(thigh, down)
        pos[:, an] = pos[:, kn] + body["shin"][:, None] * _apply(shin, down)
        foot = root_rot @ _rot("x", ang[f"{side}_hip"] - ang[f"{side}_knee"])
        pos[:, ft] = pos[:, an] + _apply(foot, _vec(0.0, -0.05, -body["foot"], frames))
    return pos


def _squat_drop(body: dict[str, float], hip: np.ndarray, knee: np.ndarray) -> np.ndarray:
    """Pelvis height change that keeps the feet on the floor for given hip/knee flexion."""
    return body["thigh"] * (np.cos(hip) - 1.0) + body["shin"] * (np.cos(knee - hip) - 1.0)


# ------------------------------------------------------------------------------------------------ actions
def _act_wave(s, amp, rng, ang, body):
    env = _plateau(s, 0.0, 0.18, 0.82, 1.0)
    cycles = rng.integers(3, 6)
    ang["r_abd"] += env * amp * 85 * _DEG
    ang["r_rot"] += env * 90 * _DEG
    ang["r_elbow"] += env * (70 + 28 * np.sin(2 * np.pi * cycles * s)) * _DEG


def _raise_arms(first: str, second: str):
    def act(s, amp, rng, ang, body):
        split = rng.uniform(0.45, 0.55)
        ang[f"{first}_abd"] += amp * 150 * _DEG * _bump(s, 0.0, split + 0.05)
        ang[f"{second}_abd"] += amp * 150 * _DEG * _bump(s, split - 0.05, 1.0)
        ang[f"{first}_elbow"] += 15 * _DEG * _bump(s, 0.0, split + 0.05)
        ang[f"{second}_elbow"] += 15 * _DEG * _bump(s, split - 0.05, 1.0)
    return act


def _act_sit_down(s, amp, rng, ang, body):
    depth = _ramp(s, 0.15, 0.7) * amp * 95 * _DEG
    for side in "lr":
        ang[f"{side}_hip"] += depth
        ang[f"{side}_knee"] += 1.9 * depth
        ang[f"{side}_flex"] += 0.6 * depth
    ang["pitch"] += 0.35 * depth
    ang["root_dy"] += _squat_drop(body, depth, 1.9 * depth)


def _time_reversed(act: Callable) -> Callable:
    def reversed_act(s, amp, rng, ang, body):
        act(1.0 - s, amp, rng, ang, body)
    return reversed_act


def _clap(count: int):
    def act(s, amp, rng, ang, body):
        env = _plateau(s, 0.0, 0.12, 0.88, 1.0)
        u = np.clip((s - 0.12) / 0.76, 0.0, 1.0)
        closed = 0.5 - 0.5 * np.cos(2 * np.pi * count * u)  # 0 open .. 1 hands together
        reach = body["upper_arm"] + body["forearm"] + body["hand"]
        # hands meet: adduct by the shoulder offset over the (slightly bent) arm, minus the rest pose's 8 degrees
        together = -np.arcsin(min(0.95, body["shoulder"] / (0.9 * reach))) - 8 * _DEG
        for side in "lr":
            ang[f"{side}_flex"] += env * amp * 80 * _DEG
            ang[f"{side}_abd"] += env * (25 * _DEG + (together - 25 * _DEG) * closed)
            ang[f"{side}_elbow"] += env * 15 * _DEG
    return act


def _act_jump(s, amp, rng, ang, body):
    crouch = (_bump(s, 0.1, 0.42) + _bump(s, 0.6, 0.85)) * 40 * _DEG
    flight = np.clip((s - 0.38) / 0.24, 0.0, 1.0)
    for side in "lr":
        ang[f"{side}_hip"] += crouch
        ang[f"{side}_knee"] += 1.8 * crouch
        ang[f"{side}_flex"] += (_bump(s, 0.2, 0.7) * 120 - _bump(s, 0.05, 0.3) * 30) * _DEG
    ang["pitch"] += 0.4 * crouch
    ang["root_dy"] += _squat_drop(body, crouch, 1.8 * crouch) + amp * 0.28 * 4 * flight * (1 - flight)


def _act_kick(s, amp, rng, ang, body):
    ang["r_hip"] += amp * 80 * _DEG * _bump(s, 0.25, 0.75)
    ang["r_knee"] += 70 * _DEG * _bump(s, 0.2, 0.5) + 25 * _DEG * _bump(s, 0.6, 0.85)
    ang["l_knee"] += 10 * _DEG * _bump(s, 0.2, 0.8)
    ang["pitch"] -= 12 * _DEG * _bump(s, 0.25, 0.75)
    for side in "lr":
        ang[f"{side}_abd"] += 30 * _DEG * _bump(s, 0.2, 0.8)


def _act_bow(s, amp, rng, ang, body):
    bend = amp * 55 * _DEG * _plateau(s, 0.1, 0.38, 0.62, 0.9)
    ang["pitch"] += bend
    ang["head_pitch"] += 0.3 * bend
    for side in "lr":
        ang[f"{side}_flex"] += 0.75 * bend


def _act_punch(s, amp, rng, ang, body):
    guard = _plateau(s, 0.0, 0.12, 0.88, 1.0)
    strike = _bump(s, 0.22, 0.46) + _bump(s, 0.56, 0.8)
    for side in "lr":
        ang[f"{side}_flex"] += guard * 45 * _DEG
        ang[f"{side}_elbow"] += guard * 115 * _DEG
    ang["r_flex"] += strike * amp * 45 * _DEG
    ang["r_elbow"] -= strike * 110 * _DEG


def _act_turn(s, amp, rng, ang, body):
    ang["yaw"] += amp * 100 * _DEG * _ramp(s, 0.1, 0.9)
    steps = np.clip(np.sin(2 * np.pi * 3 * s), 0.0, None) * _plateau(s, 0.05, 0.15, 0.85, 0.95)
    other = np.clip(-np.sin(2 * np.pi * 3 * s), 0.0, None) * _plateau(s, 0.05, 0.15, 0.85, 0.95)
    ang["l_hip"] += 25 * _DEG * steps
    ang["l_knee"] += 45 * _DEG * steps
    ang["r_hip"] += 25 * _DEG * other
    ang["r_knee"] += 45 * _DEG * other


def _act_walk(s, amp, rng, ang, body):
    cycles = rng.integers(3, 5)
    env = _plateau(s, 0.0, 0.1, 0.9, 1.0)
    phase = np.sin(2 * np.pi * cycles * s)
    left, right = np.clip(phase, 0.0, None), np.clip(-phase, 0.0, None)
    ang["l_hip"] += env * amp * 45 * _DEG * left
    ang["l_knee"] += env * amp * 80 * _DEG * left
    ang["r_hip"] += env * amp * 45 * _DEG * right
    ang["r_knee"] += env * amp * 80 * _DEG * right
    ang["l_flex"] -= env * 25 * _DEG * phase
    ang["r_flex"] += env * 25 * _DEG * phase
    ang["root_dy"] += env * 0.02 * np.abs(phase)


_ACTIONS: tuple[Callable, ...] = (
    _act_wave,
    _raise_arms("l", "r"),
    _raise_arms("r", "l"),
    _act_sit_down,
    _time_reversed(_act_sit_down),
    _clap(2),
    _clap(5),
    _act_jump,
    _act_kick,
    _act_bow,
    _act_punch,
    _act_turn,
    _act_walk,
)
assert len(_ACTIONS) == len(SYNTHETIC_CLASSES)


# ------------------------------------------------------------------------------------------------ samples
def _rest_pose(frames: int, rng: np.random.Generator, sway: float) -> dict[str, np.ndarray]:
    """Standing pose with small slow sway on every angle (breathing, weight shift)."""
    t = np.linspace(0.0, 1.0, frames)
    freq = rng.uniform(0.3, 1.5, size=(len(_CHANNELS), 2))
    phase = rng.uniform(0, 2 * np.pi, size=(len(_CHANNELS), 2))
    wobble = np.sin(2 * np.pi * freq[..., None] * t + phase[..., None]).sum(axis=1) * sway * _DEG
    ang = {name: wobble[i] for i, name in enumerate(_CHANNELS)}
    ang["root_dy"] = ang["root_dy"] * 0.004
    for side in "lr":
        ang[f"{side}_abd"] = ang[f"{side}_abd"] + 8 * _DEG
        ang[f"{side}_elbow"] = np.abs(ang[f"{side}_elbow"]) + 10 * _DEG
        ang[f"{side}_knee"] = np.abs(ang[f"{side}_knee"]) + 3 * _DEG
        ang[f"{side}_hip_abd"] = ang[f"{side}_hip_abd"] * 0.5 + 3 * _DEG
    return ang


def _action_phase(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Per-frame action phase in [0, 1]: idle margins, then a monotonic time warp (uneven speed)."""
    pad0, pad1 = rng.uniform(0.0, 0.12, size=2)
    t = (np.arange(frames) + 0.5) / frames
    s = np.clip((t - pad0) / (1.0 - pad0 - pad1), 0.0, 1.0)
    warp = rng.uniform(-0.5, 0.5)
    return s + warp * np.sin(2 * np.pi * s) / (2 * np.pi)


@dataclass
class _Track:
    """One person's motion in one sample, before posing: angles per frame, body and camera placement."""

    angles: dict[str, np.ndarray]
    body: dict[str, float]
    rotation: np.ndarray  # body frame -> camera space
    shift: np.ndarray  # camera-space position of the body origin
    offset: np.ndarray  # body-frame offset (the second person stands beside the actor)


def _camera(rng: np.random.Generator, camera: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and shift from the body frame (subject facing -z) to Kinect camera space."""
    yaw = _CAMERA_YAW[camera] + rng.normal(0.0, 8 * _DEG)
    tilt = rng.normal(-4 * _DEG, 2 * _DEG)
    rotation = _rot("x", np.array([tilt]))[0] @ _rot("y", np.array([yaw]))[0]
    shift = np.array([rng.uniform(-0.35, 0.35), rng.uniform(-0.25, 0.05), rng.uniform(2.5, 3.6)])
    return rotation, shift


def _plan_sample(seed: int, label: int, index: int, subject: int, camera: int, frames: int,
                 second_person: float) -> tuple[list[_Track], np.ndarray]:
    """The tracks of one sample and its per-frame presence mask ``[M, T]``."""
    rng = np.random.default_rng([seed, label, index])
    body = _subject_body(seed, subject)
    angles = _rest_pose(frames, rng, sway=rng.uniform(1.0, 3.0))
    _ACTIONS[label](_action_phase(frames, rng), rng.uniform(0.8, 1.1), rng, angles, body)
    rotation, shift = _camera(rng, camera)
    tracks = [_Track(angles, body, rotation, shift, np.zeros(3))]
    present = np.ones((1, frames), dtype=bool)
    if rng.random() < second_person:
        other = _subject_body(seed, 1000 + int(rng.integers(1000)))
        beside = np.array([rng.choice((-1.0, 1.0)) * rng.uniform(0.8, 1.2), 0.0, rng.uniform(-0.3, 0.3)])
        tracks.append(_Track(_rest_pose(frames, rng, sway=3.0), other, rotation, shift, beside))
        # The idle person is seen for fewer frames than the actor, so PreNormalize3D keeps the actor first.
        span = int(rng.integers(max(1, int(0.4 * frames)), int(0.95 * frames) + 1))
        start = int(rng.integers(0, frames - span + 1))
        mask = np.zeros(frames, dtype=bool)
        mask[start:start + span] = True
        present = np.concatenate([present, mask[None]], axis=0)
    if rng.random() < 0.25:  # tracking lost for a few short runs of frames (every person zero), <= ~15%
        for _ in range(int(rng.integers(1, 4))):
            length = int(rng.integers(1, max(2, min(5, frames // 20 + 1))))
            start = int(rng.integers(0, max(1, frames - length)))
            present[:, start:start + length] = False
    return tracks, present


def _pose_tracks(tracks: list[_Track]) -> list[np.ndarray]:
    """Camera-space joints ``[T, 30, 3]`` of every track, posed in one vectorised pass."""
    lengths = np.array([len(t.angles["yaw"]) for t in tracks])
    angles = {name: np.concatenate([t.angles[name] for t in tracks]) for name in _CHANNELS}
    body = {name: np.repeat([t.body[name] for t in tracks], lengths) for name in _SEGMENTS}
    pos = _forward_kinematics(body, angles)
    pos += np.repeat(np.stack([t.offset for t in tracks]), lengths, axis=0)[:, None]
    rotation = np.repeat(np.stack([t.rotation for t in tracks]), lengths, axis=0)
    shift = np.repeat(np.stack([t.shift for t in tracks]), lengths, axis=0)
    pos = pos @ rotation.transpose(0, 2, 1) + shift[:, None]
    return np.split(pos, np.cumsum(lengths)[:-1])


def _sample_ids(k: int, num_subjects: int) -> tuple[int, int, int, int]:
    """(setup, camera, subject, replication) of a class's k-th sample: every combination once."""
    subject = k % num_subjects + 1
    camera = (k // num_subjects) % 3 + 1
    replication = (k // (3 * num_subjects)) % 2 + 1
    setup = k // (6 * num_subjects) + 1
    return setup, camera, subject, replication


def _is_val_subject(subject: int, num_subjects: int) -> bool:
    """xsub validation subjects: every third (3, 6, 9, ...); with only two subjects, the second."""
    return subject % 3 == 0 or (num_subjects == 2 and subject == 2)


def make_synthetic(kind: str = "ntu3d", num_classes: int = 10, num_subjects: int = 10,
                   samples_per_class: int = 40, frames: tuple[int, int] = (40, 120), seed: int = 0,
                   second_person: float = 0.15) -> dict:
    """Generate a synthetic annotation dict in PYSKL's format.

    Args:
        kind: ``'ntu3d'`` (NTU-25, 3D metres, float16) or ``'coco2d'`` (COCO-17, pixels, with scores).
        num_classes: use the first ``num_classes`` of :data:`SYNTHETIC_CLASSES` (at most 13; the first 7
            include every temporal pair).
        num_subjects: subjects cycled through (xsub validation = subjects 3, 6, 9, ...; subject 2 of 2).
        samples_per_class: samples of each class.
        frames: ``(min, max)`` sequence length, inclusive.
        seed: everything derives from it; the same seed gives the same motions for both kinds.
        second_person: probability of an idle second person (``M = 2``).

    Returns:
        ``{'split': {'xsub_train', 'xsub_val', 'xview_train', 'xview_val'}, 'annotations': [...]}``.

    Example:
        >>> data = make_synthetic("ntu3d", num_classes=3, samples_per_class=2)
        >>> data["annotations"][0]["keypoint"].shape[2:]
        (25, 3)
    """
    if kind not in ("ntu3d", "coco2d"):
        raise ValueError(f"kind must be 'ntu3d' or 'coco2d', got {kind!r}")
    if not 1 <= num_classes <= len(SYNTHETIC_CLASSES):
        raise ValueError(f"num_classes must be in [1, {len(SYNTHETIC_CLASSES)}], got {num_classes}")
    if num_subjects < 1 or samples_per_class < 1:
        raise ValueError("num_subjects and samples_per_class must be >= 1")
    low, high = (int(x) for x in frames)
    if not 8 <= low <= high:
        raise ValueError(f"frames must be (min, max) with 8 <= min <= max, got {frames}")

    annotations: list[dict] = []
    split: dict[str, list[str]] = {"xsub_train": [], "xsub_val": [], "xview_train": [], "xview_val": []}
    for label in range(num_classes):
        plans = []
        for k in range(samples_per_class):
            setup, camera, subject, replication = _sample_ids(k, num_subjects)
            length = int(np.random.default_rng([seed, label, k, 3]).integers(low, high + 1))
            plans.append((k, setup, camera, subject, replication, *_plan_sample(
                seed, label, k, subject, camera, length, second_person)))
        posed = iter(_pose_tracks([track for plan in plans for track in plan[5]]))
        for k, setup, camera, subject, replication, tracks, present in plans:
            joints = np.stack([next(posed) for _ in tracks])
            name = f"S{setup:03d}C{camera:03d}P{subject:03d}R{replication:03d}A{label + 1:03d}"
            sample = {"frame_dir": name, "label": label, "total_frames": int(present.shape[1])}
            noise_rng = np.random.default_rng([seed, label, k, 11 if kind == "ntu3d" else 13])
            render = _render_3d if kind == "ntu3d" else _render_2d
            sample.update(render(joints, present, noise_rng))
            annotations.append(sample)
            split["xsub_val" if _is_val_subject(subject, num_subjects) else "xsub_train"].append(name)
            split["xview_val" if camera == 1 else "xview_train"].append(name)
    return {"split": split, "annotations": annotations}


def _render_3d(joints: np.ndarray, present: np.ndarray, rng: np.random.Generator) -> dict:
    kp = joints[:, :, :25].copy()
    sigma = rng.uniform(0.004, 0.012)
    kp += rng.normal(0.0, sigma, size=kp.shape)
    kp[:, :, _NOISY_JOINTS] += rng.normal(0.0, 1.5 * sigma, size=kp[:, :, _NOISY_JOINTS].shape)
    kp *= present[..., None, None]
    return {"keypoint": kp.astype(np.float16)}


def _render_2d(joints: np.ndarray, present: np.ndarray, rng: np.random.Generator) -> dict:
    pts = joints[:, :, _NTU_TO_COCO]
    depth = np.maximum(pts[..., 2], 0.5)
    kp = np.stack([_CX - _FOCAL * pts[..., 0] / depth, _CY - _FOCAL * pts[..., 1] / depth], axis=-1)
    kp += rng.normal(0.0, rng.uniform(1.5, 4.0), size=kp.shape)
    score = np.clip(rng.uniform(0.75, 0.95) + rng.normal(0.0, 0.06, size=kp.shape[:3]), 0.05, 1.0)
    kp[..., 0] = np.clip(kp[..., 0], 0, _IMG_SHAPE[1] - 1)
    kp[..., 1] = np.clip(kp[..., 1], 0, _IMG_SHAPE[0] - 1)
    kp *= present[..., None, None]
    score *= present[..., None]
    return {"keypoint": kp.astype(np.float32), "keypoint_score": score.astype(np.float32),
            "img_shape": _IMG_SHAPE, "original_shape": _IMG_SHAPE}


def write_synthetic(path: str | os.PathLike, **kwargs: Any) -> Path:
    """Generate with :func:`make_synthetic` (same keyword arguments) and save it as a PYSKL pickle.

    ``kind='rgbpose'`` writes the ``coco2d`` annotation plus a video per sample (see
    :func:`pyskl.datasets.synthetic_video.write_rgbpose_synthetic`, which takes ``video_dir``).

    Returns:
        The written path.
    """
    from .io import save_annotations

    if kwargs.get("kind") == "rgbpose":
        from .synthetic_video import write_rgbpose_synthetic

        return write_rgbpose_synthetic(path, **{k: v for k, v in kwargs.items() if k != "kind"})
    for key in ("video_dir", "shuffle_labels"):  # rgbpose only
        if kwargs.pop(key, None):
            raise ValueError(f"{key} applies to kind='rgbpose' only")
    return save_annotations(make_synthetic(**kwargs), path)
