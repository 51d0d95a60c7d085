"""Building blocks shared by the GCN backbones: graph conv, temporal convs, kwarg routing.

The state_dict keys of every block are PYSKL's (``gcn.A``, ``gcn.PA``, ``gcn.conv``, ``gcn.bn``,
``gcn.down.0/1``, ``tcn.conv``, ``tcn.bn``, ``tcn.branches.i.*``, ``tcn.transform.0/2`` ...), so PYSKL
checkpoints load with ``strict=True``. Classes are CapWords; PYSKL's names (``unit_gcn``,
``unit_tcn``, ``mstcn``) are kept as aliases because configs and users refer to them.

Reference: PYSKL (Duan et al., "PYSKL: Towards Good Practices for Skeleton Action Recognition",
arXiv:2205.09443, https://github.com/kennymckormick/pyskl, Apache-2.0); ST-GCN (Yan et al., AAAI 2018).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "UnitGCN", "UnitTCN", "MSTCN", "unit_gcn", "unit_tcn", "mstcn",
    "split_prefixed", "build_norm", "build_act", "graph_conv", "graph_conv_reference",
    "graph_conv_channels_last", "shared_matrix_bmm", "fast_path", "set_reference_mode", "fuse_conv_bn",
    "memory_format", "bn_scale_shift", "activate_fresh", "foldable_norm",
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


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """``torch.channels_last`` for a channels-last (and not also NCHW-contiguous) 4-D tensor, else
    ``torch.contiguous_format``."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BN as a per-channel affine: ``bn(x) == x * scale + shift`` (channel dim 1)."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def activate_fresh(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(x)`` for a fresh ``x`` nobody else needs: a plain ReLU runs in place (no allocation)."""
    if type(act) is nn.ReLU:
        return torch.relu_(x)
    return act(x)


def graph_conv_reference(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """PYSKL's formulation: ``einsum('nkctv,kvw->nctw')`` on ``x`` [N, K, C, T, V], ``A`` [K, V, W]."""
    return torch.einsum("nkctv,kvw->nctw", x, A).contiguous()


def graph_conv(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Same contraction as :func:`graph_conv_reference`, as one batched matmul.

    ``x`` [N, K, C, T, V] is viewed as [N, K, C*T, V] so each subset is a plain matmul with ``A[k]``
    and the K results are summed; no permute/copy of the large activation is needed.
    """
    n, k, c, t, v = x.shape
    out = torch.matmul(x.reshape(n, k, c * t, v), A.unsqueeze(0))  # N, K, C*T, W
    return out.sum(1).view(n, c, t, A.shape[-1])


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has no per-device query
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


def _bmm_like(a: torch.Tensor, b: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``a @ b`` batched, computed transposed when ``like`` is a transposed (column-major) batch of
    matrices, so the result has ``like``'s memory layout."""
    if like.stride(-2) == 1 and like.stride(-1) != 1:
        return torch.bmm(b.transpose(1, 2), a.transpose(1, 2)).transpose(1, 2)
    return torch.bmm(a, b)


class _SharedMatrixBmm(torch.autograd.Function):
    """``matrix @ rows[i]`` for every i with one batched matmul over a stride-0 ``matrix``."""

    @staticmethod
    def forward(ctx: Any, matrix: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(matrix, rows)
        return torch.bmm(matrix.expand(rows.shape[0], -1, -1), rows)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        matrix, rows = ctx.saved_tensors
        grad_matrix = grad_rows = None
        if ctx.needs_input_grad[0]:
            # CUDA's addbmm is one small GEMM launch per batch entry: batched, then summed there
            if rows.shape[0] * matrix.numel() <= 1 << 23 or rows.device.type != "cpu":
                grad_matrix = torch.bmm(grad, rows.transpose(1, 2)).sum(0)
            else:  # accumulated in place: no [B, M, J] intermediate (800 x 750 x 125 in MS-G3D)
                grad_matrix = torch.addbmm(matrix.new_empty(matrix.shape), grad, rows.transpose(1, 2),
                                           beta=0)
        if ctx.needs_input_grad[1]:
            grad_rows = _bmm_like(matrix.t().expand(rows.shape[0], -1, -1), grad, rows)
        return grad_matrix, grad_rows


def shared_matrix_bmm(matrix: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``matrix`` [M, J] times each ``rows[i]`` [J, L] -> [B, M, L]: a 1x1 conv of [B, J, L] features.

    ``rows`` may be a channels-last activation seen as [B, C, T*V] (column-major matrices): BLAS reads
    it transposed, so neither it nor its gradient is copied into another layout. ``torch.matmul``
    would fold the batch into one GEMM and copy a transposed output instead.
    """
    if (torch.is_grad_enabled() and not torch.jit.is_tracing()
            and not _autocast_enabled(rows.device.type)):
        return _SharedMatrixBmm.apply(matrix, rows)
    return torch.bmm(matrix.expand(rows.shape[0], -1, -1), rows)


def graph_conv_channels_last(y: torch.Tensor, A: torch.Tensor, addend: torch.Tensor | None = None
                             ) -> torch.Tensor:
    """The graph contraction on a channels-last conv output ``y`` [N, K*C, T, V] (memory N, T, V, K*C).

    In that memory order each (n, t) holds a [V*K, C] matrix, so the contraction is a batched matmul
    with ``A`` laid out as [W, V*K]; the result [N*T, W, C] is already the channels-last layout of
    [N, C, T, W]. No activation is permuted or copied. ``addend`` (inference only: a channels-last
    tensor broadcastable to [N, C, T, W]) is added by the matmul itself (``baddbmm``).
    """
    n, kc, t, v = y.shape
    k, w = A.shape[0], A.shape[-1]
    c = kc // k
    rows = y.permute(0, 2, 3, 1).reshape(n * t, v * k, c)  # a view when y is channels-last
    matrix = A.permute(2, 1, 0).reshape(w, v * k)
    if addend is not None:
        base = addend.expand(n, c, t, w).permute(0, 2, 3, 1).reshape(n * t, w, c)  # a view if channels-last
        out = torch.baddbmm(base, matrix.expand(n * t, -1, -1), rows)
    else:
        out = shared_matrix_bmm(matrix, rows)  # N*T, W, C
    return out.view(n, t, w, c).permute(0, 3, 1, 2)


def fast_path(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``module`` takes its CPU-tuned formulation for ``x``: not in ``reference_mode`` and ``x``
    on the CPU.

    The channels-last layouts and batched matmuls are tuned for oneDNN/MKL. On CUDA, PYSKL's NCHW
    formulation is faster (H200, batch 16: ST-GCN++ trains 5.6x and MS-G3D 2x faster with it), so
    every other device takes that one.
    """
    return not module.reference_mode and x.device.type == "cpu"


def set_reference_mode(module: nn.Module, enabled: bool = True) -> nn.Module:
    """Switch every block under ``module`` to PYSKL's plain formulation (NCHW + einsum) or back.

    The reference path is kept for benchmarking and for checking the fast path; both give the same
    outputs up to float rounding.
    """
    for sub in module.modules():
        if hasattr(sub, "reference_mode"):
            sub.reference_mode = enabled
    return module


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
        self.reference_mode = False
        self.shift_in_res = False
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
        self.register_buffer("bn_shift", None)  # set by fold_bn (inference only)
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
        if self.adaptive == "offset":
            return self.A + self.PA
        if self.adaptive == "importance":
            return self.A * self.PA
        return self.A

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        n, _, t, v = x.shape  # N*M, C, T, V
        res = self.down(x) if self.with_res else None
        A = self.adjacency()
        if self.conv_pos == "pre":
            y = self.conv(x)
            if not fast_path(self, y):
                x = graph_conv_reference(y.contiguous().view(n, self.num_subsets, -1, t, v), A)
            elif memory_format(y) == torch.channels_last:
                if self.bn_shift is not None:  # BN folded by fuse_conv_bn: shift + residual in the matmul
                    return activate_fresh(self.act, graph_conv_channels_last(y, A, self._folded_addend(res)))
                x = graph_conv_channels_last(y, A)
            else:
                x = graph_conv(y.contiguous().view(n, self.num_subsets, -1, t, v), A)
        else:
            x = torch.einsum("nctv,kvw->nkctw", x, A).reshape(n, -1, t, v)
            x = self.conv(x)
        x = self.bn(x)
        if self.bn_shift is not None:
            x = x + self._folded_addend(res)
        elif res is not None:
            x = x + res
        return activate_fresh(self.act, x)

    def _folded_addend(self, res: torch.Tensor | None) -> torch.Tensor:
        if res is None:
            return self.bn_shift.view(1, -1, 1, 1)
        if self.shift_in_res:
            return res
        return res + self.bn_shift.view(1, -1, 1, 1)

    def fold_bn(self) -> bool:
        """Fold ``bn`` into ``conv`` (``conv_pos='pre'``, eval only); ``False`` when it cannot be folded.

        The graph contraction is linear, so BN's per-channel scale goes into the conv rows of every
        subset; its shift is added after the contraction: by the residual conv's bias when there is
        one, else by the batched matmul (``baddbmm``).
        """
        if self.conv_pos != "pre" or not foldable_norm(self.bn, self.out_channels):
            return False
        with torch.no_grad():
            scale, shift = bn_scale_shift(self.bn)
            rows = scale.repeat(self.num_subsets)  # conv channel k*C + c -> scale[c]
            self.conv.weight.mul_(rows.view(-1, 1, 1, 1))
            self.conv.bias.mul_(rows)
        self.bn = nn.Identity()
        down = self.down if self.with_res else None
        self.shift_in_res = (isinstance(down, nn.Sequential) and isinstance(down[0], nn.Conv2d)
                             and down[0].bias is not None
                             and all(isinstance(m, nn.Identity) for m in down[1:]))
        if self.shift_in_res:
            with torch.no_grad():
                down[0].bias.add_(shift)
        self.bn_shift = shift
        return True


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
        self.reference_mode = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Merging the branch convs pays off in inference only: in training the channel slices it
        # hands to the branch tails cost extra copies forward and backward (measured slower).
        if not fast_path(self, x) or self.training or not self._can_merge():
            feat = torch.cat([branch(x) for branch in self.branches], dim=1)
        else:
            feat = self._merged_branches(x)
        return self.drop(self.bn(self.transform(feat)))

    def _can_merge(self) -> bool:
        seq = [b for b in self.branches if isinstance(b, nn.Sequential)]
        norms = [b[1] for b in seq]
        if all(isinstance(n, nn.Identity) for n in norms):  # BNs folded by fuse_conv_bn
            return True
        return all(type(n) is nn.BatchNorm2d and n.momentum is not None and n.track_running_stats
                   and n.eps == norms[0].eps and n.momentum == norms[0].momentum for n in norms)

    def _merged_branches(self, x: torch.Tensor) -> torch.Tensor:
        """All branches, with the 1x1 convs (and their BNs) of the sequential branches run as one.

        Same values as running the branches one by one (per-channel convs and batch statistics are
        independent of each other), but one conv/BN/ReLU call instead of one per branch.
        """
        seq = [b for b in self.branches if isinstance(b, nn.Sequential)]
        weight = torch.cat([b[0].weight for b in seq])
        bias = torch.cat([b[0].bias for b in seq])
        y = F.conv2d(x, weight, bias)
        norms = [b[1] for b in seq]
        if not isinstance(norms[0], nn.Identity):
            y = self._merged_batch_norm(y, norms)
        y = torch.relu_(y)
        outs, start = [], 0
        for branch in self.branches:
            if isinstance(branch, nn.Sequential):
                width = branch[0].out_channels
                outs.append(branch[3](y[:, start:start + width]))
                start += width
            else:
                outs.append(branch(x))
        return torch.cat(outs, dim=1)

    def _merged_batch_norm(self, y: torch.Tensor, norms: list) -> torch.Tensor:
        mean = torch.cat([n.running_mean for n in norms])
        var = torch.cat([n.running_var for n in norms])
        out = F.batch_norm(y, mean, var, torch.cat([n.weight for n in norms]),
                           torch.cat([n.bias for n in norms]), self.training, norms[0].momentum,
                           norms[0].eps)
        if self.training:  # F.batch_norm updated the concatenated copies: write them back
            with torch.no_grad():
                for n, m, v in zip(norms, mean.split([n.num_features for n in norms]),
                                   var.split([n.num_features for n in norms])):
                    n.running_mean.copy_(m)
                    n.running_var.copy_(v)
                    n.num_batches_tracked.add_(1)
        return out


# PYSKL's names (configs say tcn_type='mstcn'; users import unit_gcn / unit_tcn)
unit_gcn = UnitGCN
unit_tcn = UnitTCN
mstcn = MSTCN


def _fuse(conv: nn.Conv2d, bn: nn.Module) -> nn.Module:
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    return fuse_conv_bn_eval(conv, bn)


def foldable_norm(bn: nn.Module, channels: int) -> bool:
    """Whether ``bn`` is a plain BatchNorm2d with running statistics over ``channels`` (foldable)."""
    return (type(bn) is nn.BatchNorm2d and bn.track_running_stats and bn.running_mean is not None
            and bn.num_features == channels)


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return isinstance(conv, nn.Conv2d) and foldable_norm(bn, conv.out_channels)


def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm2d that directly follows a Conv2d into that conv, in place (inference only).

    Covers ``Sequential(conv, bn, ...)`` (mstcn branches, ``gcn.down``), :class:`UnitTCN` (``conv`` ->
    ``bn``), :class:`MSTCN` (``transform[2]`` -> ``bn``) and every module with a ``fold_bn()`` method
    (:class:`UnitGCN`: ``conv`` -> graph -> ``bn``; MS-G3D's window collapse: ``out_conv`` ->
    ``out_bn``). The model computes the same function in
    eval mode but its state_dict changes (folded BNs disappear): use it on an eval copy, e.g.
    ``fuse_conv_bn(copy.deepcopy(model).eval())``.
    """
    if module.training:
        raise RuntimeError("fuse_conv_bn is for eval-mode models (call .eval() first)")
    for child in module.children():
        fuse_conv_bn(child)
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if _foldable(conv, bn):
                module._modules[first] = _fuse(conv, bn)
                module._modules[second] = nn.Identity()
    elif isinstance(module, UnitTCN) and _foldable(module.conv, module.bn):
        module.conv, module.bn = _fuse(module.conv, module.bn), nn.Identity()
    elif isinstance(module, MSTCN) and _foldable(module.transform[2], module.bn):
        module.transform[2], module.bn = _fuse(module.transform[2], module.bn), nn.Identity()
    elif callable(getattr(module, "fold_bn", None)):
        module.fold_bn()  # after its children (UnitGCN: a residual conv + BN is already one conv)
    return module
