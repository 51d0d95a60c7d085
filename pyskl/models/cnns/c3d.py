"""C3D backbone (without the flatten / fc layers), PoseC3D's "C3D-light" variant.

Paper: "Learning Spatiotemporal Features with 3D Convolutional Networks", arXiv:1412.0767; used on
heatmaps in PoseConv3D, arXiv:2104.13586. Original code: PYSKL (Apache-2.0).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from ...registry import MODELS
from .resnet3d import ConvModule, _read_state_dict, kaiming_init_conv

__all__ = ["C3D"]


@MODELS.register()
class C3D(nn.Module):
    """Plain stack of 3x3x3 Conv-BN-ReLU layers with 2x2 average pooling in between.

    Layers: ``conv1a, pool1, conv2a, pool2, conv3a, conv3b, pool3, conv4a, conv4b`` and, with
    ``num_stages=4``, ``pool4, conv5a, conv5b``. ``pool1`` never pools time; the later pools
    halve time too when ``temporal_downsample``.

    Args:
        in_channels: input channels (17 for COCO keypoint heatmaps).
        base_channels: width of ``conv1a``; doubles per stage up to ``8 * base_channels``.
        num_stages: 3 or 4.
        temporal_downsample: whether pools 2..4 also halve T.
        pretrained: checkpoint path loaded (non-strict) by ``init_weights``, or None.

    Shape:
        ``[N, in_channels, T, H, W] -> [N, 8 * base_channels, T', H / 8, W / 8]`` (H / 16 with 4 stages).

    Example:
        >>> net = C3D(in_channels=17, base_channels=32, num_stages=3, temporal_downsample=False)
        >>> net(torch.zeros(1, 17, 8, 32, 32)).shape
        torch.Size([1, 256, 8, 4, 4])
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_stages: int = 4,
                 temporal_downsample: bool = True, pretrained: Optional[str] = None) -> None:
        super().__init__()
        if num_stages not in (3, 4):
            raise ValueError(f"C3D num_stages must be 3 or 4, got {num_stages}")
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.temporal_downsample = temporal_downsample
        self.pretrained = pretrained
        pool = (2, 2, 2) if temporal_downsample else (1, 2, 2)
        c = base_channels

        def conv(cin: int, cout: int) -> ConvModule:
            return ConvModule(cin, cout, 3, padding=1, conv_cfg=dict(type="Conv3d"),
                              norm_cfg=dict(type="BN3d"), act_cfg=dict(type="ReLU"))

        self.conv1a = conv(in_channels, c)
        self.pool1 = nn.AvgPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.conv2a = conv(c, 2 * c)
        self.pool2 = nn.AvgPool3d(kernel_size=pool, stride=pool)
        self.conv3a = conv(2 * c, 4 * c)
        self.conv3b = conv(4 * c, 4 * c)
        self.pool3 = nn.AvgPool3d(kernel_size=pool, stride=pool)
        self.conv4a = conv(4 * c, 8 * c)
        self.conv4b = conv(8 * c, 8 * c)
        if num_stages == 4:
            self.pool4 = nn.AvgPool3d(kernel_size=pool, stride=pool)
            self.conv5a = conv(8 * c, 8 * c)
            self.conv5b = conv(8 * c, 8 * c)
        self.feat_dim = 8 * c

    def init_weights(self) -> None:
        """Kaiming convs (BNs keep PyTorch's unit init, as in PYSKL); then ``pretrained``."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                kaiming_init_conv(m)
        if isinstance(self.pretrained, str):
            self.load_state_dict(_read_state_dict(self.pretrained), strict=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1a(x)  # N, C, T, H, W
        x = self.conv2a(self.pool1(x))
        x = self.conv3b(self.conv3a(self.pool2(x)))
        x = self.conv4b(self.conv4a(self.pool3(x)))
        if self.num_stages == 3:
            return x
        return self.conv5b(self.conv5a(self.pool4(x)))
