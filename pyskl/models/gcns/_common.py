"""The person-wise backbone base and the helpers every GCN backbone shares (PYSKL semantics)."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import ZeroResidual, make_residual

__all__ = ["conv_init", "bn_init", "make_residual", "build_data_bn", "apply_data_bn", "PersonwiseBackbone",
           "ZeroResidual"]


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


class PersonwiseBackbone(nn.Module):
    """A GCN backbone in two halves: ``normalize_input`` ([N, M, T, V, C] -> [N*M, C, T, V]: the data
    BN, the only layer that mixes a clip's persons) and ``forward_persons`` (every later layer, one
    person at a time).

    A subclass sets ``data_bn`` and ``data_bn_type`` ('MVC', 'VC' or None) and writes
    ``forward_persons``. ``memory_format`` is the layout of the activations handed to the blocks; it is
    a model-boundary choice that :func:`pyskl.models.deploy.prepare` may set (channels-last on CPU).

    Shape:
        x: [N, M, T, V, C] -> [N, M, C_out, T_out, V]
    """

    data_bn: nn.Module
    data_bn_type: str | None = "MVC"
    memory_format: torch.memory_format = torch.contiguous_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"{type(self).__name__} expects x of shape [N, M, T, V, C], "
                             f"got {tuple(x.shape)}")
        n, m = x.shape[:2]
        x = self.forward_persons(self.normalize_input(x))
        return x.contiguous().reshape((n, m) + x.shape[1:])

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        """``data_bn`` on [N, M, T, V, C]; returns [N*M, C, T, V] in ``memory_format``."""
        return apply_data_bn(x, self.data_bn, self.data_bn_type).contiguous(memory_format=self.memory_format)

    def forward_persons(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def conv_init(conv: nn.Module) -> None:
    """Kaiming-normal (fan_out) weight, zero bias: the 2s-AGCN / CTR-GCN conv init."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.constant_(conv.bias, 0)


def bn_init(bn: nn.Module, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.constant_(bn.bias, 0)
