"""Skeleton normalisation and feature ops: PreNormalize3D/2D, GenSkeFeat and its parts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...registry import TRANSFORMS
from ...utils.layouts import LAYOUTS, get_layout
from .compose import PipelineError, Transform, require, require_array
from .functional import (MOTION_SCORE_LAYOUTS, SCORE_LAYOUTS, joint_to_bone, pre_normalize_2d,
                         pre_normalize_3d, to_motion)
from .protogcn import JointToKB

# ProtoGCN averages the bone score on its coco_new layout too (its motion keeps the plain difference).
_BONE_SCORE_LAYOUTS = SCORE_LAYOUTS + ("coco_new",)

__all__ = [
    "GenSkeFeat",
    "JointToBone",
    "MergeSkeFeat",
    "PreNormalize2D",
    "PreNormalize3D",
    "Rename",
    "ToMotion",
]


def _check_dataset(op: str, dataset: str) -> None:
    if dataset not in LAYOUTS:
        raise ValueError(f"{op}: unknown dataset layout {dataset!r} (known: {', '.join(LAYOUTS)})")


@TRANSFORMS.register()
class PreNormalize3D(Transform):
    """Centre and align a 3D skeleton the way PYSKL does for NTU RGB+D.

    Frames where the main person is absent are dropped (the person present in more frames becomes
    person 0), the skeleton is centred on joint 1 (V == 25, else the last joint) of the first kept
    frame in the input dtype, missing joints stay 0, and with ``align_spine`` the bone
    ``zaxis[0] -> zaxis[1]`` is rotated onto +z, then ``xaxis[1] -> xaxis[0]`` onto +x. An all-zero
    skeleton is returned unchanged (no ``body_center``).

    Required keys: keypoint ``[M<=2, T, V, 3]``, total_frames (optional, must equal T).
    Added keys: body_center (the centre joint, input dtype).
    Modified keys: keypoint (float64 when ``align_spine``), total_frames (kept frames).
    """

    def __init__(
        self,
        zaxis: Sequence[int] = [0, 1],
        xaxis: Sequence[int] = [8, 4],
        align_spine: bool = True,
        align_center: bool = True,
    ) -> None:
        self.zaxis = zaxis
        self.xaxis = xaxis
        self.align_spine = align_spine
        self.align_center = align_center

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4, last_dim=(3,))
        total = results.get("total_frames", kp.shape[1])
        if total != kp.shape[1]:
            raise PipelineError(
                f"PreNormalize3D: results['total_frames']={total} but keypoint has "
                f"{kp.shape[1]} frames (shape {kp.shape})"
            )
        try:
            out = pre_normalize_3d(kp, self.zaxis, self.xaxis, self.align_spine)
        except ValueError as err:
            raise PipelineError(f"PreNormalize3D: results['keypoint'] {kp.shape}: {err}") from err
        if out is None:  # all-zero skeleton: unchanged, no body_center
            return results
        if not self.align_center:
            # PYSKL raises UnboundLocalError here (body_center is never set); say why instead.
            raise PipelineError(
                "PreNormalize3D: align_center=False is not supported (PYSKL itself fails "
                "on it: body_center is only defined when centring)"
            )
        results["keypoint"], results["body_center"] = out
        results["total_frames"] = out[0].shape[1]
        return results


@TRANSFORMS.register()
class PreNormalize2D(Transform):
    """Map 2D keypoints to about [-1, 1] and pack the detection score as channel 2 (PYSKL).

    'fix' uses ``results['img_shape']`` (else ``img_shape``); 'auto' the box of confident joints.
    Joints with score <= ``threshold`` get x = y = 0.

    Required keys: keypoint ``[M, T, V, 2]`` (or ``[..., 3]`` with the score packed),
    keypoint_score ``[M, T, V]`` (optional), img_shape (optional).
    Modified keys: keypoint (float32 ``[M, T, V, 3]`` = x, y, score); keypoint_score removed.
    """

    def __init__(
        self, img_shape: Sequence[int] = (1080, 1920), threshold: float = 0.01, mode: str = "fix"
    ) -> None:
        if mode not in ("fix", "auto"):
            raise ValueError(f"PreNormalize2D: mode must be 'fix' or 'auto', got {mode!r}")
        self.img_shape = img_shape
        self.threshold = threshold
        self.mode = mode

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4, last_dim=(2, 3))
        score = None
        if "keypoint_score" in results:
            score = require_array(self, results, "keypoint_score", ndim=3)
            if kp.shape[-1] != 2 or score.shape != kp.shape[:3]:
                raise PipelineError(
                    f"PreNormalize2D: keypoint {kp.shape} with keypoint_score {score.shape}: "
                    "expects 2D keypoints [M, T, V, 2] and scores [M, T, V]"
                )
        elif kp.shape[-1] == 3 and kp.size and (np.nanmin(kp[..., 2]) < 0 or np.nanmax(kp[..., 2]) > 1.5):
            raise PipelineError(
                "PreNormalize2D: results['keypoint'] channel 2 is not a detection score "
                f"(values outside [0, 1.5]); a 3D skeleton? shape {kp.shape}; use PreNormalize3D"
            )
        img_shape = results.get("img_shape", self.img_shape)
        if self.mode == "fix" and (not isinstance(img_shape, (tuple, list)) or len(img_shape) != 2):
            raise PipelineError(f"PreNormalize2D: img_shape must be (h, w), got {img_shape!r}")
        results.pop("keypoint_score", None)
        results["keypoint"] = pre_normalize_2d(kp, score, img_shape, self.threshold, self.mode)
        return results


@TRANSFORMS.register()
class JointToBone(Transform):
    """Bones ``joint[v1] - joint[v2]`` over the layout's pairs (float32, as PYSKL allocates them).

    For 2D layouts with C == 3 the score channel is the mean score of the two joints.

    Required keys: keypoint ``[M, T, V, 2 or 3]``.
    Added/modified keys: ``target`` (default keypoint).
    """

    def __init__(self, dataset: str = "nturgb+d", target: str = "keypoint") -> None:
        _check_dataset("JointToBone", dataset)
        self.dataset = dataset
        self.target = target
        self._pairs = get_layout(dataset).bone_pairs

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4, last_dim=(2, 3))
        needed = max(max(p) for p in self._pairs) + 1
        if kp.shape[2] < needed:
            raise PipelineError(
                f"JointToBone: layout {self.dataset!r} needs {needed} joints, "
                f"results['keypoint'] has shape {kp.shape}"
            )
        score = kp.shape[-1] == 3 and self.dataset in _BONE_SCORE_LAYOUTS
        results[self.target] = joint_to_bone(kp, self._pairs, score)
        return results


@TRANSFORMS.register()
class ToMotion(Transform):
    """Temporal difference of ``source`` (last frame 0); openpose/coco with C == 3 average the score.

    Required keys: ``source`` ``[M, T, V, 2 or 3]``.
    Added keys: ``target``.
    """

    def __init__(self, dataset: str = "nturgb+d", source: str = "keypoint", target: str = "motion") -> None:
        _check_dataset("ToMotion", dataset)
        self.dataset = dataset
        self.source = source
        self.target = target

    def __call__(self, results: dict) -> dict:
        data = require_array(self, results, self.source, ndim=4, last_dim=(2, 3))
        score = data.shape[-1] == 3 and self.dataset in MOTION_SCORE_LAYOUTS
        results[self.target] = to_motion(data, score)
        return results


@TRANSFORMS.register()
class MergeSkeFeat(Transform):
    """Pop the features in ``feat_list`` and concatenate them (in that order) along ``axis``.

    Required keys: every name in feat_list.
    Added keys: ``target``; the feat_list keys are removed.
    """

    def __init__(
        self, feat_list: Sequence[str] = ["keypoint"], target: str = "keypoint", axis: int = -1
    ) -> None:
        self.feat_list = feat_list
        self.target = target
        self.axis = axis

    def __call__(self, results: dict) -> dict:
        for name in self.feat_list:
            require(self, results, name)
        feats = [results.pop(name) for name in self.feat_list]
        try:
            merged = feats[0] if len(feats) == 1 else np.concatenate(feats, axis=self.axis)
        except ValueError as err:
            shapes = ", ".join(f"{n}: {getattr(f, 'shape', None)}" for n, f in zip(self.feat_list, feats))
            raise PipelineError(f"MergeSkeFeat: cannot concatenate {shapes} along axis {self.axis}") from err
        results[self.target] = merged
        return results


@TRANSFORMS.register()
class Rename(Transform):
    """Rename results keys by ``mapping`` (old -> new); absent keys are skipped.

    Modified keys: the mapped ones. Renaming onto an existing key is an error.
    """

    def __init__(self, mapping: dict) -> None:
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise ValueError(f"Rename: mapping must be a dict of str -> str, got {mapping!r}")
        self.mapping = mapping

    def __call__(self, results: dict) -> dict:
        for old, new in self.mapping.items():
            if old in results:
                if new in results:
                    raise PipelineError(f"Rename: cannot rename {old!r} to {new!r}: {new!r} already exists")
                results[new] = results.pop(old)
        return results


@TRANSFORMS.register()
class GenSkeFeat(Transform):
    """Joint (j), bone (b) and motion (jm, bm) features concatenated in ``feats`` order (PYSKL).

    ProtoGCN's K-Bone (k, ``JointToKB``) and its motion (km) are accepted too, for the layouts
    ``JointToKB`` knows.

    With keypoint_score present (2D layouts only) it is first appended to keypoint as channel 2.
    Like PYSKL, intermediate features not listed in ``feats`` stay in results (e.g. ``j`` for
    feats=['jm'], ``b`` and ``j`` for ['bm']).

    Required keys: keypoint ``[M, T, V, C]``, keypoint_score (optional).
    Added keys: j, b, k (when not consumed). Modified keys: keypoint; keypoint_score removed.
    """

    _FEATS = ("j", "b", "k", "jm", "bm", "km")

    def __init__(self, dataset: str = "nturgb+d", feats: Sequence[str] = ["j"], axis: int = -1) -> None:
        _check_dataset("GenSkeFeat", dataset)
        bad = [f for f in feats if f not in self._FEATS]
        if bad or not feats:
            raise ValueError(f"GenSkeFeat: feats must be a non-empty list of {self._FEATS}, got {feats!r}")
        self.dataset = dataset
        self.feats = feats
        self.axis = axis
        self._bone = JointToBone(dataset, target="b")
        self._kbone = JointToKB(dataset, target="k") if "k" in feats or "km" in feats else None
        self._merge = MergeSkeFeat(feats, axis=axis)

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4, last_dim=(2, 3))
        if "keypoint_score" in results:
            if self.dataset == "nturgb+d":
                raise PipelineError(
                    "GenSkeFeat: keypoint_score given with dataset='nturgb+d' (3D skeletons "
                    "carry no score); use a 2D layout"
                )
            score = require_array(self, results, "keypoint_score", ndim=3)
            if kp.shape[-1] != 2 or score.shape != kp.shape[:3]:
                raise PipelineError(
                    f"GenSkeFeat: keypoint {kp.shape} with keypoint_score {score.shape}: only 2D "
                    "keypoints [M, T, V, 2] have a score [M, T, V]"
                )
            del results["keypoint"], results["keypoint_score"]
            results["keypoint"] = np.concatenate([kp, score[..., None]], axis=-1)
        feats = self.feats
        if "b" in feats or "bm" in feats:
            self._bone(results)
        if self._kbone is not None:
            self._kbone(results)
        if "j" in results:
            raise PipelineError("GenSkeFeat: results already has a 'j' key")
        results["j"] = results.pop("keypoint")
        score = results["j"].shape[-1] == 3 and self.dataset in MOTION_SCORE_LAYOUTS
        if "jm" in feats:
            results["jm"] = to_motion(results["j"], score)
        if "bm" in feats:
            results["bm"] = to_motion(results["b"], score)
        if "km" in feats:
            results["km"] = to_motion(results["k"], score)
        return self._merge(results)
