"""MS-G3D backbone (PYSKL ``MSG3D``); its multi-scale temporal conv is ``blocks.MultiScaleTCN``.

Liu et al., "Disentangling and Unifying Graph Convolutions for Skeleton-Based Action Recognition",
CVPR 2020, arXiv:2003.14111 (https://github.com/kenziyuliu/MS-G3D). Written for PYSKL compatibility
(Duan et al., arXiv:2205.09443, https://github.com/kennymckormick/pyskl, Apache-2.0): state_dict keys,
shapes and forward values are PYSKL's.

Unlike PYSKL (issue #242), every residual add here is out of place, so the model trains; the forward
values are identical.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ...registry import MODELS
from ...utils.graph import Graph, k_adjacency, normalize_digraph
from ._common import PersonwiseBackbone
from .blocks import MultiScaleTCN, ZeroResidual

__all__ = ["MSG3D", "MSG3DTCN", "MSGCN", "STMSGCN", "MSG3DBlock", "MWMSG3DBlock",
           "UnfoldTemporalWindows", "MLP"]


def multiscale_adjacency(A: np.ndarray, num_scales: int) -> torch.Tensor:
    """[num_scales, V, V]: column-normalised ``k``-hop adjacency (self loops added) for k < num_scales."""
    scales = [normalize_digraph(k_adjacency(A, k, with_self=True)) for k in range(num_scales)]
    return torch.tensor(np.stack(scales), dtype=torch.float32)


def multiscale_aggregate(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``einsum('kvu,nctv->nkctu')`` reshaped to [N, K*C, T, U]: x [N, C, T, V], A [K, V, U].

    One GEMM against all K graphs side by side ([N*C*T, V] @ [V, K*U]), then a single reorder of the
    output; no K-fold copy of ``x`` as a broadcast batched matmul would make.
    """
    n, c, t, v = x.shape
    k, _, u = A.shape
    y = torch.matmul(x.reshape(n * c * t, v), A.permute(1, 0, 2).reshape(v, k * u))
    return y.view(n, c, t, k, u).permute(0, 3, 1, 2, 4).reshape(n, k * c, t, u)


class MLP(nn.Module):
    """1x1 Conv -> BN [-> ReLU] per layer (``mlp.layers.<i>``), optional dropout before each conv."""

    def __init__(self, in_channels: int, out_channels: Sequence[int], activation: str | None = "relu",
                 dropout: float = 0) -> None:
        super().__init__()
        channels = [in_channels, *out_channels]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            if dropout > 1e-3:
                layers.append(nn.Dropout(p=dropout))
            layers += [nn.Conv2d(c_in, c_out, kernel_size=1), nn.BatchNorm2d(c_out)]
            if activation == "relu":
                layers.append(nn.ReLU(inplace=True))  # after a BN, whose backward needs no output
            elif activation is not None:
                raise ValueError(f"MLP activation must be 'relu' or None, got {activation!r}")
        # a Sequential (same keys as a ModuleList) so deploy.fold_batch_norms folds its conv -> BN pairs
        self.layers = nn.Sequential(*layers)
        self.ends_with_relu = activation == "relu"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MSGCN(nn.Module):
    """Multi-scale (k-hop) graph conv: ``sum_k (A_k + PA_k)`` aggregation, then an MLP on K*C channels.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T, V]
    """

    def __init__(self, num_scales: int, in_channels: int, out_channels: int, A: np.ndarray,
                 dropout: float = 0, activation: str = "relu") -> None:
        super().__init__()
        self.num_scales = num_scales
        self.register_buffer("A", multiscale_adjacency(np.asarray(A), num_scales))
        self.PA = nn.Parameter(self.A.clone())
        nn.init.uniform_(self.PA, -1e-6, 1e-6)
        self.mlp = MLP(in_channels * num_scales, [out_channels], dropout=dropout, activation=activation)

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        """The k-hop aggregations of ``x``: [N, K*C, T, V]."""
        return multiscale_aggregate(x, self.A + self.PA)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.aggregate(x))


class UnfoldTemporalWindows(nn.Module):
    """[N, C, T, V] -> [N, C, T', window*V]: each output step holds a window of frames side by side."""

    def __init__(self, window_size: int, window_stride: int, window_dilation: int = 1) -> None:
        super().__init__()
        self.window_size = window_size
        self.window_stride = window_stride
        self.window_dilation = window_dilation
        self.padding = (window_size + (window_size - 1) * (window_dilation - 1) - 1) // 2
        self.unfold = nn.Unfold(kernel_size=(window_size, 1), dilation=(window_dilation, 1),
                                stride=(window_stride, 1), padding=(self.padding, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        x = self.unfold(x)  # N, C*window, T'*V
        x = x.view(n, c, self.window_size, -1, v).permute(0, 1, 3, 2, 4)
        return x.reshape(n, c, -1, self.window_size * v)


class STMSGCN(nn.Module):
    """Multi-scale graph conv on the space-time window graph (PYSKL ``ST_MSGCN``).

    The window graph tiles ``A + I`` ``window_size`` times in both directions.

    Shape:
        x: [N, C_in, T', window*V] -> [N, C_out, T', window*V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: np.ndarray, num_scales: int,
                 window_size: int = 1, residual: bool = False, dropout: float = 0,
                 activation: str = "relu") -> None:
        super().__init__()
        self.num_scales = num_scales
        self.window_size = window_size
        A = np.asarray(A)
        A_window = np.tile(A + np.eye(len(A), dtype=A.dtype), (window_size, window_size))
        self.register_buffer("A", multiscale_adjacency(A_window, num_scales))
        self.V = len(A_window)
        self.PA = nn.Parameter(self.A.clone())
        nn.init.uniform_(self.PA, -1e-6, 1e-6)
        self.mlp = MLP(in_channels * num_scales, [out_channels], dropout=dropout, activation=activation)
        if not residual:
            self.residual: nn.Module = ZeroResidual()
        elif in_channels == out_channels:
            self.residual = nn.Identity()
        else:
            self.residual = MLP(in_channels, [out_channels], activation=None)
        self.act = nn.ReLU()

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        """The k-hop aggregations of ``x`` over the window graph: [N, K*C, T', window*V]."""
        return multiscale_aggregate(x, self.A + self.PA)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.mlp(self.aggregate(x))
        if isinstance(self.residual, ZeroResidual):  # MS-G3D's case
            if type(self.act) is nn.ReLU and self.mlp.ends_with_relu:
                return out  # relu(relu(x)) == relu(x), gradient included
            return self.act(out)
        # out of place: PYSKL's `out += res` on the MLP's ReLU output breaks backward (issue #242)
        return self.act(out + self.residual(x))


class MSG3DBlock(nn.Module):
    """One G3D pathway: unfold windows -> ST multi-scale GCN -> Conv3d collapsing the window -> BN.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T / window_stride, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: np.ndarray, num_scales: int,
                 window_size: int, window_stride: int, window_dilation: int, embed_factor: int = 1,
                 activation: str = "relu") -> None:
        super().__init__()
        self.window_size = window_size
        self.out_channels = out_channels
        if embed_factor == 1:
            self.in1x1: nn.Module = nn.Identity()
            self.embed_channels_in = self.embed_channels_out = in_channels
            # the first block (raw coordinates in) widens right away; the others at the collapse
            if in_channels == 3:
                self.embed_channels_out = out_channels
        else:
            self.embed_channels_in = self.embed_channels_out = out_channels // embed_factor
            self.in1x1 = MLP(in_channels, [self.embed_channels_in])
        self.gcn3d = nn.Sequential(
            UnfoldTemporalWindows(window_size, window_stride, window_dilation),
            STMSGCN(self.embed_channels_in, self.embed_channels_out, A, num_scales,
                    window_size=window_size, residual=False, activation=activation))
        self.out_conv = nn.Conv3d(self.embed_channels_out, out_channels, kernel_size=(1, window_size, 1))
        self.out_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, _, v = x.shape
        x = self.gcn3d(self.in1x1(x))  # N, C, T', window*V
        x = x.view(n, self.embed_channels_out, -1, self.window_size, v)
        return self.out_bn(self.out_conv(x).squeeze(3))


class MWMSG3DBlock(nn.Module):
    """Sum of :class:`MSG3DBlock` pathways with different window sizes (PYSKL ``MW_MSG3DBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, A: np.ndarray, num_scales: int,
                 window_sizes: Sequence[int] = (3, 5), window_stride: int = 1,
                 window_dilations: Sequence[int] = (1, 1)) -> None:
        super().__init__()
        self.gcn3d = nn.ModuleList(
            MSG3DBlock(in_channels, out_channels, A, num_scales, size, window_stride, dilation)
            for size, dilation in zip(window_sizes, window_dilations))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.gcn3d[0](x)
        for pathway in self.gcn3d[1:]:
            out = out + pathway(x)
        return out


def _spatial_pathway(num_scales: int, in_channels: int, mid_channels: int, out_channels: int,
                     A: np.ndarray, stride: int) -> nn.Sequential:
    """MSGCN -> MSTCN (may widen / stride) -> MSTCN without final activation."""
    path = nn.Sequential(MSGCN(num_scales, in_channels, mid_channels, A),
                         MultiScaleTCN(mid_channels, out_channels, stride=stride),
                         MultiScaleTCN(out_channels, out_channels))
    path[-1].act = nn.Identity()
    return path


@MODELS.register("MSG3D")
class MSG3D(PersonwiseBackbone):
    """MS-G3D backbone: three stages of (G3D pathway + spatial pathway) -> ReLU -> MSTCN.

    Module names are PYSKL's: ``gcn3d{1,2,3}``, ``sgcn{1,2,3}``, ``tcn{1,2,3}``.

    Args:
        graph_cfg: kwargs of :class:`pyskl.utils.Graph`; PYSKL uses ``mode='binary_adj'``.
        in_channels: input channels C.
        base_channels: channels of stage 1 (x2, x4 for stages 2, 3).
        num_gcn_scales: hops of the spatial multi-scale GCN.
        num_g3d_scales: hops of the space-time window GCN.
        num_person: M used to size the M*V*C data BN.
        tcn_dropout: dropout of the per-stage ``tcn`` modules.

    Shape:
        x: [N, M, T, V, C] -> [N, M, 4 * base_channels, T / 4, V]

    Example:
        >>> import torch
        >>> net = MSG3D(graph_cfg=dict(layout='nturgb+d', mode='binary_adj'))
        >>> net.eval()(torch.randn(1, 2, 16, 25, 3)).shape
        torch.Size([1, 2, 384, 4, 25])
    """

    def __init__(self, graph_cfg: dict, in_channels: int = 3, base_channels: int = 96,
                 num_gcn_scales: int = 13, num_g3d_scales: int = 6, num_person: int = 2,
                 tcn_dropout: float = 0) -> None:
        super().__init__()
        self.graph = Graph(**graph_cfg)
        A_np = np.asarray(self.graph.A[0])
        self.register_buffer("A", torch.tensor(A_np, dtype=torch.float32))
        self.num_point = A_np.shape[-1]
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.data_bn = nn.BatchNorm1d(self.num_point * in_channels * num_person)
        c1, c2, c3 = base_channels, base_channels * 2, base_channels * 4

        self.gcn3d1 = MWMSG3DBlock(in_channels, c1, A_np, num_g3d_scales, window_stride=1)
        self.sgcn1 = _spatial_pathway(num_gcn_scales, in_channels, c1, c1, A_np, stride=1)
        self.tcn1 = MultiScaleTCN(c1, c1, tcn_dropout=tcn_dropout)

        self.gcn3d2 = MWMSG3DBlock(c1, c2, A_np, num_g3d_scales, window_stride=2)
        self.sgcn2 = _spatial_pathway(num_gcn_scales, c1, c1, c2, A_np, stride=2)
        self.tcn2 = MultiScaleTCN(c2, c2, tcn_dropout=tcn_dropout)

        self.gcn3d3 = MWMSG3DBlock(c2, c3, A_np, num_g3d_scales, window_stride=2)
        self.sgcn3 = _spatial_pathway(num_gcn_scales, c2, c2, c3, A_np, stride=2)
        self.tcn3 = MultiScaleTCN(c3, c3, tcn_dropout=tcn_dropout)

    def init_weights(self) -> None:
        """PyTorch default init (as PYSKL); ``PA`` offsets are drawn at construction."""

    def forward_persons(self, x: torch.Tensor) -> torch.Tensor:
        """The three stages on data-BN'd persons [P, C, T, V] (from :meth:`normalize_input`)."""
        # the sums are fresh tensors: ReLU in place
        x = self.tcn1(torch.relu_(self.sgcn1(x) + self.gcn3d1(x)))
        x = self.tcn2(torch.relu_(self.sgcn2(x) + self.gcn3d2(x)))
        return self.tcn3(torch.relu_(self.sgcn3(x) + self.gcn3d3(x)))


# PYSKL's class names
MSG3DTCN = MSTCN = MultiScaleTCN
ST_MSGCN = STMSGCN
MW_MSG3DBlock = MWMSG3DBlock
