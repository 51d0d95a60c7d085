"""PYSKL's inference API: ``init_recognizer`` and ``inference_recognizer``.

``init_recognizer(config, checkpoint, device)`` builds the model of a PYSKL config, loads the weights and
keeps the config's test pipeline on the model; ``inference_recognizer(model, sample)`` runs one skeleton
sequence (a PYSKL annotation dict, or a bare keypoint array) through that pipeline and the model.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "build_test_pipeline",
    "inference_recognizer",
    "init_recognizer",
    "make_annotation",
    "predict_scores",
]

_CLIP_OPS = ("UniformSample", "UniformSampleFrames", "UniformSampleDecode", "MMUniformSampleFrames")


def init_recognizer(
    config: str | os.PathLike | dict,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    num_clips: int | None = None,
    fuse_bn: bool = False,
) -> nn.Module:
    """Build a recognizer from a PYSKL config (path, zoo name or dict) and load ``checkpoint`` (strict).

    ``checkpoint`` is a file, an ``http(s)://`` URL or a zoo name (``init_recognizer(name, name)`` runs
    PYSKL's released model; downloads are cached, see :mod:`pyskl.zoo`). Without one (None or ``'none'``)
    the weights stay randomly initialised (only useful to test plumbing).
    ``model.cfg`` holds the config and ``model.test_pipeline`` the composed test pipeline
    (``data.test.pipeline``, else ``test_pipeline``), with ``num_clips`` overridden when given.
    ``fuse_bn=True`` prepares the model for inference on ``device`` (``pyskl.models.deploy.prepare``:
    BatchNorms folded into their convs and the device's fast forms): same scores up to float
    rounding, faster, but the state_dict no longer matches the config's model (for inference only).
    """
    from ..checkpoint import load_checkpoint
    from ..config import load_config
    from ..engine.dist import resolve_device
    from ..models import build_model

    device = resolve_device(str(device))  # a device this torch cannot use is refused before any work
    cfg = load_config(config) if not isinstance(config, dict) else copy.deepcopy(config)
    if "model" not in cfg:
        raise KeyError(f"{config}: the config has no 'model'")
    model_cfg = copy.deepcopy(cfg["model"])
    for key in ("pretrained",):  # the backbone's ImageNet/pretrained path is never needed for inference
        if isinstance(model_cfg.get("backbone"), dict):
            model_cfg["backbone"].pop(key, None)
    model = build_model(model_cfg)
    if checkpoint is not None and str(checkpoint).lower() != "none":
        load_checkpoint(model, checkpoint, map_location="cpu")
    model.cfg = cfg
    model.test_pipeline = build_test_pipeline(cfg, num_clips)
    model = model.to(device).eval()
    if fuse_bn:
        from ..models.deploy import prepare

        model = prepare(model, device, "eval")
    return model


def build_test_pipeline(cfg: dict, num_clips: int | None = None) -> Any:
    """``Compose`` of the config's test pipeline; ``num_clips`` replaces the sampling ops' clip count."""
    from ..datasets.pipelines import Compose

    steps = ((cfg.get("data") or {}).get("test") or {}).get("pipeline") or cfg.get("test_pipeline")
    if not steps:
        raise KeyError("the config has neither data.test.pipeline nor test_pipeline")
    steps = copy.deepcopy(list(steps))
    if num_clips is not None:
        for step in steps:
            if isinstance(step, dict) and step.get("type") in _CLIP_OPS:
                step["num_clips"] = int(num_clips)
    return Compose(steps)


def make_annotation(
    keypoint: np.ndarray,
    keypoint_score: np.ndarray | None = None,
    img_shape: Sequence[int] | None = None,
    label: int = -1,
) -> dict:
    """A PYSKL annotation dict around a bare ``keypoint [M, T, V, C]`` (or ``[T, V, C]``) array.

    ``img_shape`` defaults to the keypoints' extent (2D pixels) rounded up, at least 1 x 1.
    """
    kp = np.asarray(keypoint, dtype=np.float32)
    if kp.ndim == 3:
        kp = kp[None]
        keypoint_score = None if keypoint_score is None else np.asarray(keypoint_score)[None]
    if kp.ndim != 4:
        raise ValueError(f"keypoint must be [M, T, V, C] or [T, V, C], got shape {np.shape(keypoint)}")
    if img_shape is None:
        extent = np.nanmax(kp[..., :2].reshape(-1, 2), axis=0) if kp.size else np.zeros(2)
        img_shape = (max(1, int(np.ceil(extent[1])) + 1), max(1, int(np.ceil(extent[0])) + 1))
    ann = {
        "frame_dir": "inference",
        "label": int(label),
        "total_frames": int(kp.shape[1]),
        "start_index": 0,
        "modality": "Pose",
        "keypoint": kp,
        "img_shape": tuple(int(v) for v in img_shape),
        "original_shape": tuple(int(v) for v in img_shape),
    }
    if keypoint_score is not None:
        score = np.asarray(keypoint_score, dtype=np.float32)
        if score.shape != kp.shape[:3]:
            raise ValueError(f"keypoint_score has shape {score.shape}; expected {kp.shape[:3]}")
        ann["keypoint_score"] = score
    return ann


def _model_input(model: nn.Module, sample: dict) -> torch.Tensor:
    # What a test-mode PoseDataset sets: samplers then draw from a fixed seed, so the same input
    # always gets the same scores (PYSKL's demo leaves it unset and samples at random).
    results = model.test_pipeline(dict(sample, test_mode=sample.get("test_mode", True)))
    for key in ("keypoint", "imgs"):
        if key in results:
            return torch.as_tensor(results[key])
    raise KeyError(f"the test pipeline produced neither 'keypoint' nor 'imgs' (keys: {sorted(results)})")


@torch.no_grad()
def predict_scores(model: nn.Module, samples: Sequence[dict]) -> np.ndarray:
    """Class scores ``[len(samples), K]`` (clip-averaged as ``model.predict``) for annotation dicts."""
    if not hasattr(model, "test_pipeline"):
        raise AttributeError("the model has no test_pipeline; build it with init_recognizer()")
    device = next(model.parameters()).device
    batch = torch.stack([_model_input(model, s) for s in samples]).to(device)
    return model.predict(batch).float().cpu().numpy()


def inference_recognizer(
    model: nn.Module,
    annotation_or_keypoints: dict | np.ndarray,
    topk: int = 5,
    return_scores: bool = False,
    **annotation_kwargs: Any,
) -> list[tuple[int, float]] | np.ndarray:
    """Recognise one skeleton sequence.

    Args:
        model: from :func:`init_recognizer`.
        annotation_or_keypoints: a PYSKL annotation dict (``keypoint``, ``total_frames``, ``img_shape``,
            optional ``keypoint_score``) or a keypoint array ``[M, T, V, C]`` / ``[T, V, C]``.
        topk: how many (class, score) pairs to return, best first (PYSKL returns the top 5).
        return_scores: return the full score vector ``[K]`` instead.
        **annotation_kwargs: ``keypoint_score``, ``img_shape`` for a bare array (see :func:`make_annotation`).
    """
    if isinstance(annotation_or_keypoints, dict):
        sample = dict(annotation_or_keypoints)
        sample.setdefault("label", -1)
        sample.setdefault("start_index", 0)
        sample.setdefault("modality", "Pose")
        if "total_frames" not in sample:
            sample["total_frames"] = int(np.shape(sample["keypoint"])[1])
    else:
        sample = make_annotation(annotation_or_keypoints, **annotation_kwargs)
    scores = predict_scores(model, [sample])[0]
    if return_scores:
        return scores
    order = np.argsort(-scores)[:topk]
    return [(int(i), float(scores[i])) for i in order]
