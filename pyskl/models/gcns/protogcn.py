"""ProtoGCN backbone.

Liu et al., "Revealing Key Details to See Differences: A Novel Prototypical Perspective for Skeleton-based
Action Recognition", CVPR 2025, arXiv:2411.18941. Reference implementation: ProtoGCN
(https://github.com/firework8/ProtoGCN, MIT, itself a fork of PYSKL); this is a clean re-implementation whose
state_dict keys and outputs equal the official ones, so its configs and checkpoints load unchanged.

The backbone is ST-GCN++'s ten-block plan with two changes: a graph conv that adds a learned, sample-dependent
"motion topology" to a per-subset adjacency Parameter, and a prototype reconstruction network (PRN) that
rebuilds the last block's topology from a bank of learned prototypes. The reconstructed graph feeds the head's
class-specific contrastive loss in training (see ``SimpleHead(joint_cfg=..., weight=...)``); the test path
uses only the features.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ...registry import MODELS
from ...utils.graph import Graph
from ._common import apply_data_bn, build_data_bn, make_residual
from .blocks import DEFAULT_MS_CFG, MSTCN

__all__ = ["ProtoGCN", "ProtoGCNBlock", "MotionTopologyGCN", "PrototypeReconstruction", "CentralizedMSTCN"]

EPS = 1e-4


class MotionTopologyGCN(nn.Module):
    """ProtoGCN's ``unit_gcn``: K subset graphs, each the sum of a learned adjacency ``A[k]``, a channel-wise
    "inter" term ``tanh(x1_v - x2_w)`` and a softmax-normalised "intra" affinity of the time-averaged
    features (ProtoGCN's motion topology enhancement).

    Only ``alpha[0]`` and ``beta[0]`` scale the two terms; the other entries exist in the official
    checkpoints and are kept so they load.

    Shape:
        x: [N, C_in, T, V] -> ([N, C_out, T, V], topology [N, C_out, V, V])
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, ratio: float = 0.125) -> None:
        super().__init__()
        num_subsets = A.shape[0]
        self.num_subsets = num_subsets
        self.mid_channels = int(ratio * out_channels)
        if self.mid_channels * num_subsets != out_channels:
            raise ValueError(f"ProtoGCN's graph conv needs out_channels = {num_subsets} subsets x "
                             f"int({ratio} * out_channels), got out_channels={out_channels}")
        self.A = nn.Parameter(A.clone())
        self.alpha = nn.Parameter(torch.zeros(num_subsets))
        self.beta = nn.Parameter(torch.zeros(num_subsets))
        self.act = nn.ReLU()
        self.pre = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels), self.act)
        self.post = nn.Conv2d(out_channels, out_channels, 1)
        self.tanh = nn.Tanh()
        self.relu = nn.ReLU()
        self.softmax = nn.Softmax(-2)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 1)
        if in_channels != out_channels:
            self.down: nn.Module = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1),
                                                 nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, _, t, v = x.shape
        k, c = self.num_subsets, self.mid_channels
        res = self.down(x)
        p = self.pre(x).view(n, k, c, t, v)
        x1 = self.conv1(x).view(n, k, c, t, v).mean(3, keepdim=True)  # N, K, C', 1, V
        x2 = self.conv2(x).view(n, k, c, t, v).mean(3, keepdim=True)
        inter = self.tanh(x1[..., :, None] - x2[..., None, :]) * self.alpha[0]  # N, K, C', 1, V, V
        affinity = torch.einsum("nkctv,nkctw->nktvw", x1, x2)[:, :, None]  # N, K, 1, 1, V, V
        intra = self.softmax(affinity) * self.beta[0]
        topology = inter + intra  # N, K, C', 1, V, V
        graph = (self.A[None, :, None, None] + topology).squeeze(3)  # N, K, C', V, V
        y = torch.einsum("nkctv,nkcvw->nkctw", p, graph).reshape(n, k * c, t, v)
        out = self.relu(self.bn(self.post(y)) + res)
        return out, topology.reshape(n, k * c, v, v)


class CentralizedMSTCN(MSTCN):
    """ProtoGCN's ``mstcn``: PYSKL's multi-scale TCN run on the joints plus their mean (a virtual centre
    joint), whose branch output is added back to every joint with a learned per-joint coefficient.

    ``add_coeff`` has 25 entries whatever the layout (the official default); only the first V are used.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, ceil(T / stride), V]
    """

    def __init__(self, in_channels: int, out_channels: int, ms_cfg: Sequence[Any] = DEFAULT_MS_CFG,
                 stride: int = 1, dropout: float = 0.0, num_joints: int = 25) -> None:
        super().__init__(in_channels, out_channels, ms_cfg=ms_cfg, stride=stride, dropout=dropout)
        self.add_coeff = nn.Parameter(torch.zeros(num_joints))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.shape[-1]
        x = torch.cat([x, x.mean(-1, keepdim=True)], dim=-1)  # N, C, T, V + 1
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        feat = out[..., :v] + out[..., v:] * self.add_coeff[:v]
        return self.drop(self.bn(self.transform(feat)))


class ProtoGCNBlock(nn.Module):
    """Motion-topology graph conv -> centralised multi-scale TCN, plus a residual, then ReLU.

    Shape:
        x: [N*M, C_in, T, V] -> ([N*M, C_out, ceil(T / stride), V], topology [N*M, C_out, V, V])
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, tcn_ms_cfg: Sequence[Any] = DEFAULT_MS_CFG,
                 tcn_dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = MotionTopologyGCN(in_channels, out_channels, A)
        self.tcn = CentralizedMSTCN(out_channels, out_channels, ms_cfg=tcn_ms_cfg, stride=stride,
                                    dropout=tcn_dropout)
        self.relu = nn.ReLU()
        self.residual = make_residual(in_channels, out_channels, stride, residual)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, topology = self.gcn(x)
        return self.relu(self.tcn(y) + self.residual(x)), topology


class PrototypeReconstruction(nn.Module):
    """ProtoGCN's PRN: each row (a joint pair's channel vector) is rebuilt as a softmax-weighted mix of
    ``num_prototypes`` learned prototypes (the columns of ``memory_matrix``).

    Shape:
        x: [N, R, C] -> [N, R, C]
    """

    def __init__(self, dim: int, num_prototypes: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.query_matrix = nn.Linear(dim, num_prototypes, bias=False)
        self.memory_matrix = nn.Linear(num_prototypes, dim, bias=False)
        self.softmax = nn.Softmax(dim=-1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.memory_matrix(self.softmax(self.query_matrix(x))))


@MODELS.register()
class ProtoGCN(nn.Module):
    """ProtoGCN backbone (official name and arguments, so its configs build unchanged).

    Args:
        graph_cfg: ``Graph`` kwargs; the official configs use ``mode='random', num_filter=8`` (8 subsets).
        in_channels, base_channels, ch_ratio, num_stages, inflate_stages, down_stages: the ST-GCN++ stage
            plan (channels 96 -> 192 -> 384, temporal stride 2 in blocks 5 and 8, 1-based).
        num_prototype: prototypes of the PRN.
        data_bn_type: ``'VC'`` (as ST-GCN), ``'MVC'`` or None.
        num_person: M (for ``'MVC'``).
        tcn_ms_cfg: branches of the multi-scale TCN (PYSKL's ``ms_cfg``).
        tcn_dropout: dropout at the end of each TCN.

    Returns:
        ``(features [N, M, C', T', V], reconstructed graph [N, V*V])``, as the official backbone; the
        recognizer classifies the features and gives the graph to the head's loss in training.

    Example:
        >>> net = ProtoGCN(graph_cfg=dict(layout='nturgb+d', mode='random', num_filter=8), num_prototype=20)
        >>> feat, graph = net(torch.randn(2, 2, 16, 25, 3))
        >>> feat.shape, graph.shape
        (torch.Size([2, 2, 384, 4, 25]), torch.Size([2, 625]))
    """

    def __init__(self, graph_cfg: dict, in_channels: int = 3, base_channels: int = 96, ch_ratio: float = 2,
                 num_prototype: int = 100, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
                 down_stages: Sequence[int] = (5, 8), data_bn_type: str | None = "VC", num_person: int = 2,
                 tcn_ms_cfg: Sequence[Any] = DEFAULT_MS_CFG, tcn_dropout: float = 0.0,
                 pretrained: str | None = None) -> None:
        super().__init__()
        if pretrained is not None:
            raise ValueError("ProtoGCN(pretrained=...) is not supported: load the checkpoint with "
                             "pyskl.checkpoint.load_checkpoint")
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        num_joints = A.shape[-1]
        self.data_bn_type = data_bn_type
        self.data_bn = build_data_bn(data_bn_type, num_person, in_channels, num_joints)

        blocks = [ProtoGCNBlock(in_channels, base_channels, A, residual=False, tcn_ms_cfg=tcn_ms_cfg,
                                tcn_dropout=tcn_dropout)]
        channels = base_channels
        inflates = 0
        for i in range(2, num_stages + 1):
            stride = 1 + (i in down_stages)
            inflates += i in inflate_stages
            out_channels = int(base_channels * ch_ratio ** inflates + EPS)
            blocks.append(ProtoGCNBlock(channels, out_channels, A, stride=stride, tcn_ms_cfg=tcn_ms_cfg,
                                        tcn_dropout=tcn_dropout))
            channels = out_channels
        self.gcn = nn.ModuleList(blocks)
        self.num_stages = num_stages
        self.out_channels = channels

        self.post = nn.Conv2d(channels, channels, 1)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.prn = PrototypeReconstruction(channels, num_prototype)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, m = x.shape[:2]
        x = apply_data_bn(x, self.data_bn, self.data_bn_type)  # N*M, C, T, V
        for block in self.gcn:
            x, topology = block(x)
        feat = x.reshape((n, m) + x.shape[1:])  # N, M, C', T', V
        return feat, self.reconstruct_graph(topology, n, m)

    def reconstruct_graph(self, topology: torch.Tensor, n: int, m: int) -> torch.Tensor:
        """The last block's topology [N*M, C, V, V] -> the PRN's reconstructed graph [N, V*V]."""
        _, c, v, _ = topology.shape
        per_sample = topology.reshape(n, m, c, v, v).mean(1)  # N, C, V, V
        rows = per_sample.permute(0, 2, 3, 1).reshape(n, v * v, c)
        rebuilt = self.prn(rows).reshape(n, v, v, c).permute(0, 3, 1, 2)  # N, C, V, V
        graph = self.relu(self.bn(self.post(rebuilt))).mean(1)  # N, V, V
        return graph.reshape(n, v * v)
