"""SGN backbone (PYSKL ``SGN``; PYSKL ships the class without registering it, we register it).

Zhang et al., "Semantics-Guided Neural Networks for Efficient Skeleton-Based Human Action
Recognition", CVPR 2020, arXiv:1904.01189 (https://github.com/microsoft/SGN). Written for PYSKL
compatibility (https://github.com/kennymckormick/pyskl, Apache-2.0): state_dict keys, shapes and
forward values are PYSKL's.

The frame-index embedding is sized by ``T``, so inputs must have exactly ``T`` frames.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ...registry import MODELS

__all__ = ["SGN", "UnitSGN", "unit_sgn"]


class _ConvAct(nn.Module):
    """mmcv ``ConvModule`` layout: ``conv`` [-> ``bn``] -> ``activate`` (ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple = 1,
                 padding: int | tuple = 0, bias: bool = True, with_bn: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        if with_bn:
            self.bn = nn.BatchNorm2d(out_channels)
        self.activate = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if hasattr(self, "bn"):
            x = self.bn(x)
        return self.activate(x)


def _embed_mlp(in_channels: int, out_channels: int, mid_channels: int, bias: bool) -> nn.Sequential:
    return nn.Sequential(_ConvAct(in_channels, mid_channels, bias=bias),
                         _ConvAct(mid_channels, out_channels, bias=bias))


class UnitSGN(nn.Module):
    """Graph conv with a per-frame graph: ReLU(BN(conv(A x) + residual(x))) (``unit_sgn``).

    Shape:
        x: [N, C_in, T, V], A: [N, T, V, V] -> [N, C_out, T, V]
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.residual = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        # (N, T, V, V) @ (N, T, V, C) -> N, C, T, V
        agg = torch.matmul(A, x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.relu(self.bn(self.conv(agg) + self.residual(x)))


@MODELS.register("SGN")
class SGN(nn.Module):
    """Semantics-guided network: joint + motion embeddings with joint-type and frame-index codes,
    a data-dependent per-frame graph, three ``unit_sgn`` layers and a frame-level CNN.

    Args:
        in_channels: input channels C.
        base_channels: embedding width (outputs 8x this).
        num_joints: V.
        T: number of input frames (fixed: the frame-index code is one-hot over T).
        bias: conv biases.

    Shape:
        x: [N, M, T, V, C] -> [N, M, 8 * base_channels, 20, 1]

    Example:
        >>> import torch
        >>> net = SGN(T=30)
        >>> net.eval()(torch.randn(1, 2, 30, 25, 3)).shape
        torch.Size([1, 2, 512, 20, 1])
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_joints: int = 25,
                 T: int = 30, bias: bool = True) -> None:
        super().__init__()
        c = base_channels
        self.T = T
        self.num_joints = num_joints
        self.base_channel = base_channels
        self.joint_bn = nn.BatchNorm1d(in_channels * num_joints)
        self.motion_bn = nn.BatchNorm1d(in_channels * num_joints)
        self.t_embed = _embed_mlp(T, c * 4, c, bias)
        self.s_embed = _embed_mlp(num_joints, c, c, bias)
        self.joint_embed = _embed_mlp(in_channels, c, c, bias)
        self.motion_embed = _embed_mlp(in_channels, c, c, bias)
        self.compute_A1 = _ConvAct(c * 2, c * 4, bias=bias)
        self.compute_A2 = _ConvAct(c * 2, c * 4, bias=bias)
        self.tcn = nn.Sequential(
            nn.AdaptiveMaxPool2d((20, 1)),
            _ConvAct(c * 4, c * 4, kernel_size=(3, 1), padding=(1, 0), bias=bias, with_bn=True),
            nn.Dropout(0.2),
            _ConvAct(c * 4, c * 8, bias=bias, with_bn=True))
        self.gcn1 = UnitSGN(c * 2, c * 2, bias=bias)
        self.gcn2 = UnitSGN(c * 2, c * 4, bias=bias)
        self.gcn3 = UnitSGN(c * 4, c * 4, bias=bias)
        self.init_weights()

    def init_weights(self) -> None:
        """He-normal convs (fan = k*k*C_out); the graph convs start at zero (residual path only)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / n))
        for gcn in (self.gcn1, self.gcn2, self.gcn3):
            nn.init.constant_(gcn.conv.weight, 0)

    def compute_A(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, T, V] -> per-frame graph [N, T, V, V], softmax over the last axis."""
        a1 = self.compute_A1(x).permute(0, 2, 3, 1)  # N, T, V, C
        a2 = self.compute_A2(x).permute(0, 2, 1, 3)  # N, T, C, V
        return torch.softmax(torch.matmul(a1, a2), dim=-1)

    def forward(self, joint: torch.Tensor) -> torch.Tensor:
        n, m, t, v, c = joint.shape
        if t != self.T or v != self.num_joints:
            raise ValueError(f"SGN was built for T={self.T}, V={self.num_joints}; got input "
                             f"[N={n}, M={m}, T={t}, V={v}, C={c}] (resample the clip to T={self.T})")
        nm = n * m
        joint = joint.reshape(nm, t, v, c).permute(0, 3, 2, 1).contiguous()  # NM, C, V, T
        # motion = next frame - this frame; the last frame is differenced against zeros (PYSKL)
        motion = torch.diff(joint, dim=3, append=joint.new_zeros(nm, c, v, 1))
        joint = self.joint_bn(joint.view(nm, c * v, t)).view(nm, c, v, t).permute(0, 1, 3, 2)
        motion = self.motion_bn(motion.reshape(nm, c * v, t)).view(nm, c, v, t).permute(0, 1, 3, 2)

        # one-hot frame and joint codes, laid out [NM, T|V, V, T] as PYSKL feeds its 1x1 convs
        t_code = torch.eye(t, dtype=joint.dtype, device=joint.device)[None, :, None].expand(nm, t, v, t)
        s_code = torch.eye(v, dtype=joint.dtype, device=joint.device)[None, :, :, None].expand(nm, v, v, t)
        t_embed = self.t_embed(t_code).permute(0, 1, 3, 2)  # NM, 4C, T, V
        s_embed = self.s_embed(s_code).permute(0, 1, 3, 2)  # NM, C, T, V

        x = torch.cat([self.joint_embed(joint) + self.motion_embed(motion), s_embed], 1)
        A = self.compute_A(x)
        for gcn in (self.gcn1, self.gcn2, self.gcn3):
            x = gcn(x, A)
        x = self.tcn(x + t_embed)  # NM, 8C, 20, 1
        return x.reshape((n, m) + x.shape[1:])


unit_sgn = UnitSGN
