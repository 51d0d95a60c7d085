"""The module that gets exported: a recognizer's test forward without Python-side branching.

``ExportWrapper(model)(x)`` with ``x`` in PYSKL's test layout (GCN ``[N, clips, M, T, V, C]``, 3D
``[N, clips, C, T, H, W]``) gives clip-averaged class scores ``[N, K]`` (``average='prob'``, as
``model.predict``), mean logits (``'score'``) or per-clip logits ``[N, clips, K]`` (None). It calls the
backbone on all clips at once (no ``max_testing_views`` chunking, which would freeze the clip count).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AVERAGES", "ExportWrapper"]

AVERAGES = ("prob", "score", None)


class ExportWrapper(nn.Module):
    """Recognizer test forward as one traceable graph.

    Args:
        model: a ``RecognizerGCN`` / ``Recognizer3D`` (anything with ``backbone`` and ``cls_head``).
        average: ``'prob'`` (softmax, mean over clips), ``'score'`` (mean logits) or None (per-clip logits).
    """

    def __init__(self, model: nn.Module, average: str | None = "prob") -> None:
        super().__init__()
        if average not in AVERAGES:
            raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
        if getattr(model, "cls_head", None) is None:
            raise ValueError(f"{type(model).__name__} has no cls_head: nothing to export as a classifier")
        self.model = model
        self.average = average

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, clips = x.shape[0], x.shape[1]
        feat = self.model.backbone(x.flatten(0, 1))
        if isinstance(feat, tuple):  # ProtoGCN: (features, the graph its training loss uses)
            feat = feat[0]
        logits = self.model.cls_head(feat)  # N*clips, K
        logits = logits.reshape(n, clips, -1)
        if self.average == "prob":
            return logits.softmax(dim=2).mean(dim=1)
        if self.average == "score":
            return logits.mean(dim=1)
        return logits
