"""Layers shared by the GCN backbones: graph conv, temporal convs, kwarg routing.

Each layer has one ``forward``, PYSKL's formulation, on every device. Faster forms (channels-last
kernels, BatchNorm folded into convs, merged branches) are separate modules swapped in explicitly by
:func:`pyskl.models.deploy.prepare`; an unconverted model computes exactly what is written here.

The state_dict keys of every block are PYSKL's (``gcn.A``, ``gcn.PA``, ``gcn.conv``, ``gcn.bn``,
``gcn.down.0/1``, ``tcn.conv``, ``tcn.bn``, ``tcn.branches.i.*``, ``tcn.transform.0/2`` ...), so PYSKL
checkpoints load with ``strict=True``. Classes are CapWords; PYSKL's names (``unit_gcn``,
``unit_tcn``, ``mstcn``) are kept as aliases because configs and users refer to them.

Reference: PYSKL (Duan et al., "PYSKL: Towards Good Practices for Skeleton Action Recognition",
arXiv:2205.09443, https://github.com/kennymckormick/pyskl, Apache-2.0); ST-GCN (Yan et al., AAAI 2018);
MS-G3D (Liu et al., CVPR 2020, arXiv:2003.14111) for :class:`MultiScaleTCN`.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

__all__ = [
    "UnitGCN", "UnitTCN", "MSTCN", "MultiScaleTCN", "unit_gcn", "unit_tcn", "mstcn",
    "split_prefixed", "build_norm", "build_act", "DEFAULT_MS_CFG", "ZeroResidual", "make_residual",
    "per_stage_kwargs",
]

_NORMS = {"BN": nn.BatchNorm2d, "BN2d": nn.BatchNorm2d, "SyncBN": nn.BatchNorm2d,
          "BN1d": nn.BatchNorm1d, "IN": nn.InstanceNorm2d}
_ACTS = {"ReLU": nn.ReLU, "LeakyReLU": nn.LeakyReLU, "PReLU": nn.PReLU, "ReLU6": nn.ReLU6,
         "ELU": nn.ELU, "GELU": nn.GELU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh,
         "SiLU": nn.SiLU, "Swish": nn.SiLU, "Hardswish": nn.Hardswish, "HSwish": nn.Hardswish,
         "Hardsigmoid": nn.Hardsigmoid, "HSigmoid": nn.Hardsigmoid, "Identity": nn.Identity}


def split_prefixed(kwargs: dict[str, Any], prefixes: Sequence[str] = ("gcn_", "tcn_")
                   ) -> tuple[dict[str, Any], ...]:
    """Route ``gcn_x=1, tcn_y=2`` style kwargs to one dict per prefix (prefix stripped).

    Raises:
        TypeError: naming any key that has none of the prefixes.
    """
    routed: tuple[dict[str, Any], ...] = tuple({} for _ in prefixes)
    leftover = []
    for key, value in kwargs.items():
        for i, prefix in enumerate(prefixes):
            if key.startswith(prefix):
                routed[i][key[len(prefix):]] = value
                break
        else:
            leftover.append(key)
    if leftover:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(sorted(leftover))}; "
                        f"block kwargs must start with one of {', '.join(prefixes)}")
    return routed


def _as_cfg(spec: Any) -> dict[str, Any]:
    return dict(spec) if isinstance(spec, dict) else dict(type=spec)


def build_norm(norm: str | dict | None, channels: int) -> nn.Module:
    """A norm layer from a PYSKL/mmcv-style name or dict (``'BN'``, ``dict(type='BN')``); None -> Identity."""
    if norm is None:
        return nn.Identity()
    cfg = _as_cfg(norm)
    kind = cfg.pop("type")
    cfg.pop("requires_grad", None)
    if kind not in _NORMS:
        raise KeyError(f"unknown norm type {kind!r}; known: {', '.join(_NORMS)}")
    return _NORMS[kind](channels, **cfg)


def build_act(act: str | dict | None) -> nn.Module:
    """An activation from a name or dict (``'ReLU'``, ``dict(type='LeakyReLU', negative_slope=0.1)``)."""
    if act is None:
        return nn.Identity()
    cfg = _as_cfg(act)
    kind = cfg.pop("type")
    if kind not in _ACTS:
        raise KeyError(f"unknown activation type {kind!r}; known: {', '.join(_ACTS)}")
    return _ACTS[kind](**cfg)


class ZeroResidual(nn.Module):
    """The residual of a block without one (PYSKL ``lambda x: 0``); holds no keys."""

    def forward(self, x: torch.Tensor) -> int:
        return 0


def make_residual(in_channels: int, out_channels: int, stride: int, residual: bool) -> nn.Module:
    """PYSKL's block residual: none, identity, or a strided 1x1 ``unit_tcn`` (conv + BN)."""
    if not residual:
        return ZeroResidual()
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)


class UnitGCN(nn.Module):
    """Spatial graph convolution (PYSKL ``unit_gcn``).

    Args:
        in_channels: input channels C_in.
        out_channels: output channels C_out.
        A: adjacency tensor [K, V, V].
        adaptive: None / ``'init'`` (A learnable, a Parameter) / ``'offset'`` (A buffer + PA,
            uses ``A + PA``) / ``'importance'`` (A buffer + PA init 1, uses ``A * PA``).
        conv_pos: ``'pre'`` (1x1 conv to K*C_out then graph) or ``'post'`` (graph then 1x1 conv).
        with_res: add a (1x1 conv + norm) or identity residual inside the unit before ``act``.
        norm: norm layer name/cfg.
        act: activation name/cfg.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, T, V]
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor,
                 adaptive: str | None = "importance", conv_pos: str = "pre", with_res: bool = False,
                 norm: str | dict | None = "BN", act: str | dict | None = "ReLU") -> None:
        super().__init__()
        if adaptive not in (None, "init", "offset", "importance"):
            raise ValueError(f"unit_gcn adaptive must be None, 'init', 'offset' or 'importance', "
                             f"got {adaptive!r}")
        if conv_pos not in ("pre", "post"):
            raise ValueError(f"unit_gcn conv_pos must be 'pre' or 'post', got {conv_pos!r}")
        A = torch.as_tensor(A, dtype=torch.float32)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_subsets = A.size(0)
        self.adaptive = adaptive
        self.conv_pos = conv_pos
        self.with_res = with_res
        # registration order = PYSKL's, so state_dict key order matches
        self.bn = build_norm(norm, out_channels)
        self.act = build_act(act)
        if adaptive == "init":
            self.A = nn.Parameter(A.clone())
        else:
            self.register_buffer("A", A.clone())
        if adaptive in ("offset", "importance"):
            self.PA = nn.Parameter(A.clone())
            if adaptive == "offset":
                nn.init.uniform_(self.PA, -1e-6, 1e-6)
            else:
                nn.init.constant_(self.PA, 1)
        if conv_pos == "pre":
            self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, 1)
        else:
            self.conv = nn.Conv2d(self.num_subsets * in_channels, out_channels, 1)
        if with_res:
            if in_channels != out_channels:
                self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1),
                                          build_norm(norm, out_channels))
            else:
                self.down = nn.Identity()

    def adjacency(self) -> torch.Tensor:
        """The graph [K, V, V] the unit aggregates with (``A``, ``A + PA`` or ``A * PA``)."""
        if self.adaptive == "offset":
            return self.A + self.PA
        if self.adaptive == "importance":
            return self.A * self.PA
        return self.A

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        n, _, t, v = x.shape  # N*M, C, T, V
        res = self.down(x) if self.with_res else 0
        A = self.adjacency()
        if self.conv_pos == "pre":
            x = self.conv(x).reshape(n, self.num_subsets, -1, t, v)  # N, K, C, T, V
            x = torch.einsum("nkctv,kvw->nctw", x, A).contiguous()
        else:
            x = torch.einsum("nctv,kvw->nkctw", x, A).reshape(n, -1, t, v)  # N, K*C, T, V
            x = self.conv(x)
        return self.act(self.bn(x) + res)


class UnitTCN(nn.Module):
    """Temporal convolution (kernel_size x 1) + norm + dropout (PYSKL ``unit_tcn``).

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, ceil(T / stride), V]
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9, stride: int = 1,
                 dilation: int = 1, norm: str | dict | None = "BN", dropout: float = 0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(kernel_size, 1),
                              padding=(pad, 0), stride=(stride, 1), dilation=(dilation, 1))
        self.bn = build_norm(norm, out_channels)
        self.drop = nn.Dropout(dropout, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.bn(self.conv(x)))

    def init_weights(self) -> None:
        """Kaiming-normal (fan_out) conv, zero bias, BN weight 1 / bias 0 (CTR-GCN's init)."""
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.constant_(self.conv.bias, 0)
        if isinstance(self.bn, nn.BatchNorm2d):
            nn.init.constant_(self.bn.weight, 1)
            nn.init.constant_(self.bn.bias, 0)


DEFAULT_MS_CFG = ((3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1")


class MSTCN(nn.Module):
    """Multi-scale temporal convolution of ST-GCN++ (PYSKL ``mstcn``).

    Branches (in ``ms_cfg`` order): ``(k, d)`` = Conv1x1 -> BN -> ReLU -> unit_tcn(k, dilation d,
    norm=None); ``('max', k)`` = Conv1x1 -> BN -> ReLU -> MaxPool(k x 1); ``'1x1'`` = strided Conv1x1.
    Outputs are concatenated, then ``transform`` (BN -> ReLU -> Conv1x1), ``bn`` and dropout.
    Branch 0 gets the remainder channels (64 -> 14, 10, 10, 10, 10, 10), as in PYSKL.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, ceil(T / stride), V]
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: float | None = None,
                 dropout: float = 0.0, ms_cfg: Sequence[Any] = DEFAULT_MS_CFG, stride: int = 1) -> None:
        super().__init__()
        ms_cfg = [tuple(c) if isinstance(c, list) else c for c in ms_cfg]
        self.ms_cfg = ms_cfg
        num_branches = len(ms_cfg)
        self.num_branches = num_branches
        self.in_channels = in_channels
        self.out_channels = out_channels
        # in place: it always follows a BatchNorm, whose backward does not need its output
        self.act = nn.ReLU(inplace=True)
        if mid_channels is None:
            mid = out_channels // num_branches
            rem = out_channels - mid * (num_branches - 1)
        else:
            if not (isinstance(mid_channels, float) and mid_channels > 0):
                raise ValueError(f"mstcn mid_channels must be a positive float ratio, got {mid_channels!r}")
            mid = rem = int(out_channels * mid_channels)
        self.mid_channels = mid
        self.rem_mid_channels = rem

        branches: list[nn.Module] = []
        for i, cfg in enumerate(ms_cfg):
            c = rem if i == 0 else mid
            if cfg == "1x1":
                branches.append(nn.Conv2d(in_channels, c, kernel_size=1, stride=(stride, 1)))
                continue
            if not isinstance(cfg, tuple) or len(cfg) != 2:
                raise ValueError(f"bad mstcn branch cfg {cfg!r}: expected (kernel, dilation), "
                                 f"('max', k) or '1x1'")
            head = [nn.Conv2d(in_channels, c, kernel_size=1), nn.BatchNorm2d(c), self.act]
            if cfg[0] == "max":
                # PYSKL pads by 1 whatever the pooling kernel
                tail: nn.Module = nn.MaxPool2d(kernel_size=(cfg[1], 1), stride=(stride, 1), padding=(1, 0))
            else:
                tail = UnitTCN(c, c, kernel_size=cfg[0], stride=stride, dilation=cfg[1], norm=None)
            branches.append(nn.Sequential(*head, tail))
        self.branches = nn.ModuleList(branches)
        tin = mid * (num_branches - 1) + rem
        self.transform = nn.Sequential(nn.BatchNorm2d(tin), self.act,
                                       nn.Conv2d(tin, out_channels, kernel_size=1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.drop(self.bn(self.transform(feat)))


class MultiScaleTCN(nn.Module):
    """Multi-scale temporal conv of MS-G3D / CTR-GCN (PYSKL ``MSTCN`` in ``msg3d_utils``).

    Branches: one per dilation = Conv1x1 -> BN -> ReLU -> ``unit_tcn(kernel, dilation, stride)``;
    then Conv1x1 -> BN -> ReLU -> MaxPool(3x1, stride) -> BN; then a strided Conv1x1 -> BN that
    gets the remainder channels. Concatenated, plus residual, -> ``act`` -> dropout.

    Shape:
        x: [N, C_in, T, V] -> [N, C_out, ceil(T / stride), V]
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int] = 3,
                 stride: int = 1, dilations: Sequence[int] = (1, 2, 3, 4), residual: bool = True,
                 residual_kernel_size: int = 1, tcn_dropout: float = 0) -> None:
        super().__init__()
        num_branches = len(dilations) + 2
        if out_channels % num_branches:
            raise ValueError(f"MSTCN out_channels={out_channels} must divide into {num_branches} branches")
        mid = out_channels // num_branches
        rem = out_channels - mid * (num_branches - 1)
        if isinstance(kernel_size, (list, tuple)):
            kernels = list(kernel_size)
        else:
            kernels = [kernel_size] * len(dilations)
        if len(kernels) != len(dilations):
            raise ValueError(f"MSTCN got {len(kernels)} kernel sizes for {len(dilations)} dilations")
        # the ReLUs follow BatchNorms (whose backward does not need their output): in place
        branches = [nn.Sequential(
            nn.Conv2d(in_channels, mid, kernel_size=1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            UnitTCN(mid, mid, kernel_size=k, stride=stride, dilation=d))
            for k, d in zip(kernels, dilations)]
        branches.append(nn.Sequential(
            nn.Conv2d(in_channels, mid, kernel_size=1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 1), stride=(stride, 1), padding=(1, 0)), nn.BatchNorm2d(mid)))
        branches.append(nn.Sequential(
            nn.Conv2d(in_channels, rem, kernel_size=1, stride=(stride, 1)), nn.BatchNorm2d(rem)))
        self.branches = nn.ModuleList(branches)
        if not residual:
            self.residual: nn.Module = ZeroResidual()
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = UnitTCN(in_channels, out_channels, kernel_size=residual_kernel_size,
                                    stride=stride)
        self.act: nn.Module = nn.ReLU()
        self.drop = nn.Dropout(tcn_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.drop(self.act(out + self.residual(x)))


# PYSKL's names (configs say tcn_type='mstcn'; users import unit_gcn / unit_tcn)
unit_gcn = UnitGCN
unit_tcn = UnitTCN
mstcn = MSTCN


def per_stage_kwargs(kwargs: dict[str, Any], num_stages: int) -> list[dict[str, Any]]:
    """One kwargs dict per stage: a tuple value of length ``num_stages`` gives stage ``i`` its ``i``-th
    item, any other value goes to every stage; the first stage never gets ``tcn_dropout`` (PYSKL)."""
    stages = [dict(kwargs) for _ in range(num_stages)]
    for key, value in kwargs.items():
        if isinstance(value, tuple) and len(value) == num_stages:
            for i in range(num_stages):
                stages[i][key] = value[i]
    stages[0].pop("tcn_dropout", None)
    return stages
