"""Helpers shared by the AAGCN / CTR-GCN / DG-STGCN / MS-G3D backbones (PYSKL semantics)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .blocks import UnitTCN

__all__ = ["conv_init", "bn_init", "make_residual", "build_data_bn", "apply_data_bn", "shared_matrix_bmm"]


def conv_init(conv: nn.Module) -> None:
    """Kaiming-normal (fan_out) weight, zero bias: the 2s-AGCN / CTR-GCN conv init."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.constant_(conv.bias, 0)


def bn_init(bn: nn.Module, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.constant_(bn.bias, 0)


class _Zero(nn.Module):
    """The residual of a block without one (PYSKL ``lambda x: 0``); holds no keys."""

    def forward(self, x: torch.Tensor) -> int:
        return 0


def make_residual(in_channels: int, out_channels: int, stride: int, residual: bool) -> nn.Module:
    """PYSKL's block residual: none, identity, or a strided 1x1 ``unit_tcn`` (conv + BN)."""
    if not residual:
        return _Zero()
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)


def build_data_bn(data_bn_type: str | None, num_person: int, in_channels: int, num_joints: int) -> nn.Module:
    """'MVC': BN over M*V*C channels (needs M == num_person); 'VC': over V*C; None: identity."""
    if data_bn_type == "MVC":
        return nn.BatchNorm1d(num_person * in_channels * num_joints)
    if data_bn_type == "VC":
        return nn.BatchNorm1d(in_channels * num_joints)
    if data_bn_type is None:
        return nn.Identity()
    raise ValueError(f"data_bn_type must be 'MVC', 'VC' or None, got {data_bn_type!r}")


def apply_data_bn(x: torch.Tensor, data_bn: nn.Module, data_bn_type: str | None) -> torch.Tensor:
    """[N, M, T, V, C] -> data-BN'd [N*M, C, T, V] (BN channel index m*V*C + v*C + c for 'MVC')."""
    n, m, t, v, c = x.shape
    x = x.permute(0, 1, 3, 4, 2).contiguous()  # N, M, V, C, T
    if data_bn_type == "MVC":
        expected = data_bn.num_features
        if m * v * c != expected:
            raise ValueError(f"data_bn_type='MVC' expects M*V*C = {expected} (num_person persons), "
                             f"got input [N={n}, M={m}, T={t}, V={v}, C={c}]")
        x = data_bn(x.view(n, m * v * c, t))
    else:
        x = data_bn(x.view(n * m, v * c, t))
    return x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)


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
            if rows.shape[0] * matrix.numel() <= 1 << 22:  # few, large products: batched, then summed
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
    if torch.is_grad_enabled() and not torch.jit.is_tracing():
        return _SharedMatrixBmm.apply(matrix, rows)
    return torch.bmm(matrix.expand(rows.shape[0], -1, -1), rows)
