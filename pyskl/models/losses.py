"""Classification losses registered under PYSKL's names (``loss_cls=dict(type=...)`` in heads)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS

__all__ = ["CrossEntropyLoss", "BCELossWithLogits"]


@MODELS.register()
class CrossEntropyLoss(nn.Module):
    """Cross entropy on hard labels [N] or soft labels [N, K] (same shape as the scores).

    Args:
        loss_weight: factor on the loss.
        class_weight: optional per-class weights.
    """

    def __init__(self, loss_weight: float = 1.0, class_weight: Sequence[float] | None = None) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.class_weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32)

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, **kwargs) -> torch.Tensor:
        weight = None if self.class_weight is None else self.class_weight.to(cls_score.device)
        if cls_score.shape == label.shape:  # soft labels
            log_prob = F.log_softmax(cls_score, 1)
            if weight is not None:
                log_prob = log_prob * weight[None]
            loss = -(label * log_prob).sum(1)
            if weight is not None:
                loss = loss.sum() / (weight[None] * label).sum()
            else:
                loss = loss.mean()
        else:
            loss = F.cross_entropy(cls_score, label, weight=weight, **kwargs)
        return loss * self.loss_weight


@MODELS.register()
class BCELossWithLogits(nn.Module):
    """Binary cross entropy with logits (multi-label heads)."""

    def __init__(self, loss_weight: float = 1.0, class_weight: Sequence[float] | None = None) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.class_weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32)

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, **kwargs) -> torch.Tensor:
        weight = None if self.class_weight is None else self.class_weight.to(cls_score.device)
        loss = F.binary_cross_entropy_with_logits(cls_score, label.to(cls_score.dtype), weight=weight,
                                                  **kwargs)
        return loss * self.loss_weight
