"""ProtoGCN's pipeline ops (Liu et al., CVPR 2025, arXiv 2411.18941; github firework8/ProtoGCN, MIT).

Registered under the official names so ProtoGCN's config dicts run unchanged: ``JointToKB`` (the
"K-Bone" feature, from InfoGCN), ``Kinetics_Transform`` (COCO-17 -> the 20-joint ``coco_new``
layout), ``Spatial_Flip`` and ``Part_Drop`` (NTU augmentations). PYSKL's ops are not changed by them.
The two random ops draw from python's ``random`` as the official ones do; training seeds it (and
``np.random``) per run and per data-loader worker.
"""

from __future__ import annotations

import random

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require_array

__all__ = ["KB_PAIRS", "JointToKB", "Kinetics_Transform", "NTU_LIMBS", "Part_Drop", "Spatial_Flip",
           "joint_to_kbone"]

#: ``(v1, v2)`` hub pairs of the K-Bone feature: ``k[v1] = joint[v1] - joint[v2]``.
KB_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    "nturgb+d": ((0, 20), (1, 1), (2, 2), (3, 20), (4, 4), (5, 20), (6, 4), (7, 5), (8, 8), (9, 20),
                 (10, 8), (11, 9), (12, 1), (13, 0), (14, 12), (15, 13), (16, 1), (17, 0), (18, 16),
                 (19, 17), (21, 7), (20, 20), (22, 6), (23, 11), (24, 10)),
    "coco_new": ((0, 0), (1, 19), (2, 19), (3, 0), (4, 0), (5, 5), (6, 6), (7, 19), (8, 19), (9, 5),
                 (10, 6), (11, 18), (12, 18), (13, 17), (14, 17), (15, 11), (16, 12), (17, 19), (18, 18),
                 (19, 19)),
}

#: Joint order after ``Spatial_Flip``: NTU's left and right arms, legs and hands swapped.
_NTU_FLIP = (0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22)

#: NTU limb groups ``Part_Drop`` zeroes, indexed by its draw: left hand, left leg, right hand, right leg.
NTU_LIMBS: tuple[tuple[int, ...], ...] = (
    (4, 5, 6, 7, 22, 21), (12, 13, 14, 15), (8, 9, 10, 11, 24, 23), (16, 17, 18, 19),
)


def joint_to_kbone(kp: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """``k[..., v1, :] = kp[..., v1, :] - kp[..., v2, :]`` on every channel, float32.

    Unlike ``joint_to_bone`` no score is averaged: on ``coco_new`` channel 2 becomes the score difference.
    """
    v1 = np.array([p[0] for p in pairs], dtype=np.intp)
    v2 = np.array([p[1] for p in pairs], dtype=np.intp)
    kbone = np.zeros(kp.shape, dtype=np.float32)
    kbone[..., v1, :] = kp[..., v1, :] - kp[..., v2, :]
    return kbone


def _check_choice(op: str, name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{op}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _check_prob(op: str, p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{op}: p must be a probability in [0, 1], got {p!r}")


def _require_joints(op: Transform, kp: np.ndarray, num_joints: int, what: str) -> None:
    if kp.shape[2] != num_joints:
        raise PipelineError(f"{type(op).__name__}: {what} needs {num_joints} joints, "
                            f"results['keypoint'] has shape {kp.shape}")


@TRANSFORMS.register()
class JointToKB(Transform):
    """The K-Bone feature: each joint minus its hub joint (``KB_PAIRS``), float32.

    Required keys: keypoint ``[M, T, V, C]`` (V = 25 for 'nturgb+d', 20 for 'coco_new').
    Added/modified keys: ``target`` (default keypoint).
    """

    def __init__(self, dataset: str = "nturgb+d", target: str = "keypoint") -> None:
        _check_choice("JointToKB", "dataset", dataset, tuple(KB_PAIRS))
        self.dataset = dataset
        self.target = target

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4, last_dim=(2, 3))
        _require_joints(self, kp, len(KB_PAIRS[self.dataset]), f"layout {self.dataset!r}")
        results[self.target] = joint_to_kbone(kp, KB_PAIRS[self.dataset])
        return results


@TRANSFORMS.register()
class Kinetics_Transform(Transform):  # noqa: N801 (ProtoGCN's config name)
    """COCO-17 keypoints -> ProtoGCN's 20-joint ``coco_new`` layout, with the score as channel 2.

    The appended joints are means over every channel (score included): 17 = hip centre (11, 12),
    19 = shoulder centre (5, 6), 18 = their mean (spine centre). Put it after ``Flip``, before ``GenSkeFeat``.

    Required keys: keypoint ``[M, T, 17, 2]`` with keypoint_score ``[M, T, 17]``, or ``[M, T, 17, 3]``
    with the score already packed.
    Modified keys: keypoint (float32 ``[M, T, 20, 3]``); keypoint_score removed.
    """

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4, last_dim=(2, 3))
        _require_joints(self, kp, 17, "COCO-17 input")
        if kp.shape[-1] == 2:
            score = require_array(self, results, "keypoint_score", ndim=3)
            if score.shape != kp.shape[:3]:
                raise PipelineError(f"Kinetics_Transform: keypoint {kp.shape} with keypoint_score "
                                    f"{score.shape}: expects scores [M, T, V] matching keypoint [M, T, V, 2]")
            kp = np.concatenate([kp, score[..., None]], axis=-1)
        elif "keypoint_score" in results:
            raise PipelineError(f"Kinetics_Transform: keypoint {kp.shape} already has 3 channels and "
                                "keypoint_score is given too; pass one score")
        hip = (kp[:, :, 11] + kp[:, :, 12]) / 2
        shoulder = (kp[:, :, 5] + kp[:, :, 6]) / 2
        spine = (hip + shoulder) / 2
        results.pop("keypoint_score", None)
        centres = np.stack([hip, spine, shoulder], axis=2)  # joints 17, 18, 19
        results["keypoint"] = np.concatenate([kp, centres], axis=2).astype(np.float32)
        return results


@TRANSFORMS.register()
class Spatial_Flip(Transform):  # noqa: N801 (ProtoGCN's config name)
    """With probability ``p`` swap NTU's left and right limbs (a joint permutation; coordinates unchanged).

    Draws one ``random.random()`` per call.

    Required keys: keypoint ``[M, T, 25, C]``.
    Modified keys: keypoint (when flipped).
    """

    def __init__(self, dataset: str = "nturgb+d", p: float = 0.5) -> None:
        _check_choice("Spatial_Flip", "dataset", dataset, ("nturgb+d",))
        _check_prob("Spatial_Flip", p)
        self.dataset = dataset
        self.p = p

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4)
        _require_joints(self, kp, len(_NTU_FLIP), "layout 'nturgb+d'")
        if random.random() < self.p:
            results["keypoint"] = kp[:, :, list(_NTU_FLIP)]
        return results


@TRANSFORMS.register()
class Part_Drop(Transform):  # noqa: N801 (ProtoGCN's config name)
    """With probability ``p`` zero one NTU limb group (``NTU_LIMBS``) in every frame and person.

    Draws ``random.random()``, then, when dropping, ``random.randint(0, 3)`` for the group.

    Required keys: keypoint ``[M, T, 25, C]``.
    Modified keys: keypoint (a copy, when dropped).
    """

    def __init__(self, p: float = 0.2) -> None:
        _check_prob("Part_Drop", p)
        self.p = p

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4)
        _require_joints(self, kp, 25, "the NTU limb groups")
        if random.random() < self.p:
            kp = kp.copy()
            kp[:, :, list(NTU_LIMBS[random.randint(0, 3)])] = 0
            results["keypoint"] = kp
        return results
