"""X3D backbone (channel-wise separable 3D ResNet), PoseC3D's "X3D-shallow" variant.

Paper: "X3D: Expanding Architectures for Efficient Video Recognition", arXiv:2004.04730; used on
heatmaps in PoseConv3D, arXiv:2104.13586. Original code: PYSKL (Apache-2.0), from mmaction2.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
import torch.nn as nn

from ...registry import MODELS
from .resnet3d import ConvModule, _make_act, _read_state_dict, kaiming_init_conv

__all__ = ["SEModule", "BlockX3D", "X3D"]


def _round_width(width: float, multiplier: float, min_width: int = 8, divisor: int = 8) -> int:
    """Scale ``width`` and round to a multiple of ``divisor`` (never below 90% of the target)."""
    width *= multiplier
    min_width = min_width or divisor
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if out < 0.9 * width:
        out += divisor
    return int(out)


class SEModule(nn.Module):
    """Squeeze-and-excitation: global pool -> 1x1 conv -> ReLU -> 1x1 conv -> sigmoid gate."""

    def __init__(self, channels: int, reduction: float) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.bottleneck = _round_width(channels, reduction)
        self.fc1 = nn.Conv3d(channels, self.bottleneck, kernel_size=1, padding=0)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv3d(self.bottleneck, channels, kernel_size=1, padding=0)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))  # N, C, 1, 1, 1
        return x * gate


class BlockX3D(nn.Module):
    """1x1 expand -> depthwise 3x3x3 (spatial stride) -> [SE] -> [swish] -> 1x1 project, + shortcut.

    Args:
        inplanes: input channels.
        planes: expanded (depthwise) channels.
        outplanes: output channels.
        spatial_stride: stride of the depthwise conv.
        downsample: module for the shortcut, or None for identity.
        se_ratio: SE reduction ratio, or None for no SE.
        use_swish: swish after the depthwise conv (``nn.Identity`` otherwise, no keys).
    """

    def __init__(self, inplanes: int, planes: int, outplanes: int, spatial_stride: int = 1,
                 downsample: Optional[nn.Module] = None, se_ratio: Optional[float] = None,
                 use_swish: bool = True, conv_cfg: Optional[dict] = dict(type="Conv3d"),  # noqa: B006
                 norm_cfg: Optional[dict] = dict(type="BN3d"),  # noqa: B006
                 act_cfg: Optional[dict] = dict(type="ReLU")) -> None:  # noqa: B006
        super().__init__()
        self.se_ratio = se_ratio
        # Registered first: PYSKL's state_dict lists the shortcut before conv1.
        self.downsample = downsample
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(inplanes, planes, 1, act_cfg=act_cfg, **common)
        self.conv2 = ConvModule(planes, planes, 3, stride=(1, spatial_stride, spatial_stride),
                                padding=1, groups=planes, act_cfg=None, **common)
        self.swish = nn.SiLU() if use_swish else nn.Identity()
        self.conv3 = ConvModule(planes, outplanes, 1, act_cfg=None, **common)
        if se_ratio is not None:
            self.se_module = SEModule(planes, se_ratio)
        self.relu = _make_act(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        if self.se_ratio is not None:
            out = self.se_module(out)
        out = self.conv3(self.swish(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


@MODELS.register()
class X3D(nn.Module):
    """X3D backbone with PYSKL's arguments and defaults (X3D-M widths/depths by default).

    Args:
        gamma_w: global width multiplier (applied to ``base_channels``).
        gamma_b: bottleneck expansion (depthwise width = stage width * gamma_b).
        gamma_d: depth multiplier (``ceil(gamma_d * blocks)``).
        pretrained: checkpoint path loaded (non-strict) by ``init_weights``, or None.
        in_channels: input channels (17 for COCO keypoint heatmaps).
        base_channels: stem width before ``gamma_w``.
        num_stages: 1..4 stages; stage ``i`` outputs ``base_channels * 2**i`` channels.
        stage_blocks: blocks per stage before ``gamma_d``.
        spatial_strides: per-stage spatial stride of the first block.
        frozen_stages: stem and stages ``1..frozen_stages`` frozen; -1 none.
        se_style: ``'half'`` (SE in even blocks) or ``'all'``.
        se_ratio: SE reduction ratio, or None for no SE.
        use_swish: swish after each depthwise conv.
        conv_cfg, norm_cfg, act_cfg: layer configs (Conv3d, BN3d, ReLU).
        norm_eval: keep BN layers in eval mode during training.
        zero_init_residual: zero the last BN weight of every block at init.

    Shape:
        ``[N, in_channels, T, H, W] -> [N, feat_dim, T, H / 2**(1 + #stride-2 stages), ...]``.

    Example:
        >>> net = X3D(gamma_d=1, in_channels=17, base_channels=24, num_stages=3, se_ratio=None,
        ...           use_swish=False, stage_blocks=(2, 5, 3), spatial_strides=(2, 2, 2))
        >>> net(torch.zeros(1, 17, 8, 32, 32)).shape
        torch.Size([1, 216, 8, 2, 2])
    """

    def __init__(self, gamma_w: float = 1.0, gamma_b: float = 2.25, gamma_d: float = 2.2,
                 pretrained: Optional[str] = None, in_channels: int = 3, base_channels: int = 24,
                 num_stages: int = 4, stage_blocks: Sequence[int] = (1, 2, 5, 3),
                 spatial_strides: Sequence[int] = (2, 2, 2, 2), frozen_stages: int = -1,
                 se_style: str = "half", se_ratio: Optional[float] = 1 / 16, use_swish: bool = True,
                 conv_cfg: Optional[dict] = dict(type="Conv3d"),  # noqa: B006
                 norm_cfg: Optional[dict] = dict(type="BN3d", requires_grad=True),  # noqa: B006
                 act_cfg: Optional[dict] = dict(type="ReLU", inplace=True),  # noqa: B006
                 norm_eval: bool = False, zero_init_residual: bool = True, **kwargs: Any) -> None:
        super().__init__()
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be in 1..4, got {num_stages}")
        if len(spatial_strides) != num_stages:
            raise ValueError(f"spatial_strides {tuple(spatial_strides)} must have num_stages={num_stages} entries")
        if se_style not in ("all", "half"):
            raise ValueError(f"se_style must be 'all' or 'half', got {se_style!r}")
        if se_ratio is not None and se_ratio <= 0:
            raise ValueError(f"se_ratio must be positive or None, got {se_ratio}")
        if kwargs:
            raise TypeError(f"X3D got unexpected arguments {sorted(kwargs)}")
        self.gamma_w, self.gamma_b, self.gamma_d = gamma_w, gamma_b, gamma_d
        self.pretrained = pretrained
        self.in_channels = in_channels
        self.base_channels = _round_width(base_channels, gamma_w) if gamma_w else base_channels
        blocks = [int(math.ceil(gamma_d * b)) if gamma_d else b for b in stage_blocks]
        self.stage_blocks = blocks[:num_stages]
        self.num_stages = num_stages
        self.spatial_strides = tuple(spatial_strides)
        self.frozen_stages = frozen_stages
        self.se_style = se_style
        self.se_ratio = se_ratio
        self.use_swish = use_swish
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual

        c = self.base_channels
        self.conv1_s = ConvModule(in_channels, c, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1),
                                  bias=False, conv_cfg=conv_cfg, norm_cfg=None, act_cfg=None)
        self.conv1_t = ConvModule(c, c, (5, 1, 1), stride=1, padding=(2, 0, 0), groups=c, bias=False,
                                  conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.res_layers: list[str] = []
        layer_inplanes = c
        for i, num_blocks in enumerate(self.stage_blocks):
            width = c * 2 ** i
            layer = self._make_res_layer(layer_inplanes, width, int(width * gamma_b), num_blocks,
                                         self.spatial_strides[i])
            layer_inplanes = width
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)
        last = c * 2 ** (len(self.stage_blocks) - 1)
        self.conv5 = ConvModule(last, int(last * gamma_b), 1, bias=False, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.feat_dim = int(last * gamma_b)

    def _make_res_layer(self, layer_inplanes: int, inplanes: int, planes: int, blocks: int,
                        spatial_stride: int) -> nn.Sequential:
        downsample = None
        if spatial_stride != 1 or layer_inplanes != inplanes:
            downsample = ConvModule(layer_inplanes, inplanes, 1, stride=(1, spatial_stride, spatial_stride),
                                    bias=False, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=None)
        use_se = [True] * blocks if self.se_style == "all" else [i % 2 == 0 for i in range(blocks)]
        common = dict(use_swish=self.use_swish, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                      act_cfg=self.act_cfg)
        layers = [BlockX3D(layer_inplanes, planes, inplanes, spatial_stride=spatial_stride,
                           downsample=downsample, se_ratio=self.se_ratio if use_se[0] else None, **common)]
        for i in range(1, blocks):
            layers.append(BlockX3D(inplanes, planes, inplanes, spatial_stride=1,
                                   se_ratio=self.se_ratio if use_se[i] else None, **common))
        return nn.Sequential(*layers)

    def init_weights(self) -> None:
        """Kaiming convs, unit BNs, zero last BN per block; then load ``pretrained`` if set."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                kaiming_init_conv(m)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, BlockX3D):
                    nn.init.constant_(m.conv3.bn.weight, 0)
        if isinstance(self.pretrained, str):
            self.load_state_dict(_read_state_dict(self.pretrained), strict=False)

    def _freeze_stages(self) -> None:
        frozen = [self.conv1_s, self.conv1_t] if self.frozen_stages >= 0 else []
        frozen += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> "X3D":
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1_t(self.conv1_s(x))  # N, C, T, H/2, W/2
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return self.conv5(x)
