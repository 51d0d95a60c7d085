"""ST-GCN and ST-GCN++ backbones (one class, ``STGCN``, configured by its arguments).

ST-GCN: Yan et al., "Spatial Temporal Graph Convolutional Networks for Skeleton-Based Action
Recognition", AAAI 2018, arXiv:1801.07455. ST-GCN++: Duan et al., "PYSKL: Towards Good Practices for
Skeleton Action Recognition", arXiv:2205.09443. Reference implementation: PYSKL
(https://github.com/kennymckormick/pyskl, Apache-2.0); this is a clean re-implementation whose
state_dict keys and outputs equal PYSKL's.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ...registry import MODELS
from ...utils.graph import Graph
from ._common import PersonwiseBackbone
from .blocks import MSTCN, UnitGCN, UnitTCN, make_residual, per_stage_kwargs, split_prefixed

__all__ = ["STGCN", "STGCNBlock"]

EPS = 1e-4


class STGCNBlock(nn.Module):
    """Graph conv -> temporal conv, plus a residual, then ReLU.

    ``gcn_*`` kwargs go to :class:`UnitGCN` (``gcn_type`` must be ``'unit_gcn'``); ``tcn_*`` kwargs
    to the temporal unit chosen by ``tcn_type`` (``'unit_tcn'``, kernel 9, or ``'mstcn'``).

    Shape:
        x: [N*M, C_in, T, V] -> [N*M, C_out, ceil(T / stride), V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, **kwargs: Any) -> None:
        super().__init__()
        gcn_kwargs, tcn_kwargs = split_prefixed(kwargs, ("gcn_", "tcn_"))
        tcn_type = tcn_kwargs.pop("type", "unit_tcn")
        gcn_type = gcn_kwargs.pop("type", "unit_gcn")
        if gcn_type != "unit_gcn":
            raise ValueError(f"STGCNBlock gcn_type must be 'unit_gcn', got {gcn_type!r}")
        self.gcn = UnitGCN(in_channels, out_channels, A, **gcn_kwargs)
        if tcn_type == "unit_tcn":
            self.tcn: nn.Module = UnitTCN(out_channels, out_channels, 9, stride=stride, **tcn_kwargs)
        elif tcn_type == "mstcn":
            self.tcn = MSTCN(out_channels, out_channels, stride=stride, **tcn_kwargs)
        else:
            raise ValueError(f"STGCNBlock tcn_type must be 'unit_tcn' or 'mstcn', got {tcn_type!r}")
        self.relu = nn.ReLU()
        self.residual = make_residual(in_channels, out_channels, stride, residual)

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        res = self.residual(x)
        x = self.tcn(self.gcn(x, A)) + res
        return torch.relu_(x)  # x is fresh: no allocation needed


@MODELS.register()
class STGCN(PersonwiseBackbone):
    """ST-GCN / ST-GCN++ backbone (PYSKL ``STGCN``).

    Args:
        graph_cfg: kwargs of :class:`pyskl.utils.Graph` (``layout``, ``mode``, ...).
        in_channels: input feature channels C (3 for 3D joints or 2D + score, 2 for x/y).
        base_channels: channels of the first stage.
        data_bn_type: ``'VC'`` (BatchNorm1d over V*C per person), ``'MVC'`` (over M*V*C, needs
            M == num_person) or anything else for no input norm.
        ch_ratio: channel multiplier at each inflate stage.
        num_person: M, used by ``'MVC'``.
        num_stages: number of blocks (the first one is skipped when in_channels == base_channels).
        inflate_stages: 1-based stages where channels grow by ``ch_ratio``.
        down_stages: 1-based stages with temporal stride 2.
        pretrained: path of a checkpoint loaded by :meth:`init_weights`.
        **kwargs: ``gcn_*`` / ``tcn_*`` block options; a tuple of length ``num_stages`` gives one
            value per stage. ST-GCN: defaults (``gcn_adaptive='importance'``, ``unit_tcn``);
            ST-GCN++: ``gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn'``.

    Shape:
        x: [N, M, T, V, C] -> [N, M, C_out, T_out, V]

    Example:
        >>> net = STGCN(graph_cfg=dict(layout='coco', mode='spatial'), gcn_adaptive='init',
        ...             gcn_with_res=True, tcn_type='mstcn')
        >>> net(torch.randn(1, 2, 16, 17, 3)).shape
        torch.Size([1, 2, 256, 4, 17])
    """

    def __init__(self, graph_cfg: dict, in_channels: int = 3, base_channels: int = 64,
                 data_bn_type: str = "VC", ch_ratio: float = 2, num_person: int = 2,
                 num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
                 down_stages: Sequence[int] = (5, 8), pretrained: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        self.num_person = num_person
        self.kwargs = kwargs
        split_prefixed(kwargs, ("gcn_", "tcn_"))  # fail early on a misspelt option
        num_nodes = A.size(1)
        if data_bn_type == "MVC":
            self.data_bn: nn.Module = nn.BatchNorm1d(num_person * in_channels * num_nodes)
        elif data_bn_type == "VC":
            self.data_bn = nn.BatchNorm1d(in_channels * num_nodes)
        else:
            self.data_bn = nn.Identity()
        self.data_bn_type = data_bn_type

        self.in_channels = in_channels
        self.base_channels = base_channels
        self.ch_ratio = ch_ratio
        self.inflate_stages = list(inflate_stages)
        self.down_stages = list(down_stages)
        stage_kwargs = per_stage_kwargs(kwargs, num_stages)

        blocks = []
        if in_channels != base_channels:
            blocks.append(STGCNBlock(in_channels, base_channels, A.clone(), 1, residual=False,
                                     **stage_kwargs[0]))
        channels = base_channels
        inflate_times = 0
        for i in range(2, num_stages + 1):
            stride = 1 + (i in self.down_stages)
            if i in self.inflate_stages:
                inflate_times += 1
            out_channels = int(base_channels * ch_ratio ** inflate_times + EPS)
            blocks.append(STGCNBlock(channels, out_channels, A.clone(), stride, **stage_kwargs[i - 1]))
            channels = out_channels
        self.out_channels = channels
        self.num_stages = len(blocks)
        self.gcn = nn.ModuleList(blocks)
        self.pretrained = pretrained

    def init_weights(self) -> None:
        """Load ``pretrained`` (non-strict, as PYSKL); convs keep PyTorch's default init."""
        if isinstance(self.pretrained, str):
            from ...checkpoint import load_checkpoint

            load_checkpoint(self, self.pretrained, strict=False)

    def forward_persons(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks on data-BN'd persons [P, C, T, V] (from :meth:`normalize_input`)."""
        for block in self.gcn:
            x = block(x)
        return x
