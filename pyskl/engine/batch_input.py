"""Turn a collated batch into the model's input, rendering PoseC3D heatmaps on the device if asked.

A config opts into in-step heatmaps with a top-level ``device_heatmap = dict(...)`` holding
``GeneratePoseTarget``'s arguments, and a pipeline that ends with ``PoseToHeatmapInput`` and
``Collect(keys=['keypoint', 'keypoint_score', 'heatmap_shape', 'num_clips', 'label'])``: the loader
then ships small keypoint arrays and the heatmap volumes are made where the model runs.
"""
from __future__ import annotations

from typing import Any

import torch

from ..config import ConfigError


def build_heatmap_renderer(args: dict | None) -> Any:
    """``BatchGeneratePoseTarget`` from the config's ``device_heatmap`` arguments (None: no renderer)."""
    if args is None:
        return None
    from ..datasets.pipelines.heatmap_torch import BatchGeneratePoseTarget

    return BatchGeneratePoseTarget.from_config(args)


def batch_input(batch: Any, device: torch.device, renderer: Any = None) -> Any:
    """The model input ``[N, clips, ...]`` on ``device`` from a collated batch.

    A two-stream (RGBPoseConv3D) batch, with both ``imgs`` and ``heatmap_imgs``, gives the pair.
    """
    if not isinstance(batch, dict):
        return batch[0].to(device, non_blocking=True)
    if "heatmap_shape" in batch:
        return _render(batch, device, renderer)
    if "imgs" in batch and "heatmap_imgs" in batch:
        return tuple(batch[key].to(device, non_blocking=True) for key in ("imgs", "heatmap_imgs"))
    if "keypoint" not in batch and "imgs" not in batch:
        raise RuntimeError("a batch must be a dict with 'keypoint' (or 'imgs') and 'label' "
                           "(end the pipeline with Collect(keys=['keypoint', 'label']) and ToTensor)")
    x = batch["keypoint"] if "keypoint" in batch else batch["imgs"]
    if x.dim() == 5 and "keypoint" in batch:  # [N, M, T, V, C] without a clips axis
        x = x[:, None]
    return x.to(device, non_blocking=True)


def _render(batch: dict, device: torch.device, renderer: Any) -> torch.Tensor:
    if renderer is None:
        raise ConfigError("the pipeline ends with PoseToHeatmapInput but the config has no "
                          "'device_heatmap' (GeneratePoseTarget arguments for rendering in the step)")
    shapes = torch.as_tensor(batch["heatmap_shape"]).reshape(-1, 2)
    if not bool((shapes == shapes[0]).all()):
        raise ValueError(f"heatmap_shape differs inside one batch ({shapes.unique(dim=0).tolist()}); "
                         "resize every sample to one size before PoseToHeatmapInput")
    clips = torch.as_tensor(batch.get("num_clips", 1)).reshape(-1)
    if not bool((clips == clips[0]).all()):
        raise ValueError(f"num_clips differs inside one batch: {clips.unique().tolist()}")
    kps = torch.as_tensor(batch["keypoint"]).to(device, non_blocking=True)
    scores = batch.get("keypoint_score")
    scores = None if scores is None else torch.as_tensor(scores).to(device, non_blocking=True)
    return renderer(kps, scores, shapes[0].tolist(), int(clips[0]))
