"""Recognizers: backbone + head, PYSKL's test layout, clip averaging and the training loss.

API (DESIGN.md): ``model(x)`` -> per-clip logits; ``model.predict(x)`` -> clip-averaged scores
[N, K] following ``test_cfg['average_clips']``; ``model.loss(logits, label)`` -> PYSKL's loss dict
(``top1_acc``, ``top5_acc``, ``loss_cls``). Child names ``backbone`` / ``cls_head`` give PYSKL's
state_dict keys.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS
from .gcns.blocks import memory_format

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


def _padding_sources(x: torch.Tensor) -> torch.Tensor | None:
    """For persons [N, M, ...] flattened to N*M: each all-zero person's stand-in (the first all-zero
    person of its slot), every other person itself; None when no person is all zero."""
    padding = (x == 0).flatten(2).all(-1)  # N, M
    if not padding.any():
        return None
    n, m = padding.shape
    index = torch.arange(n * m, device=x.device).view(n, m)
    first = torch.where(padding, index, n * m).amin(0)  # [M]: first padded person of each slot
    return torch.where(padding, first.expand(n, m), index).flatten()


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
        kwargs = {**getattr(self, "_loss_inputs", {}), **kwargs}
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
    #: person-frames (clips x M x T) per backbone pass in CPU inference; None: the whole batch at once.
    #: Larger batches spill the caches: on 2 Zen 4 cores, 4 clips of 2 x 100 frames per pass ran
    #: ST-GCN++ 20% and MS-G3D 30% faster than all 16 clips of a batch in one pass.
    cpu_inference_frames: int | None = 800

    def extract_feat(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features of clips [N*clips, M, T, V, C].

        Inference (eval, no autograd) takes two shortcuts that leave the features unchanged up to
        float rounding, for backbones that split into ``normalize_input`` (the data BN, the only
        layer that mixes a clip's persons) and ``forward_persons`` (every later layer, per person):

        * all-zero persons (FormatGCNInput's padding of one-person samples) in the same person slot
          share one pass: after the data BN they are the same input, so a padded sample costs half;
        * on the CPU the persons go through the blocks a few at a time (``cpu_inference_frames``).
        """
        if (self.training or torch.is_grad_enabled() or x.dim() != 5 or torch.jit.is_tracing()
                or torch.jit.is_scripting() or torch.compiler.is_compiling()):
            return self.backbone(x)
        if not (hasattr(self.backbone, "normalize_input") and hasattr(self.backbone, "forward_persons")):
            return self._in_passes(self.backbone, x, x.shape[1] * x.shape[2])
        n, m, t = x.shape[:3]
        persons = self.backbone.normalize_input(x)  # [N*M, C, T, V]
        source = _padding_sources(x)
        if source is None:
            feats = self._in_passes(self.backbone.forward_persons, persons, t)
        else:
            kept = torch.unique(source)  # sorted
            feats = self._in_passes(self.backbone.forward_persons,
                                    persons[kept].contiguous(memory_format=memory_format(persons)), t)
            feats = feats[torch.searchsorted(kept, source)]
        return feats.contiguous().reshape((n, m) + feats.shape[1:])

    def _in_passes(self, fn: Any, x: torch.Tensor, frames_per_item: int) -> torch.Tensor:
        """``fn(x)``; on the CPU in passes of ``cpu_inference_frames`` frames along dim 0."""
        if x.device.type != "cpu" or not self.cpu_inference_frames:
            return fn(x)
        per_pass = max(1, self.cpu_inference_frames // frames_per_item)
        if x.shape[0] <= per_pass:
            return fn(x)
        parts = [fn(part) for part in x.split(per_pass)]
        if isinstance(parts[0], tuple):  # several outputs (ProtoGCN): each concatenated
            return tuple(torch.cat(outputs) for outputs in zip(*parts))
        return torch.cat(parts)

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
