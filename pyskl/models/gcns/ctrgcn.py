"""CTR-GCN backbone (PYSKL ``CTRGCN``).

Chen et al., "Channel-wise Topology Refinement Graph Convolution for Skeleton-Based Action
Recognition", ICCV 2021, arXiv:2107.12213 (https://github.com/Uason-Chen/CTR-GCN). Written for PYSKL
compatibility (Duan et al., arXiv:2205.09443, https://github.com/kennymckormick/pyskl, Apache-2.0):
state_dict keys, shapes and forward values are PYSKL's.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...registry import MODELS
from ...utils.graph import Graph
from ._common import PersonwiseBackbone, bn_init, conv_init
from .blocks import MultiScaleTCN, make_residual

__all__ = ["CTRGC", "UnitCTRGCN", "CTRGCNBlock", "CTRGCN", "unit_ctrgcn"]


class CTRGC(nn.Module):
    """Channel-wise topology refinement for one graph subset.

    The refined graph per channel is ``conv4(tanh(phi(x)_u - psi(x)_v)) * alpha + A``, with phi/psi
    pooled over time; features ``conv3(x)`` are aggregated with it.

    Shape:
        x: [N, C_in, T, V], A: [V, V] -> [N, C_out, T, V]
    """

    def __init__(self, in_channels: int, out_channels: int, rel_reduction: int = 8) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.rel_channels = 8 if in_channels <= 16 else in_channels // rel_reduction
        self.conv1 = nn.Conv2d(in_channels, self.rel_channels, kernel_size=1)
        self.conv2 = nn.Conv2d(in_channels, self.rel_channels, kernel_size=1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.conv4 = nn.Conv2d(self.rel_channels, out_channels, kernel_size=1)
        self.tanh = nn.Tanh()
        self.init_weights()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                conv_init(m)

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None, alpha: Any = 1) -> torch.Tensor:
        # a 1x1 conv commutes with the temporal mean: pool first, convolve V columns instead of T*V
        pooled = x.mean(-2, keepdim=True)  # N, C, 1, V
        phi, psi = self.conv1(pooled).squeeze(-2), self.conv2(pooled).squeeze(-2)  # N, R, V
        feat = self.conv3(x)  # N, C, T, V
        rel = self.tanh(phi.unsqueeze(-1) - psi.unsqueeze(-2))  # N, R, V, V
        graph = self.conv4(rel) * alpha  # N, C, V, V
        if A is not None:
            graph = graph + A
        # out[n, c, t, v] = sum_u graph[n, c, u, v] * feat[n, c, t, u]
        return torch.matmul(feat, graph)


class UnitCTRGCN(nn.Module):
    """Sum of :class:`CTRGC` over the K graph subsets -> BN -> + down(x) -> ReLU (``unit_ctrgcn``).

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor) -> None:
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.float32)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_subsets = A.size(0)
        self.convs = nn.ModuleList(CTRGC(in_channels, out_channels) for _ in range(self.num_subsets))
        if in_channels != out_channels:
            self.down: nn.Module = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1),
                                                 nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()
        self.A = nn.Parameter(A.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.soft = nn.Softmax(-2)
        self.relu = nn.ReLU()
        self.init_weights()

    def init_weights(self) -> None:
        """Kaiming convs, BN scale 1, the unit's final BN scale 1e-6 (as PYSKL)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                conv_init(m)
            elif isinstance(m, nn.BatchNorm2d):
                bn_init(m, 1)
        bn_init(self.bn, 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convs[0](x, self.A[0], self.alpha)
        for i in range(1, self.num_subsets):
            y = y + self.convs[i](x, self.A[i], self.alpha)
        return self.relu(self.bn(y) + self.down(x))


class CTRGCNBlock(nn.Module):
    """``unit_ctrgcn`` (``gcn1``) -> MS-G3D-style multi-scale TCN (``tcn1``) + residual -> ReLU.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T / stride, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, kernel_size: int = 5, dilations: Sequence[int] = (1, 2),
                 tcn_dropout: float = 0) -> None:
        super().__init__()
        self.gcn1 = UnitCTRGCN(in_channels, out_channels, A)
        self.tcn1 = MultiScaleTCN(out_channels, out_channels, kernel_size=kernel_size, stride=stride,
                                  dilations=dilations, residual=False, tcn_dropout=tcn_dropout)
        self.relu = nn.ReLU()
        self.residual = make_residual(in_channels, out_channels, stride, residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn1(self.gcn1(x)) + self.residual(x)
        # y is fresh (the TCN's ReLU output is kept for its backward, so the add is out of place)
        return torch.relu_(y)


@MODELS.register("CTRGCN")
class CTRGCN(PersonwiseBackbone):
    """CTR-GCN backbone: M*V*C data BN then ``num_stages`` :class:`CTRGCNBlock` s (``backbone.net.<i>``).

    Args:
        graph_cfg: kwargs of :class:`pyskl.utils.Graph` (``layout``, ``mode``).
        in_channels: input channels C.
        base_channels: channels of the first stage.
        num_stages: number of blocks.
        inflate_stages: stages (1-based) that double the channels.
        down_stages: stages (1-based) with temporal stride 2.
        pretrained: optional checkpoint path loaded by :meth:`init_weights`.
        num_person: M used to size the data BN (inputs must have exactly M persons).
        **kwargs: :class:`CTRGCNBlock` options (``kernel_size``, ``dilations``, ``tcn_dropout``;
            the first block never gets ``tcn_dropout``).

    Shape:
        x: [N, M, T, V, C] -> [N, M, C_out, T / 4, V]

    Example:
        >>> import torch
        >>> net = CTRGCN(graph_cfg=dict(layout='nturgb+d', mode='spatial'))
        >>> net.eval()(torch.randn(1, 2, 16, 25, 3)).shape
        torch.Size([1, 2, 256, 4, 25])
    """

    def __init__(self, graph_cfg: dict, in_channels: int = 3, base_channels: int = 64,
                 num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
                 down_stages: Sequence[int] = (5, 8), pretrained: str | None = None,
                 num_person: int = 2, **kwargs: Any) -> None:
        super().__init__()
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        self.register_buffer("A", A)
        self.num_person = num_person
        self.base_channels = base_channels
        self.pretrained = pretrained
        self.data_bn = nn.BatchNorm1d(num_person * in_channels * A.size(1))

        first_kwargs = {k: v for k, v in kwargs.items() if k != "tcn_dropout"}
        blocks = [CTRGCNBlock(in_channels, base_channels, A.clone(), residual=False, **first_kwargs)]
        channels = base_channels
        for i in range(2, num_stages + 1):
            out_channels = channels * (1 + (i in inflate_stages))
            stride = 1 + (i in down_stages)
            blocks.append(CTRGCNBlock(channels, out_channels, A.clone(), stride=stride, **kwargs))
            channels = out_channels
        self.net = nn.ModuleList(blocks)

    def init_weights(self) -> None:
        if self.pretrained:
            from ...checkpoint import load_checkpoint
            load_checkpoint(self, self.pretrained, strict=False)

    def forward_persons(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks on data-BN'd persons [P, C, T, V] (from :meth:`normalize_input`)."""
        for block in self.net:
            x = block(x)
        return x


unit_ctrgcn = UnitCTRGCN
