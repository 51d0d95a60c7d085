"""ProtoGCN's class-specific contrastive loss (Liu et al., CVPR 2025, arXiv:2411.18941).

A sample's reconstructed graph (the backbone's PRN output) is embedded by ``cl_fc``; each class keeps a
memory of the embeddings of its correctly classified samples (an exponential moving average, momentum 0.9,
updated only for classes with true positives in the batch); the loss is the cross entropy of the cosine
similarities between the sample and every class memory, at temperature 0.125.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ClassSpecificContrastiveLoss"]

EMBED_DIM = 256
MOMENTUM = 0.9
TEMPERATURE = 0.125


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, with ProtoGCN's ``+ 1e-12`` in the denominator."""
    return x / (x.norm(dim=1, keepdim=True) + 1e-12)


class ClassSpecificContrastiveLoss(nn.Module):
    """Contrast each sample's reconstructed-graph embedding against per-class memories.

    Args:
        num_classes: K.
        in_features: size of the reconstructed graph (V*V).

    The class memories ``avg_f`` [256, K] are drawn from torch's global RNG at construction, as the official
    code does, and are not part of the state_dict (official checkpoints do not carry them); they are a
    non-persistent buffer so that they move with the module between devices.

    Shape:
        graph: [B, in_features], label: [B], cls_score: [B, K] -> scalar
    """

    def __init__(self, num_classes: int, in_features: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("avg_f", torch.randn(EMBED_DIM, num_classes), persistent=False)
        self.cl_fc = nn.Linear(in_features, EMBED_DIM)
        self.loss = nn.CrossEntropyLoss(reduction="none")

    def forward(self, graph: torch.Tensor, label: torch.Tensor, cls_score: torch.Tensor) -> torch.Tensor:
        f = self.cl_fc(graph)  # B, 256
        cls_score = cls_score.detach()
        true_positive = (F.one_hot(label, self.num_classes) * F.one_hot(cls_score.argmax(1), self.num_classes)
                         * (cls_score.softmax(1) > 0)).to(f.dtype)  # B, K
        count = true_positive.sum(0)  # K
        class_mean = f.T @ true_positive / (count + 1e-12)  # 256, K
        keep = torch.where(count > 1e-8, MOMENTUM, 1.0).to(f.dtype)
        memory = self.avg_f * keep + (1 - keep) * class_mean  # gradient reaches cl_fc via class_mean
        self.avg_f = memory.detach()
        score = _unit_rows(f) @ _unit_rows(memory.T).T / TEMPERATURE  # B, K
        return self.loss(score, label).mean()
