"""DG-STGCN backbone (PYSKL ``DGSTGCN``).

Duan et al., "DG-STGCN: Dynamic Spatial-Temporal Modeling for Skeleton-based Action Recognition",
arXiv:2210.05895 (https://github.com/kennymckormick/pyskl, Apache-2.0). Written for PYSKL
compatibility: state_dict keys, shapes and forward values are PYSKL's.

The learnable graph ``gcn.A`` starts from ``Graph(mode='random')``, which draws from numpy's global
RNG at construction (seed numpy to reproduce an init).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...registry import MODELS
from ...utils.graph import Graph
from ._common import PersonwiseBackbone, build_data_bn, make_residual
from .blocks import DEFAULT_MS_CFG, MSTCN, build_act, build_norm, split_prefixed

__all__ = ["DGGCN", "DGMSTCN", "DGBlock", "DGSTGCN", "dggcn", "dgmstcn"]

_GATES = ("tanh", "relu", "sigmoid", "softmax")


class DGGCN(nn.Module):
    """Dynamic group graph conv (PYSKL ``dggcn``).

    Each of the K groups (``A.size(0)``) has ``ratio * C_out`` channels. The graph of a group is the
    learnable ``A[k]`` plus a channel-wise refinement (``ctr``: ``act(phi_u - psi_v) * alpha``) plus a
    data-dependent graph (``ada``: ``act(sum_c phi_v psi_w) * beta``), phi/psi pooled over time.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, ratio: float | None = 0.25,
                 ctr: str | None = "T", ada: str | None = "T", subset_wise: bool = False,
                 ada_act: str = "softmax", ctr_act: str = "tanh", norm: str | dict = "BN",
                 act: str | dict = "ReLU") -> None:
        super().__init__()
        if ada_act not in _GATES or ctr_act not in _GATES:
            raise ValueError(f"dggcn ada_act / ctr_act must be in {_GATES}, got {ada_act!r} / {ctr_act!r}")
        if ctr not in (None, "NA", "T") or ada not in (None, "NA", "T"):
            raise ValueError(f"dggcn ctr / ada must be None, 'NA' or 'T', got {ctr!r} / {ada!r}")
        A = torch.as_tensor(A, dtype=torch.float32)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_subsets = A.size(0)
        self.ctr, self.ada = ctr, ada
        self.ctr_act, self.ada_act = ctr_act, ada_act
        self.subset_wise = subset_wise
        self.ratio = 1 / self.num_subsets if ratio is None else ratio
        self.mid_channels = mid = int(self.ratio * out_channels)
        k = self.num_subsets

        self.act = build_act(act)
        self.A = nn.Parameter(A.clone())
        self.pre = nn.Sequential(nn.Conv2d(in_channels, mid * k, 1), build_norm(norm, mid * k), self.act)
        self.post = nn.Conv2d(mid * k, out_channels, 1)
        self.tanh = nn.Tanh()
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()
        self.softmax = nn.Softmax(-2)
        self.alpha = nn.Parameter(torch.zeros(k))
        self.beta = nn.Parameter(torch.zeros(k))
        if ada or ctr:
            self.conv1 = nn.Conv2d(in_channels, mid * k, 1)
            self.conv2 = nn.Conv2d(in_channels, mid * k, 1)
        if in_channels != out_channels:
            self.down: nn.Module = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1),
                                                 build_norm(norm, out_channels))
        else:
            self.down = nn.Identity()
        self.bn = build_norm(norm, out_channels)

    def _scale(self, g: torch.Tensor, coeff: torch.Tensor) -> torch.Tensor:
        # g: N, K, C|1, T|1, V, V
        if self.subset_wise:
            return g * coeff.view(1, -1, 1, 1, 1, 1)
        return g * coeff[0]

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        n, _, t, v = x.shape  # N*M, C, T, V
        k, mid = self.num_subsets, self.mid_channels
        res = self.down(x)
        pre_x = self.pre(x).reshape(n, k, mid, t, v)
        graph = self.A[None, :, None, None]  # 1, K, 1, 1, V, V
        if self.ctr is not None or self.ada is not None:
            pooled = x if (self.ctr == "NA" or self.ada == "NA") else x.mean(-2, keepdim=True)
            x1 = self.conv1(pooled).reshape(n, k, mid, -1, v)
            x2 = self.conv2(pooled).reshape(n, k, mid, -1, v)
            if self.ctr is not None:
                diff = getattr(self, self.ctr_act)(x1.unsqueeze(-1) - x2.unsqueeze(-2))  # N, K, C, T|1, V, V
                graph = self._scale(diff, self.alpha) + graph
            if self.ada is not None:
                ada = torch.einsum("nkctv,nkctw->nktvw", x1, x2)[:, :, None]  # N, K, 1, T|1, V, V
                graph = self._scale(getattr(self, self.ada_act)(ada), self.beta) + graph
            if graph.shape[2] == 1 and graph.shape[3] == 1:
                out = torch.einsum("nkctv,nkvw->nkctw", pre_x, graph[:, :, 0, 0])
            elif graph.shape[3] == 1:
                # N, K, C, T, V @ N, K, C, V, W
                out = torch.matmul(pre_x, graph[:, :, :, 0])
            elif graph.shape[2] == 1:
                out = torch.einsum("nkctv,nktvw->nkctw", pre_x, graph[:, :, 0])
            else:
                out = torch.einsum("nkctv,nkctvw->nkctw", pre_x, graph)
        else:
            out = torch.einsum("nkctv,kvw->nkctw", pre_x, self.A)
        out = self.post(out.reshape(n, -1, t, v))
        return self.act(self.bn(out) + res)


class DGMSTCN(MSTCN):
    """ST-GCN++'s multi-scale TCN plus a per-joint weighted global (joint-mean) branch (``dgmstcn``).

    The input gets an extra "joint" holding the mean over joints; its branch output is added to every
    joint scaled by ``add_coeff[v]`` before the ``transform``.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, ceil(T / stride), V]
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: float | None = None,
                 num_joints: int = 25, dropout: float = 0.0, ms_cfg: Sequence[Any] = DEFAULT_MS_CFG,
                 stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, mid_channels=mid_channels, dropout=dropout,
                         ms_cfg=ms_cfg, stride=stride)
        self.num_joints = num_joints
        # may be shorter than the real joint count only if V <= num_joints
        self.add_coeff = nn.Parameter(torch.zeros(num_joints))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.shape[-1]
        if v > self.num_joints:
            raise ValueError(f"dgmstcn built for num_joints={self.num_joints}, got V={v}")
        x = torch.cat([x, x.mean(-1, keepdim=True)], -1)
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        feat = out[..., :v] + out[..., v:] * self.add_coeff[:v]
        return self.drop(self.bn(self.transform(feat)))


class DGBlock(nn.Module):
    """:class:`DGGCN` -> :class:`DGMSTCN` + residual -> ReLU (``gcn_*`` / ``tcn_*`` kwargs routed).

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T / stride, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, **kwargs: Any) -> None:
        super().__init__()
        gcn_kwargs, tcn_kwargs = split_prefixed(kwargs, ("gcn_", "tcn_"))
        self.gcn = DGGCN(in_channels, out_channels, A, **gcn_kwargs)
        self.tcn = DGMSTCN(out_channels, out_channels, stride=stride, **tcn_kwargs)
        self.relu = nn.ReLU()
        self.residual = make_residual(in_channels, out_channels, stride, residual)

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        res = self.residual(x)
        return self.relu(self.tcn(self.gcn(x, A)) + res)


@MODELS.register("DGSTGCN")
class DGSTGCN(PersonwiseBackbone):
    """DG-STGCN backbone: data BN then ``num_stages`` :class:`DGBlock` s (``backbone.gcn.<i>``).

    Args:
        graph_cfg: kwargs of :class:`pyskl.utils.Graph`; PYSKL uses ``mode='random'``
            (``num_filter=8, init_off=0.04, init_std=0.02``).
        in_channels: input channels C.
        base_channels: channels of the first stage.
        ch_ratio: channel multiplier at each inflate stage.
        num_stages: number of blocks (including the stem block).
        inflate_stages: stages (1-based) that multiply the channels by ``ch_ratio``.
        down_stages: stages (1-based) with temporal stride 2.
        data_bn_type: 'VC' (default), 'MVC' or None.
        num_person: M used to size an 'MVC' data BN.
        pretrained: optional checkpoint path loaded by :meth:`init_weights`.
        **kwargs: ``gcn_*`` / ``tcn_*`` block options; a tuple of length ``num_stages`` gives one
            value per stage. The stem block never gets ``tcn_dropout``.

    Shape:
        x: [N, M, T, V, C] -> [N, M, C_out, T / 4, V]

    Example:
        >>> import torch
        >>> net = DGSTGCN(graph_cfg=dict(layout='nturgb+d', mode='random', num_filter=8))
        >>> net.eval()(torch.randn(1, 2, 16, 25, 3)).shape
        torch.Size([1, 2, 256, 4, 25])
    """

    def __init__(self, graph_cfg: dict, in_channels: int = 3, base_channels: int = 64,
                 ch_ratio: float = 2, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
                 down_stages: Sequence[int] = (5, 8), data_bn_type: str | None = "VC",
                 num_person: int = 2, pretrained: str | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        self.data_bn_type = data_bn_type
        self.kwargs = kwargs
        self.data_bn = build_data_bn(data_bn_type, num_person, in_channels, A.size(1))
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.ch_ratio = ch_ratio
        self.inflate_stages = inflate_stages
        self.down_stages = down_stages
        self.pretrained = pretrained

        stage_kwargs = [copy.deepcopy(kwargs) for _ in range(num_stages)]
        for key, value in kwargs.items():
            if isinstance(value, tuple) and len(value) == num_stages:
                for i in range(num_stages):
                    stage_kwargs[i][key] = value[i]
        stage_kwargs[0].pop("tcn_dropout", None)

        blocks = []
        if in_channels != base_channels:
            blocks.append(DGBlock(in_channels, base_channels, A.clone(), 1, residual=False,
                                  **stage_kwargs[0]))
        channels, inflate_times = base_channels, 0
        for i in range(2, num_stages + 1):
            stride = 1 + (i in down_stages)
            inflate_times += i in inflate_stages
            out_channels = int(base_channels * ch_ratio ** inflate_times + 1e-4)
            blocks.append(DGBlock(channels, out_channels, A.clone(), stride, **stage_kwargs[i - 1]))
            channels = out_channels
        self.num_stages = len(blocks)
        self.gcn = nn.ModuleList(blocks)

    def init_weights(self) -> None:
        if self.pretrained:
            from ...checkpoint import load_checkpoint
            load_checkpoint(self, self.pretrained, strict=False)

    def forward_persons(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks on data-BN'd persons [P, C, T, V] (from :meth:`normalize_input`)."""
        for block in self.gcn:
            x = block(x)
        return x


dggcn = DGGCN
dgmstcn = DGMSTCN
