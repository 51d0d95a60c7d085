"""Classification heads: ``GCNHead`` (GCN features) and ``I3DHead`` (3D-CNN features).

Keys are PYSKL's: ``fc_cls.weight``/``fc_cls.bias``; pools, dropouts and losses hold no state.
``loss(cls_score, label)`` returns PYSKL's dict: ``top{k}_acc`` for each k in ``topk`` (float64
tensors) and ``loss_cls``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..registry import MODELS
from ..utils.layouts import get_layout
from . import losses  # noqa: F401  (registers the loss types)
from .class_contrastive import ClassSpecificContrastiveLoss

__all__ = ["BaseHead", "SimpleHead", "GCNHead", "I3DHead", "top_k_hits"]


def top_k_hits(scores: np.ndarray, labels: np.ndarray, topk: Sequence[int]) -> list[float]:
    """Fraction of rows whose label is among the k highest scores, for each k (PYSKL's tie order)."""
    order = np.argsort(scores, axis=1)  # ascending; the last k columns are the top k
    labels = np.asarray(labels).reshape(-1, 1)
    out = []
    for k in topk:
        hit = (order[:, -k:] == labels).any(axis=1) if k > 0 else np.zeros(len(labels), bool)
        out.append(float(hit.mean()) if len(hit) else 0.0)
    return out


class BaseHead(nn.Module):
    """Shared head logic: the loss module, PYSKL's loss dict, weight init.

    Args:
        num_classes: K.
        in_channels: feature channels.
        loss_cls: loss cfg (``dict(type='CrossEntropyLoss')``).
        multi_class: labels are multi-hot [N, K].
        label_smooth_eps: label smoothing for multi-class labels.
        topk: accuracies reported by :meth:`loss`.
        dropout: dropout ratio before ``fc_cls`` (0 -> no dropout module).
        init_std: std of the normal init of ``fc_cls``.
    """

    def __init__(self, num_classes: int, in_channels: int, loss_cls: dict | None = None,
                 multi_class: bool = False, label_smooth_eps: float = 0.0,
                 topk: int | Sequence[int] = (1, 5), dropout: float = 0.0, init_std: float = 0.01) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.multi_class = multi_class
        self.label_smooth_eps = label_smooth_eps
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        self.loss_cls = MODELS.build(loss_cls or dict(type="CrossEntropyLoss"))
        self.dropout_ratio = dropout
        self.init_std = init_std
        self.dropout = nn.Dropout(p=dropout) if dropout != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        nn.init.normal_(self.fc_cls.weight, 0, self.init_std)
        nn.init.constant_(self.fc_cls.bias, 0)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            x = self.pool(x)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects {self.in_channels} feature channels, "
                             f"got {x.shape[1]}")
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)

    def loss(self, cls_score: torch.Tensor, label: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """PYSKL's loss dict for scores [N, K] and labels [N] (or multi-hot / soft [N, K])."""
        losses: dict[str, torch.Tensor] = {}
        if label.dim() == 0:
            label = label.unsqueeze(0)
        elif label.dim() == 1 and label.shape[0] == self.num_classes and cls_score.shape[0] == 1:
            label = label.unsqueeze(0)
        if not self.multi_class and cls_score.shape != label.shape:
            accs = top_k_hits(cls_score.detach().float().cpu().numpy(),  # numpy has no bfloat16
                               label.detach().cpu().numpy(), self.topk)
            for k, acc in zip(self.topk, accs):
                losses[f"top{k}_acc"] = torch.tensor(acc, dtype=torch.float64, device=cls_score.device)
        elif self.multi_class and self.label_smooth_eps != 0:
            label = (1 - self.label_smooth_eps) * label + self.label_smooth_eps / self.num_classes
        loss = self.loss_cls(cls_score, label, **kwargs)
        if isinstance(loss, dict):
            losses.update(loss)
        else:
            losses["loss_cls"] = loss
        return losses


@MODELS.register()
class SimpleHead(BaseHead):
    """Pool -> (dropout) -> linear, for features of any layout given by ``mode``.

    Args:
        dropout: before ``fc_cls``; default 0.5 (0 with ``joint_cfg``).
        mode: ``'GCN'`` ([N, M, C, T, V]: pool over T, V per person, mean over M), ``'3D'``
            ([N, C, T, H, W]) or ``'2D'`` ([N, C, H, W]); default '3D' ('GCN' with ``joint_cfg``).
        joint_cfg: ProtoGCN's configs give the head their skeleton layout: the head then adds ProtoGCN's
            class-specific contrastive loss on the backbone's reconstructed graph (V*V values per sample),
            ``loss_cls = CE + weight * L_csc``, kept as ``csc_loss`` (its ``cl_fc`` is in checkpoints).
        weight: the contrastive term's weight (ProtoGCN's configs: 0.1-0.3); needs ``joint_cfg``.
    """

    def __init__(self, num_classes: int, in_channels: int, loss_cls: dict | None = None,
                 dropout: float | None = None, init_std: float = 0.01, mode: str | None = None,
                 joint_cfg: str | None = None, weight: float | None = None, **kwargs) -> None:
        # PYSKL's defaults are dropout 0.5 and mode '3D'; ProtoGCN's head (the one given a joint_cfg)
        # defaults to dropout 0 and mode 'GCN'.
        if dropout is None:
            dropout = 0.5 if joint_cfg is None else 0.0
        if mode is None:
            mode = "3D" if joint_cfg is None else "GCN"
        super().__init__(num_classes, in_channels, loss_cls, dropout=dropout, init_std=init_std, **kwargs)
        if mode not in ("GCN", "3D", "2D"):
            raise ValueError(f"SimpleHead mode must be 'GCN', '3D' or '2D', got {mode!r}")
        self.mode = mode
        if weight is not None and joint_cfg is None:
            raise ValueError("SimpleHead(weight=...) weighs ProtoGCN's contrastive loss, which needs "
                             "joint_cfg (the skeleton layout, e.g. 'nturgb+d')")
        self.csc_weight = 0.0 if weight is None else weight
        self.csc_loss: ClassSpecificContrastiveLoss | None = None
        if joint_cfg is not None:
            num_joints = get_layout(joint_cfg).num_joints
            self.csc_loss = ClassSpecificContrastiveLoss(num_classes, num_joints * num_joints)

    def loss(self, cls_score: torch.Tensor, label: torch.Tensor, recon_graph: torch.Tensor | None = None,
             **kwargs) -> dict[str, torch.Tensor]:
        """PYSKL's loss dict; with ``joint_cfg``, ``loss_cls`` adds ``weight`` x ProtoGCN's contrastive
        loss of ``recon_graph`` [N, V*V] (the backbone's second output)."""
        losses = super().loss(cls_score, label, **kwargs)
        if self.csc_loss is None:
            if recon_graph is not None:
                raise ValueError("SimpleHead got a reconstructed graph but has no contrastive loss: "
                                 "set joint_cfg (and weight) in the head config")
            return losses
        if recon_graph is None:
            raise ValueError("SimpleHead(joint_cfg=...) needs the backbone's reconstructed graph for its "
                             "contrastive loss: use it with a backbone that returns one (ProtoGCN)")
        csc = self.csc_loss(recon_graph.to(cls_score.dtype), label.reshape(-1), cls_score)
        losses["loss_cls"] = losses["loss_cls"] + self.csc_weight * csc
        return losses

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, (list, tuple)):
            x = torch.cat(list(x), dim=1)
        if self.mode == "GCN":
            if x.dim() != 5:
                raise ValueError(f"GCN head expects features [N, M, C, T, V], got {tuple(x.shape)}")
            return x.mean(dim=(3, 4)).mean(dim=1)  # N, C: avg over T, V per person, then over M
        return x.flatten(2).mean(-1)  # N, C: global average over T, H, W (or H, W)


@MODELS.register()
class GCNHead(SimpleHead):
    """PYSKL ``GCNHead``: average over T', V per person, mean over persons, (dropout), ``fc_cls``.

    Shape:
        x: [N, M, C, T, V] -> [N, num_classes]
    """

    def __init__(self, num_classes: int, in_channels: int, loss_cls: dict | None = None,
                 dropout: float = 0.0, init_std: float = 0.01, **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls, dropout=dropout, init_std=init_std,
                         mode="GCN", **kwargs)


@MODELS.register()
class I3DHead(SimpleHead):
    """PYSKL ``I3DHead``: global average pool, dropout (0.5), ``fc_cls``.

    Shape:
        x: [N, C, T, H, W] -> [N, num_classes]
    """

    def __init__(self, num_classes: int, in_channels: int, loss_cls: dict | None = None,
                 spatial_type: str = "avg", dropout: float = 0.5, init_std: float = 0.01, **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls, dropout=dropout, init_std=init_std,
                         mode="3D", **kwargs)
        self.spatial_type = spatial_type

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.spatial_type != "avg":  # PYSKL: no pooling, the features are flattened as they are
            return x
        return super().pool(x)
