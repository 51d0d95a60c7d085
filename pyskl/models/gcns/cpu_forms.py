"""CPU forms of the GCN layers: same parameters, same function, a faster formulation for oneDNN/MKL.

Each class here subclasses the layer it replaces (so it has that layer's parameters, buffers and
state_dict keys) and overrides only ``forward``; :func:`pyskl.models.deploy.prepare` builds them with
``from_module`` and never from scratch. Activations are channels-last (memory N, T, V, C, set at the
model boundary by ``prepare``): convs then need no layout reorders and the graph contractions become
batched matmuls over the per-frame [V, C] matrices with no permute or copy of the activation. Every
form accepts any input layout and gives the plain layer's values (tests compare them in float64).

``Folded*`` forms are inference forms: BatchNorm's running statistics are folded into the
preceding conv once, so the module must not be trained afterwards.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import MSTCN, MultiScaleTCN, UnitGCN, ZeroResidual
from .ctrgcn import UnitCTRGCN
from .msg3d import MSGCN, STMSGCN, UnfoldTemporalWindows

__all__ = ["ChannelsLastUnitGCN", "FoldedUnitGCN", "MergedMSTCN", "ChannelsLastMultiScaleTCN",
           "ChannelsLastUnitCTRGCN", "FoldedUnitCTRGCN", "ChannelsLastMSGCN", "ChannelsLastSTMSGCN",
           "ChannelsLastUnfold", "graph_conv_channels_last", "shared_matrix_bmm", "bn_scale_shift"]


def _rebuild(cls: type, module: nn.Module) -> Any:
    """An instance of ``cls`` holding ``module``'s parameters, buffers, submodules and attributes."""
    new = cls.__new__(cls)
    new.__dict__.update(module.__dict__)
    return new


def bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BN as a per-channel affine: ``bn(x) == x * scale + shift`` (channel dim 1)."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _relu_fresh(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(x)`` for a fresh ``x`` nobody else needs: a plain ReLU runs in place (no allocation)."""
    return torch.relu_(x) if type(act) is nn.ReLU else act(x)


class _SharedMatrixBmm(torch.autograd.Function):
    """``matrix @ rows[i]`` for every i with one batched matmul over a stride-0 ``matrix``."""

    @staticmethod
    def forward(ctx: Any, matrix: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(matrix, rows)
        return torch.bmm(matrix.expand(rows.shape[0], -1, -1), rows)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        matrix, rows = ctx.saved_tensors
        # under autocast the forward ran in the lower precision; the saved inputs may be fp32
        matrix, rows = matrix.to(grad.dtype), rows.to(grad.dtype)
        grad_matrix = grad_rows = None
        if ctx.needs_input_grad[0]:
            if rows.shape[0] * matrix.numel() <= 1 << 23:
                grad_matrix = torch.bmm(grad, rows.transpose(1, 2)).sum(0)
            else:  # accumulated in place: no [B, M, J] intermediate for large batches
                grad_matrix = torch.addbmm(matrix.new_empty(matrix.shape), grad, rows.transpose(1, 2), beta=0)
        if ctx.needs_input_grad[1]:
            grad_rows = _bmm_like(matrix.t().expand(rows.shape[0], -1, -1), grad, rows)
        return grad_matrix, grad_rows


def _bmm_like(a: torch.Tensor, b: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``a @ b`` batched, computed transposed when ``like`` is a transposed (column-major) batch of
    matrices, so the result has ``like``'s memory layout."""
    if like.stride(-2) == 1 and like.stride(-1) != 1:
        return torch.bmm(b.transpose(1, 2), a.transpose(1, 2)).transpose(1, 2)
    return torch.bmm(a, b)


def shared_matrix_bmm(matrix: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``matrix`` [M, J] times each ``rows[i]`` [J, L] -> [B, M, L]: a 1x1 conv of [B, J, L] features.

    ``rows`` may be a channels-last activation seen as [B, C, T*V] (column-major matrices): BLAS reads
    it transposed, so neither it nor its gradient is copied into another layout. ``torch.matmul``
    would fold the batch into one GEMM and copy a transposed output instead.
    """
    return _SharedMatrixBmm.apply(matrix, rows)


def graph_conv_channels_last(y: torch.Tensor, A: torch.Tensor, addend: torch.Tensor | None = None
                             ) -> torch.Tensor:
    """``einsum('nkctv,kvw->nctw')`` of a conv output ``y`` [N, K*C, T, V] (memory N, T, V, K*C).

    In that memory order each (n, t) holds a [V*K, C] matrix, so the contraction is a batched matmul
    with ``A`` laid out as [W, V*K]; the result [N*T, W, C] is already the channels-last layout of
    [N, C, T, W]. ``addend`` (a tensor broadcastable to [N, C, T, W]) is added by the matmul itself.
    """
    n, kc, t, v = y.shape
    k, w = A.shape[0], A.shape[-1]
    c = kc // k
    rows = y.permute(0, 2, 3, 1).reshape(n * t, v * k, c)  # a view when y is channels-last
    matrix = A.permute(2, 1, 0).reshape(w, v * k)
    if addend is None:
        out = shared_matrix_bmm(matrix, rows)  # N*T, W, C
    else:
        base = addend.expand(n, c, t, w).permute(0, 2, 3, 1).reshape(n * t, w, c)
        out = torch.baddbmm(base, matrix.expand(n * t, -1, -1), rows)
    return out.view(n, t, w, c).permute(0, 3, 1, 2)


class ChannelsLastUnitGCN(UnitGCN):
    """:class:`UnitGCN` (``conv_pos='pre'``) with the graph contraction as a channels-last batched matmul."""

    @classmethod
    def from_module(cls, unit: UnitGCN) -> ChannelsLastUnitGCN:
        return _rebuild(cls, unit)

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        res = self.down(x) if self.with_res else 0
        x = graph_conv_channels_last(self.conv(x), self.adjacency())  # N, C, T, V
        return _relu_fresh(self.act, self.bn(x) + res)


class FoldedUnitGCN(UnitGCN):
    """Inference :class:`UnitGCN` (``conv_pos='pre'``): ``bn`` folded into ``conv``.

    The graph contraction is linear, so BN's per-channel scale goes into the conv rows of every
    subset; its shift is added after the contraction, by the residual conv's bias when there is one,
    else by the batched matmul (``baddbmm``) together with the residual.
    """

    @classmethod
    def from_module(cls, unit: UnitGCN) -> FoldedUnitGCN:
        new = _rebuild(cls, unit)
        with torch.no_grad():
            scale, shift = bn_scale_shift(unit.bn)
            rows = scale.repeat(unit.num_subsets)  # conv channel k*C + c -> scale[c]
            new.conv.weight.mul_(rows.view(-1, 1, 1, 1))
            new.conv.bias.mul_(rows)
        new.bn = nn.Identity()
        down = unit.down if unit.with_res else None
        # a folded residual conv (its BN already folded) takes the shift into its bias
        new.shift_in_res = (isinstance(down, nn.Sequential) and isinstance(down[0], nn.Conv2d)
                            and all(isinstance(m, nn.Identity) for m in down[1:]))
        if new.shift_in_res:
            with torch.no_grad():
                down[0].bias.add_(shift)
        new.register_buffer("bn_shift", shift.detach().view(1, -1, 1, 1))
        return new

    def forward(self, x: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        if not self.with_res:
            addend = self.bn_shift
        elif self.shift_in_res:
            addend = self.down(x)
        else:
            addend = self.down(x) + self.bn_shift
        return _relu_fresh(self.act, graph_conv_channels_last(self.conv(x), self.adjacency(), addend))


class MergedMSTCN(MSTCN):
    """Inference :class:`MSTCN` with folded BNs: the first 1x1 convs of all sequential branches run
    as one conv (one conv and one ReLU call instead of one per branch; the convs are per output
    channel, so the values are those of the branches run one by one)."""

    @classmethod
    def from_module(cls, tcn: MSTCN) -> MergedMSTCN:
        return _rebuild(cls, tcn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = [b for b in self.branches if isinstance(b, nn.Sequential)]
        weight = torch.cat([b[0].weight for b in seq])
        bias = torch.cat([b[0].bias for b in seq])
        y = torch.relu_(F.conv2d(x, weight, bias))
        outs, start = [], 0
        for branch in self.branches:
            if isinstance(branch, nn.Sequential):
                width = branch[0].out_channels
                outs.append(branch[3](y[:, start:start + width]))
                start += width
            else:
                outs.append(branch(x))
        return self.drop(self.bn(self.transform(torch.cat(outs, dim=1))))


class _ContiguousGrad(torch.autograd.Function):
    """Identity; the backward hands on its gradient made contiguous in the input's memory layout."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.layout = (torch.channels_last if x.dim() == 4 and not x.is_contiguous()
                      and x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=ctx.layout)


class ChannelsLastMultiScaleTCN(MultiScaleTCN):
    """:class:`MultiScaleTCN` whose branches get contiguous gradients and whose residual add and
    activation run in place on the fresh concatenation.

    The concatenation's backward hands each branch a strided channel slice of its gradient; every
    branch ends in a BatchNorm, whose CPU backward is much slower on a strided gradient than on a
    contiguous copy.
    """

    @classmethod
    def from_module(cls, tcn: MultiScaleTCN) -> ChannelsLastMultiScaleTCN:
        return _rebuild(cls, tcn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([_ContiguousGrad.apply(branch(x)) for branch in self.branches], dim=1)
        if not isinstance(self.residual, ZeroResidual):
            out += self.residual(x)  # out is fresh and the concatenation's backward needs no values
        return self.drop(_relu_fresh(self.act, out))


class ChannelsLastUnitCTRGCN(UnitCTRGCN):
    """:class:`UnitCTRGCN` with all K subsets computed together: the relation graphs of every subset
    in a few matmuls, then per subset a GEMM (``conv3``) and a batched matmul accumulated in place;
    the output is channels-last."""

    @classmethod
    def from_module(cls, unit: UnitCTRGCN) -> ChannelsLastUnitCTRGCN:
        return _rebuild(cls, unit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.aggregate(x)).contiguous(memory_format=torch.channels_last)
        return torch.relu_(y.add_(self.down(x)))

    def relation_graphs(self, x: torch.Tensor) -> torch.Tensor:
        """Every subset's refined graph ``alpha * conv4(tanh(phi_u - psi_v)) + A_k``: [K, N, C, U, V].

        ``conv4``, its bias, ``alpha`` and ``A_k`` are one matmul: the relation maps get two extra rows
        (ones and ``A_k``) that the weights [alpha * W4, alpha * b4, 1] pick up.
        """
        n, c_in, _, v = x.shape
        k, r = self.num_subsets, self.convs[0].rel_channels
        pooled = x.mean(2)  # N, C_in, V (a 1x1 conv commutes with the temporal mean)
        w12 = torch.cat([w for m in self.convs for w in (m.conv1.weight, m.conv2.weight)])
        b12 = torch.cat([b for m in self.convs for b in (m.conv1.bias, m.conv2.bias)])
        phi_psi = (torch.matmul(w12.view(-1, c_in), pooled) + b12.unsqueeze(-1)).view(n, k, 2, r, v)
        rel = torch.tanh(phi_psi[:, :, 0].unsqueeze(-1) - phi_psi[:, :, 1].unsqueeze(-2))  # N, K, R, U, V
        rel = torch.cat([rel.reshape(n, k, r, v * v), rel.new_ones(n, k, 1, v * v),
                         self.A.view(1, k, 1, v * v).expand(n, -1, -1, -1)], 2)
        w4 = torch.stack([m.conv4.weight.view(-1, r) for m in self.convs])  # K, C, R
        b4 = torch.stack([m.conv4.bias for m in self.convs]).unsqueeze(-1)  # K, C, 1
        weight = torch.cat([torch.cat([w4, b4], -1) * self.alpha, torch.ones_like(b4)], -1)
        graph = torch.matmul(weight.unsqueeze(1), rel.transpose(0, 1))  # K, N, C, U*V
        return graph.view(k, n, -1, v, v)

    def aggregate(self, x: torch.Tensor, scale: torch.Tensor | None = None,
                  shift: torch.Tensor | None = None) -> torch.Tensor:
        """``sum_k CTRGC_k(x)`` [* scale + shift per channel], NCHW [N, C, T, V].

        ``conv3`` runs as a plain GEMM (reading a channels-last input as a transposed matrix), so its
        output is the NCHW [N*C, T, U] batch the per-channel matmul needs, with no reorder. Its bias
        is applied after the aggregation, as ``b_k[c] * sum_u G_k[n, c, u, v]``.
        """
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        graphs = self.relation_graphs(x)  # K, N, C, U, V
        b3 = torch.stack([m.conv3.bias for m in self.convs]).view(k, 1, c, 1)
        bias = (graphs.sum(-2) * b3).sum(0)  # N, C, V
        if scale is not None:  # the per-channel affine commutes with the per-channel aggregation
            bias = bias * scale.view(c, 1) + shift.view(c, 1)
        rows = x.flatten(2)
        out = None
        # unbind, not indexing: its backward stacks the K gradients instead of zero-filling K copies
        for m, graph in zip(self.convs, graphs.view(k, n * c, v, v).unbind(0)):
            weight = m.conv3.weight.view(c, c_in)
            if scale is not None:
                weight = weight * scale.view(c, 1)
            feat = shared_matrix_bmm(weight, rows).view(n * c, t, v)
            if out is None:
                out = torch.baddbmm(bias.view(n * c, 1, v), feat, graph)
            else:
                out = out.baddbmm_(feat, graph)
        return out.view(n, c, t, v)


class FoldedUnitCTRGCN(ChannelsLastUnitCTRGCN):
    """Inference :class:`UnitCTRGCN`: ``bn`` applied inside the aggregation (its per-channel affine
    commutes with it) and the residual add writing the channels-last result directly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, shift = bn_scale_shift(self.bn)
        y = self.aggregate(x, scale, shift)
        out = torch.empty_like(y, memory_format=torch.channels_last)
        torch.add(y, self.down(x), out=out)
        return torch.relu_(out)


def _multiscale_aggregate_channels_last(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``msg3d.multiscale_aggregate`` with a channels-last result [N, K*C, T, U].

    With many channels each (n, t) of a channels-last ``x`` is a [V, C] matrix, and one batched matmul
    with the graphs stacked as a [U*K, V] matrix gives [N*T, U*K, C], already the channels-last
    memory of the result. With few channels (the raw coordinates) [N*C*T, V] rows make the better
    GEMM, reordered once into the channels-last result.
    """
    n, c, t, v = x.shape
    k, _, u = A.shape
    if c >= 16:
        rows = x.permute(0, 2, 3, 1).reshape(n * t, v, c)  # a view for a channels-last x
        y = shared_matrix_bmm(A.permute(2, 0, 1).reshape(u * k, v), rows)  # N*T, U*K, C
        return y.view(n, t, u, k * c).permute(0, 3, 1, 2)
    y = torch.matmul(x.reshape(n * c * t, v), A.permute(1, 0, 2).reshape(v, k * u))
    return y.view(n, c, t, k, u).permute(0, 2, 4, 3, 1).reshape(n, t, u, k * c).permute(0, 3, 1, 2)


class ChannelsLastMSGCN(MSGCN):
    """:class:`MSGCN` with the multi-scale aggregation producing channels-last activations."""

    @classmethod
    def from_module(cls, gcn: MSGCN) -> ChannelsLastMSGCN:
        return _rebuild(cls, gcn)

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        return _multiscale_aggregate_channels_last(x, self.A + self.PA)


class ChannelsLastSTMSGCN(STMSGCN):
    """:class:`STMSGCN` with the multi-scale aggregation producing channels-last activations."""

    @classmethod
    def from_module(cls, gcn: STMSGCN) -> ChannelsLastSTMSGCN:
        return _rebuild(cls, gcn)

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        return _multiscale_aggregate_channels_last(x, self.A + self.PA)


class ChannelsLastUnfold(UnfoldTemporalWindows):
    """:class:`UnfoldTemporalWindows` as an overlapping view of the padded channels-last input, copied
    once: the result [N, C, T', window*V] is channels-last (memory N, T', window, V, C)."""

    @classmethod
    def from_module(cls, unfold: UnfoldTemporalWindows) -> ChannelsLastUnfold:
        return _rebuild(cls, unfold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        pad, win, dil = self.padding, self.window_size, self.window_dilation
        padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, 0, pad, pad))  # N, T+2p, V, C
        windows = padded.unfold(1, dil * (win - 1) + 1, self.window_stride)[..., ::dil]
        windows = windows.permute(0, 1, 4, 2, 3).contiguous()  # N, T', window, V, C
        return windows.view(n, -1, win * v, c).permute(0, 3, 1, 2)
