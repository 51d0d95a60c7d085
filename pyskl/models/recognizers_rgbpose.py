"""RGBPoseConv3D's two-stream recognizer and head: PYSKL's ``MMRecognizer3D`` and ``RGBPoseHead``.

Paper: "Revisiting Skeleton-based Action Recognition" (PoseConv3D), arXiv:2104.13586, RGBPose-Conv3D.
Each stream has its own classifier and its own loss in training (``rgb_loss_cls``, ``pose_loss_cls``);
at test time the clip-averaged scores of the two streams are fused late, ``RGBPose_1:1`` = rgb + pose
(PYSKL also reports 2:1 and 1:2). State_dict keys are PYSKL's (``cls_head.fc_rgb.*``, ``cls_head.fc_pose.*``).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..registry import MODELS
from .heads import BaseHead
from .recognizers import BaseRecognizer, average_clip

__all__ = ["MMRecognizer3D", "RGBPoseHead", "STREAM_CHOICES", "fuse_streams"]

#: what ``MMRecognizer3D.predict`` returns, by ``test_cfg['stream']``: (rgb weight, pose weight)
STREAM_CHOICES = {"RGBPose_1:1": (1, 1), "RGBPose_2:1": (2, 1), "RGBPose_1:2": (1, 2), "rgb": (1, 0),
                  "pose": (0, 1)}


def fuse_streams(rgb: torch.Tensor, pose: torch.Tensor, stream: str = "RGBPose_1:1") -> torch.Tensor:
    """PYSKL's late fusion of clip-averaged stream scores: ``w_rgb * rgb + w_pose * pose``."""
    if stream not in STREAM_CHOICES:
        raise ValueError(f"stream must be one of {', '.join(STREAM_CHOICES)}, got {stream!r}")
    w_rgb, w_pose = STREAM_CHOICES[stream]
    return w_rgb * rgb + w_pose * pose


@MODELS.register()
class RGBPoseHead(BaseHead):
    """Global average pool, dropout and a linear classifier per stream.

    Args:
        num_classes: K.
        in_channels: ``(rgb_channels, pose_channels)``, e.g. ``[2048, 512]``.
        loss_cls: loss cfg shared by both streams.
        loss_components: streams that contribute a loss (``'rgb'``, ``'pose'``).
        loss_weights: one weight, or one per component.
        dropout: one ratio, or ``{'rgb': p, 'pose': p}``.
        init_std: std of the classifiers' normal init.

    Shape:
        ``(x_rgb [N, C_rgb, T, H, W], x_pose [N, C_pose, T', H', W']) -> {'rgb': [N, K], 'pose': [N, K]}``.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int], loss_cls: dict | None = None,
                 loss_components: Sequence[str] = ("rgb", "pose"),
                 loss_weights: float | Sequence[float] = 1.0, dropout: float | dict = 0.5,
                 init_std: float = 0.01, **kwargs: Any) -> None:
        if len(in_channels) != 2:
            raise ValueError(f"RGBPoseHead: in_channels must be (rgb, pose) channels, got {in_channels!r}")
        super().__init__(num_classes, in_channels[0], loss_cls, dropout=0.0, init_std=init_std, **kwargs)
        del self.fc_cls  # two classifiers instead (PYSKL's state_dict has no fc_cls)
        self.in_channels = list(in_channels)
        self.loss_components = list(loss_components)
        if any(c not in ("rgb", "pose") for c in self.loss_components):
            raise ValueError(f"RGBPoseHead: loss_components must be 'rgb'/'pose', got {loss_components!r}")
        if isinstance(loss_weights, (int, float)):
            loss_weights = [float(loss_weights)] * len(self.loss_components)
        if len(loss_weights) != len(self.loss_components):
            raise ValueError(f"RGBPoseHead: {len(loss_weights)} loss_weights for {len(self.loss_components)} "
                             "loss_components")
        self.loss_weights = list(loss_weights)
        if isinstance(dropout, (int, float)):
            dropout = {"rgb": dropout, "pose": dropout}
        self.dropout_ratio = dict(dropout)
        self.dropout_rgb = nn.Dropout(p=self.dropout_ratio["rgb"])
        self.dropout_pose = nn.Dropout(p=self.dropout_ratio["pose"])
        self.fc_rgb = nn.Linear(in_channels[0], num_classes)
        self.fc_pose = nn.Linear(in_channels[1], num_classes)

    def init_weights(self) -> None:
        for fc in (self.fc_rgb, self.fc_pose):
            nn.init.normal_(fc.weight, 0, self.init_std)
            nn.init.constant_(fc.bias, 0)

    def forward(self, x: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        x_rgb, x_pose = x
        x_rgb = x_rgb.flatten(2).mean(-1)  # N, C_rgb: average over T, H, W
        x_pose = x_pose.flatten(2).mean(-1)  # N, C_pose
        return {"rgb": self.fc_rgb(self.dropout_rgb(x_rgb)), "pose": self.fc_pose(self.dropout_pose(x_pose))}

    def stream_losses(self, scores: dict[str, torch.Tensor], label: torch.Tensor) -> dict[str, torch.Tensor]:
        """PYSKL's per-stream loss dicts, prefixed by the stream; each ``*_loss_cls`` times its weight."""
        losses: dict[str, torch.Tensor] = {}
        for name, weight in zip(self.loss_components, self.loss_weights):
            part = self.loss(scores[name], label)
            part["loss_cls"] = part["loss_cls"] * weight
            losses.update({f"{name}_{key}": value for key, value in part.items()})
        return losses


@MODELS.register()
class MMRecognizer3D(BaseRecognizer):
    """Two-stream (RGB + pose heatmap) recognizer; input ``(imgs, heatmap_imgs)``.

    ``imgs [N, clips, 3, T, H, W]`` and ``heatmap_imgs [N, clips, K_joints, T', H', W']`` (the clips
    axis may be left out). ``model(x)`` returns per-clip logits of both streams stacked on a stream
    axis, ``[N, clips, 2, K]`` (rgb, pose); ``loss`` gives each stream's loss; ``predict`` averages
    clips per stream (``test_cfg.average_clips``) and fuses them by ``test_cfg.stream``
    (default ``'RGBPose_1:1'``, see ``STREAM_CHOICES``).

    Args:
        backbone: ``RGBPoseConv3D`` cfg.
        cls_head: ``RGBPoseHead`` cfg.
        train_cfg: accepted for PYSKL compatibility.
        test_cfg: ``average_clips``, ``stream``, ``max_testing_views`` (clips per backbone pass).
    """

    input_ndim = 4  # C, T, H, W per stream

    def __init__(self, backbone: Any, cls_head: Any = None, train_cfg: dict | None = None,
                 test_cfg: dict | None = None) -> None:
        super().__init__(backbone, cls_head, train_cfg, test_cfg)
        fuse_streams(torch.zeros(1), torch.zeros(1), self.test_cfg.setdefault("stream", "RGBPose_1:1"))

    def extract_feat(self, imgs: torch.Tensor,
                     heatmap_imgs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone features of clips ``[N*clips, ...]`` of both streams."""
        return self.backbone(imgs, heatmap_imgs)

    def _logits(self, imgs: torch.Tensor, heatmap_imgs: torch.Tensor) -> torch.Tensor:
        scores = self.cls_head(self.extract_feat(imgs, heatmap_imgs))
        return torch.stack([scores["rgb"], scores["pose"]], dim=1)  # N*clips, 2, K

    def forward(self, x: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Per-clip logits ``[N, clips, 2, K]`` (``[N, 2, K]`` for inputs without a clips axis)."""
        if self.cls_head is None:
            raise RuntimeError("MMRecognizer3D has no cls_head; use extract_feat()")
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise TypeError("MMRecognizer3D takes (imgs, heatmap_imgs); end the pipeline with "
                            "Collect(keys=['imgs', 'heatmap_imgs', 'label'])")
        imgs, n, nc = self._split_clips(x[0])
        heatmap_imgs, n_pose, nc_pose = self._split_clips(x[1])
        if (n, nc) != (n_pose, nc_pose):
            raise ValueError(f"imgs {tuple(x[0].shape)} and heatmap_imgs {tuple(x[1].shape)} differ in "
                             "samples or clips")
        views = self.test_cfg.get("max_testing_views")
        if self.training or not views or imgs.shape[0] <= views:
            logits = self._logits(imgs, heatmap_imgs)
        else:
            pairs = zip(imgs.split(views), heatmap_imgs.split(views))
            logits = torch.cat([self._logits(a, b) for a, b in pairs])
        return logits if nc is None else logits.reshape(n, nc, 2, logits.shape[-1])

    @torch.no_grad()
    def predict_streams(self, x: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Clip-averaged ``rgb`` and ``pose`` scores ``[N, K]`` and their three PYSKL fusions."""
        logits = self(x)
        if logits.dim() == 3:
            logits = logits[:, None]
        mode = self.test_cfg.get("average_clips", "prob")
        if mode is None:
            raise ValueError("MMRecognizer3D fuses clip-averaged scores; average_clips must be 'prob' or "
                             "'score'")
        rgb, pose = average_clip(logits[:, :, 0], mode), average_clip(logits[:, :, 1], mode)
        return {name: fuse_streams(rgb, pose, name) for name in STREAM_CHOICES}

    @torch.no_grad()
    def predict(self, x: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Scores ``[N, K]`` of ``test_cfg.stream`` (default the late fusion ``RGBPose_1:1``)."""
        return self.predict_streams(x)[self.test_cfg["stream"]]

    def loss(self, logits: torch.Tensor, label: torch.Tensor, **kwargs: Any) -> dict[str, torch.Tensor]:
        """``rgb_loss_cls``, ``pose_loss_cls`` (weighted) and each stream's ``top{k}_acc``."""
        if self.cls_head is None:
            raise RuntimeError("MMRecognizer3D has no cls_head to compute a loss")
        logits = logits.reshape(-1, 2, logits.shape[-1])
        label = label.reshape(-1)
        if label.numel() != logits.shape[0] and logits.shape[0] % label.numel() == 0:
            label = label.repeat_interleave(logits.shape[0] // label.numel())  # several clips per sample
        return self.cls_head.stream_losses({"rgb": logits[:, 0], "pose": logits[:, 1]}, label)
