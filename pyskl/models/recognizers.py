"""Recognizers: backbone + head, PYSKL's test layout, clip averaging and the training loss.

API (DESIGN.md): ``model(x)`` -> per-clip logits; ``model.predict(x)`` -> clip-averaged scores
[N, K] following ``test_cfg['average_clips']``; ``model.loss(logits, label)`` -> PYSKL's loss dict
(``top1_acc``, ``top5_acc``, ``loss_cls``). Child names ``backbone`` / ``cls_head`` give PYSKL's
state_dict keys. Inference speed-ups (batched person passes, BN folding) are not here: they are
explicit conversions in :mod:`pyskl.models.deploy`.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS

__all__ = ["BaseRecognizer", "RecognizerGCN", "Recognizer3D", "average_clip"]

_AVERAGE_CLIPS = ("prob", "score", None)


def average_clip(cls_score: torch.Tensor, average_clips: str | None = "prob") -> torch.Tensor:
    """Average per-clip logits [N, clips, K] over clips.

    ``'prob'``: softmax over classes, then mean; ``'score'``: mean of logits; None: unchanged.
    """
    if average_clips not in _AVERAGE_CLIPS:
        raise ValueError(f"average_clips must be 'prob', 'score' or None, got {average_clips!r}")
    if average_clips is None:
        return cls_score
    if average_clips == "prob":
        return F.softmax(cls_score, dim=2).mean(dim=1)
    return cls_score.mean(dim=1)


def _build(cfg: Any) -> nn.Module:
    return cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)


class BaseRecognizer(nn.Module):
    """Backbone + classification head.

    Args:
        backbone: backbone cfg dict (or module).
        cls_head: head cfg dict (or module); None for a feature extractor.
        train_cfg: accepted for PYSKL compatibility (unused keys are kept).
        test_cfg: ``average_clips`` ('prob' default, 'score', None); 3D: ``max_testing_views``.
    """

    #: number of leading per-clip dims of the backbone input (after merging N and clips)
    input_ndim: int = 0

    def __init__(self, backbone: Any, cls_head: Any = None, train_cfg: dict | None = None,
                 test_cfg: dict | None = None) -> None:
        super().__init__()
        self.backbone = _build(backbone)
        self._loss_inputs: dict[str, torch.Tensor] = {}  # extra loss inputs from the last training forward
        self.cls_head = _build(cls_head) if cls_head is not None else None
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        self.test_cfg.setdefault("average_clips", "prob")
        if self.test_cfg["average_clips"] not in _AVERAGE_CLIPS:
            raise ValueError(f"test_cfg.average_clips must be 'prob', 'score' or None, "
                             f"got {self.test_cfg['average_clips']!r}")
        self.init_weights()

    @property
    def with_cls_head(self) -> bool:
        return self.cls_head is not None

    def init_weights(self) -> None:
        for module in (self.backbone, self.cls_head):
            if module is not None and hasattr(module, "init_weights"):
                module.init_weights()

    def extract_feat(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features of clips [N*clips, ...]."""
        return self.backbone(x)

    def _split_clips(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int | None]:
        if x.dim() == self.input_ndim + 2:
            n, nc = x.shape[:2]
            return x.reshape((n * nc,) + x.shape[2:]), n, nc
        if x.dim() == self.input_ndim + 1:
            return x, x.shape[0], None
        raise ValueError(f"{type(self).__name__} expects input [N, clips, ...] with "
                         f"{self.input_ndim + 2} dims (or {self.input_ndim + 1} without clips), "
                         f"got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-clip logits: [N, clips, K] for input [N, clips, ...]; [N, K] for input without clips."""
        if self.cls_head is None:
            raise RuntimeError(f"{type(self).__name__} has no cls_head; use extract_feat()")
        flat, n, nc = self._split_clips(x)
        feat = self.extract_feat(flat)
        # ProtoGCN's backbone also returns the graph its head's training loss needs. The engine computes
        # the logits under autocast and the loss outside it, in two calls, so the graph of this forward
        # is kept for the next ``loss()`` (training only).
        self._loss_inputs = {}
        if isinstance(feat, tuple):
            feat, recon_graph = feat
            if self.training:
                self._loss_inputs = {"recon_graph": recon_graph}
        logits = self.cls_head(feat)
        return logits if nc is None else logits.reshape(n, nc, logits.shape[-1])

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Clip-averaged class scores [N, K] (``test_cfg.average_clips``; None keeps [N, clips, K])."""
        logits = self(x)
        if logits.dim() == 2:
            logits = logits[:, None]
        return average_clip(logits, self.test_cfg.get("average_clips", "prob"))

    def _flatten_for_loss(self, logits: torch.Tensor, label: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, label: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """PYSKL's training loss dict from ``model(x)`` logits and labels ([N] or [N, 1])."""
        if self.cls_head is None:
            raise RuntimeError(f"{type(self).__name__} has no cls_head to compute a loss")
        logits, label = self._flatten_for_loss(logits, label)
        kwargs = {**self._loss_inputs, **kwargs}
        self._loss_inputs = {}
        return self.cls_head.loss(logits, label, **kwargs)

    def train_step(self, x: torch.Tensor, label: torch.Tensor) -> dict[str, torch.Tensor]:
        """``loss(self(x), label)`` in one call."""
        return self.loss(self(x), label)


@MODELS.register()
class RecognizerGCN(BaseRecognizer):
    """Skeleton recognizer; input keypoints [N, clips, M, T, V, C] (PYSKL's test layout).

    Example:
        >>> model = build_model(dict(type='RecognizerGCN',
        ...     backbone=dict(type='STGCN', graph_cfg=dict(layout='coco', mode='spatial')),
        ...     cls_head=dict(type='GCNHead', num_classes=60, in_channels=256)))
        >>> model.predict(torch.randn(2, 1, 2, 16, 17, 3)).shape
        torch.Size([2, 60])
    """

    input_ndim = 4  # M, T, V, C

    def _flatten_for_loss(self, logits, label):
        if logits.dim() == 3:
            if logits.shape[1] != 1:
                raise ValueError(f"RecognizerGCN trains on one clip per sample, got logits "
                                 f"{tuple(logits.shape)}")
            logits = logits[:, 0]
        if label.dim() > 1:
            label = label.squeeze(-1)
        return logits, label


@MODELS.register()
class Recognizer3D(BaseRecognizer):
    """3D-CNN recognizer (PoseC3D); input heatmap volumes [N, clips, C, T, H, W]."""

    input_ndim = 4  # C, T, H, W

    def extract_feat(self, x: torch.Tensor) -> torch.Tensor:
        views = self.test_cfg.get("max_testing_views")
        if self.training or not views or x.shape[0] <= views:
            return self.backbone(x)
        return torch.cat([self.backbone(chunk) for chunk in x.split(views)], dim=0)

    def _flatten_for_loss(self, logits, label):
        if logits.dim() == 3:
            logits = logits.reshape(-1, logits.shape[-1])
        label = label.squeeze() if label.dim() > 1 else label
        if label.dim() == 1 and label.numel() * 1 != logits.shape[0] and logits.shape[0] % label.numel() == 0:
            label = label.repeat_interleave(logits.shape[0] // label.numel())
        return logits, label
