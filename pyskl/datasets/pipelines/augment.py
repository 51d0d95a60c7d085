"""Random skeleton augmentations: RandomRot, RandomScale, RandomGaussianNoise (global np.random)."""

from __future__ import annotations

from collections.abc import Sequence

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require_array
from .functional import random_gaussian_noise, random_rot, random_scale

__all__ = ["RandomGaussianNoise", "RandomRot", "RandomScale"]


@TRANSFORMS.register()
class RandomRot(Transform):
    """Rotate the skeleton by random angles; an all-zero skeleton is left alone (no draw).

    3D: angles ``uniform(-theta, theta, size=3)``, ``R = R_z R_y R_x``. 2D: one angle drawn as
    PYSKL does, ``uniform(-theta)`` = U(-theta, 1.0) (PYSKL's bug, kept so seeded runs match).

    Required keys: keypoint ``[M, T, V, 2 or 3]``.
    Modified keys: keypoint (float64).
    """

    def __init__(self, theta: float = 0.3) -> None:
        self.theta = theta

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4, last_dim=(2, 3))
        out = random_rot(kp, self.theta)
        if out is not None:
            results["keypoint"] = out
        return results


@TRANSFORMS.register()
class RandomScale(Transform):
    """Scale each coordinate channel by ``1 + uniform(-1, 1) * scale[c]`` (one draw of size C).

    ``scale`` is a float (same for every channel) or one value per channel (tuple; a list is
    accepted too since JSON configs have no tuples).

    Required keys: keypoint ``[M, T, V, C]``.
    Modified keys: keypoint (float64).
    """

    def __init__(self, scale: float | Sequence[float] = 0.2) -> None:
        if not isinstance(scale, (int, float, tuple, list)) or isinstance(scale, bool):
            raise ValueError(f"RandomScale: scale must be a float or a tuple of floats, got {scale!r}")
        self.scale = scale

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4)
        channels = kp.shape[-1]
        scale = (self.scale,) * channels if isinstance(self.scale, (int, float)) else tuple(self.scale)
        if len(scale) != channels:
            raise PipelineError(
                f"RandomScale: {len(scale)} scale values for keypoint with {channels} channels "
                f"(shape {kp.shape})"
            )
        results["keypoint"] = random_scale(kp, scale)
        return results


@TRANSFORMS.register()
class RandomGaussianNoise(Transform):
    """Jitter every joint by a random direction x N(0, sigma) x the frame's (or video's) box size.

    Required keys: keypoint ``[M, T, V, C]``.
    Modified keys: keypoint.
    """

    def __init__(self, sigma: float = 0.01, base: str = "frame", shared: bool = False) -> None:
        if base not in ("frame", "video"):
            raise ValueError(f"RandomGaussianNoise: base must be 'frame' or 'video', got {base!r}")
        if base == "frame" and shared:
            raise ValueError("RandomGaussianNoise: shared=True needs base='video'")
        self.sigma = sigma
        self.base = base
        self.shared = shared

    def __call__(self, results: dict) -> dict:
        kp = require_array(self, results, "keypoint", ndim=4)
        try:
            results["keypoint"] = random_gaussian_noise(kp, self.sigma, self.base, self.shared)
        except ValueError as err:
            raise PipelineError(f"RandomGaussianNoise: results['keypoint'] {kp.shape}: {err}") from err
        return results
