"""2s-AGCN / MS-AAGCN backbone (PYSKL ``AAGCN``).

Shi et al., "Skeleton-Based Action Recognition with Multi-Stream Adaptive Graph Convolutional
Networks", IEEE TIP 2020, arXiv:1912.06971 (https://github.com/lshiwjx/2s-AGCN). Written for
PYSKL compatibility (Duan et al., arXiv:2205.09443, https://github.com/kennymckormick/pyskl,
Apache-2.0): state_dict keys, shapes and forward values are PYSKL's.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...registry import MODELS
from ...utils.graph import Graph
from ._common import PersonwiseBackbone, bn_init, build_data_bn, conv_init, make_residual
from .blocks import MSTCN, UnitTCN, split_prefixed

__all__ = ["UnitAAGCN", "AAGCNBlock", "AAGCN", "unit_aagcn"]


class UnitAAGCN(nn.Module):
    """Adaptive graph convolution with spatial, temporal and channel attention (``unit_aagcn``).

    Args:
        in_channels: input channels C_in.
        out_channels: output channels C_out.
        A: adjacency [K, V, V]; a learnable Parameter when ``adaptive``, else a buffer.
        coff_embedding: C_out / embedding channels of the data-dependent graph.
        adaptive: add the data-dependent graph ``tanh(theta(x)^T phi(x)) * alpha``.
        attention: apply the spatial -> temporal -> channel attention after the graph conv.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor,
                 coff_embedding: int = 4, adaptive: bool = True, attention: bool = True) -> None:
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.float32)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.inter_channels = out_channels // coff_embedding
        self.num_subsets = A.size(0)
        self.adaptive = adaptive
        self.attention = attention
        num_joints = A.size(-1)

        self.conv_d = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1)
                                    for _ in range(self.num_subsets))
        if adaptive:
            self.A = nn.Parameter(A.clone())
            self.alpha = nn.Parameter(torch.zeros(1))
            self.conv_a = nn.ModuleList(nn.Conv2d(in_channels, self.inter_channels, 1)
                                        for _ in range(self.num_subsets))
            self.conv_b = nn.ModuleList(nn.Conv2d(in_channels, self.inter_channels, 1)
                                        for _ in range(self.num_subsets))
        else:
            self.register_buffer("A", A.clone())
        if attention:
            self.conv_ta = nn.Conv1d(out_channels, 1, 9, padding=4)
            # an odd kernel spanning (almost) all joints
            ker_joint = num_joints if num_joints % 2 else num_joints - 1
            self.conv_sa = nn.Conv1d(out_channels, 1, ker_joint, padding=(ker_joint - 1) // 2)
            self.fc1c = nn.Linear(out_channels, out_channels // 2)
            self.fc2c = nn.Linear(out_channels // 2, out_channels)
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()
        self.bn = nn.BatchNorm2d(out_channels)
        self.tan = nn.Tanh()
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU()
        self.init_weights()

    def init_weights(self) -> None:
        """PYSKL's init: kaiming convs, branch-scaled ``conv_d``, final BN 1e-6, zero attention gates."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                conv_init(m)
            elif isinstance(m, nn.BatchNorm2d):
                bn_init(m, 1)
        bn_init(self.bn, 1e-6)
        for conv in self.conv_d:
            n, k1, k2 = conv.weight.size(0), conv.weight.size(1), conv.weight.size(2)
            nn.init.normal_(conv.weight, 0, math.sqrt(2.0 / (n * k1 * k2 * self.num_subsets)))
            nn.init.constant_(conv.bias, 0)
        if self.attention:
            nn.init.constant_(self.conv_ta.weight, 0)
            nn.init.constant_(self.conv_ta.bias, 0)
            nn.init.xavier_normal_(self.conv_sa.weight)
            nn.init.constant_(self.conv_sa.bias, 0)
            nn.init.kaiming_normal_(self.fc1c.weight)
            nn.init.constant_(self.fc1c.bias, 0)
            nn.init.constant_(self.fc2c.weight, 0)
            nn.init.constant_(self.fc2c.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape  # N*M, C, T, V
        flat = x.reshape(n, c * t, v)
        y = None
        for i in range(self.num_subsets):
            A = self.A[i]
            if self.adaptive:
                theta = self.conv_a[i](x).permute(0, 3, 1, 2).reshape(n, v, -1)  # N, V, C'T
                phi = self.conv_b[i](x).reshape(n, -1, v)  # N, C'T, V
                A = A + self.tan(torch.matmul(theta, phi) / theta.size(-1)) * self.alpha
            z = self.conv_d[i](torch.matmul(flat, A).view(n, c, t, v))
            y = z if y is None else y + z
        y = self.relu(self.bn(y) + self.down(x))
        if not self.attention:
            return y
        # each attention rescales by (1 + gate): spatial, then temporal, then channel
        gate = self.sigmoid(self.conv_sa(y.mean(-2)))  # N, 1, V
        y = y * gate.unsqueeze(-2) + y
        gate = self.sigmoid(self.conv_ta(y.mean(-1)))  # N, 1, T
        y = y * gate.unsqueeze(-1) + y
        gate = self.sigmoid(self.fc2c(self.relu(self.fc1c(y.mean((-2, -1))))))  # N, C
        return y * gate[..., None, None] + y


class AAGCNBlock(nn.Module):
    """``unit_aagcn`` -> temporal conv (``unit_tcn`` k=9 or ``mstcn``) + residual -> ReLU.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T / stride, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, **kwargs: Any) -> None:
        super().__init__()
        gcn_kwargs, tcn_kwargs = split_prefixed(kwargs, ("gcn_", "tcn_"))
        tcn_type = tcn_kwargs.pop("type", "unit_tcn")
        gcn_type = gcn_kwargs.pop("type", "unit_aagcn")
        if gcn_type != "unit_aagcn":
            raise ValueError(f"AAGCN supports gcn_type='unit_aagcn' only, got {gcn_type!r}")
        self.gcn = UnitAAGCN(in_channels, out_channels, A, **gcn_kwargs)
        if tcn_type == "unit_tcn":
            self.tcn: nn.Module = UnitTCN(out_channels, out_channels, 9, stride=stride, **tcn_kwargs)
        elif tcn_type == "mstcn":
            self.tcn = MSTCN(out_channels, out_channels, stride=stride, **tcn_kwargs)
        else:
            raise ValueError(f"AAGCN tcn_type must be 'unit_tcn' or 'mstcn', got {tcn_type!r}")
        self.relu = nn.ReLU()
        self.residual = make_residual(in_channels, out_channels, stride, residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.tcn(self.gcn(x)) + self.residual(x))


@MODELS.register("AAGCN")
class AAGCN(PersonwiseBackbone):
    """AAGCN backbone: data BN then ``num_stages`` :class:`AAGCNBlock` s (``backbone.gcn.<i>``).

    Args:
        graph_cfg: kwargs of :class:`pyskl.utils.Graph` (``layout``, ``mode``).
        in_channels: input channels C (3 for 3D joints, 3 for 2D + score).
        base_channels: channels of the first stage.
        data_bn_type: 'MVC' (PYSKL default; needs M == num_person), 'VC' or None.
        num_person: M used to size the 'MVC' data BN.
        num_stages: number of blocks (including the stem block).
        inflate_stages: stages (1-based) that double the channels.
        down_stages: stages (1-based) with temporal stride 2.
        pretrained: optional checkpoint path loaded by :meth:`init_weights`.
        **kwargs: ``gcn_*`` / ``tcn_*`` block options (e.g. ``gcn_attention=False``, ``tcn_type='mstcn'``).

    Shape:
        x: [N, M, T, V, C] -> [N, M, C_out, T / 4, V]

    Example:
        >>> import torch
        >>> net = AAGCN(graph_cfg=dict(layout='nturgb+d', mode='spatial'))
        >>> net.eval()(torch.randn(1, 2, 16, 25, 3)).shape
        torch.Size([1, 2, 256, 4, 25])
    """

    def __init__(self, graph_cfg: dict, in_channels: int = 3, base_channels: int = 64,
                 data_bn_type: str | None = "MVC", num_person: int = 2, num_stages: int = 10,
                 inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8),
                 pretrained: str | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        self.register_buffer("A", A)
        self.data_bn_type = data_bn_type
        self.data_bn = build_data_bn(data_bn_type, num_person, in_channels, A.size(1))
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_person = num_person
        self.inflate_stages = inflate_stages
        self.down_stages = down_stages
        self.pretrained = pretrained

        blocks = []
        if in_channels != base_channels:
            blocks.append(AAGCNBlock(in_channels, base_channels, A.clone(), 1, residual=False, **kwargs))
        channels = base_channels
        for i in range(2, num_stages + 1):
            out_channels = channels * (1 + (i in inflate_stages))
            stride = 1 + (i in down_stages)
            blocks.append(AAGCNBlock(channels, out_channels, A.clone(), stride=stride, **kwargs))
            channels = out_channels
        self.num_stages = len(blocks)
        self.gcn = nn.ModuleList(blocks)

    def init_weights(self) -> None:
        for block in self.gcn:
            block.gcn.init_weights()
        if self.pretrained:
            from ...checkpoint import load_checkpoint
            load_checkpoint(self, self.pretrained, strict=False)

    def forward_persons(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks on data-BN'd persons [P, C, T, V] (from :meth:`normalize_input`)."""
        for block in self.gcn:
            x = block(x)
        return x


unit_aagcn = UnitAAGCN
