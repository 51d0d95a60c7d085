"""RGBPoseConv3D: a SlowFast-style two-pathway backbone, RGB frames + pose heatmaps.

Paper: "Revisiting Skeleton-based Action Recognition" (PoseConv3D), arXiv:2104.13586, section on
RGBPose-Conv3D; lateral connections from "SlowFast Networks for Video Recognition",
arXiv:1812.03982. Original code: PYSKL (Apache-2.0). The state_dict layout
(``rgb_path.*``, ``pose_path.*``, ``layerN_lateral.*``) is PYSKL's.
"""
from __future__ import annotations

import copy
from typing import Any, Optional, Sequence

import torch
import torch.nn as nn

from ...registry import MODELS
from .resnet3d import ConvModule, ResNet3d, _read_state_dict, inflate_2d_weights, kaiming_init_conv

__all__ = ["DeConvModule", "ResNet3dPathway", "RGBPoseConv3D"]


class DeConvModule(nn.Module):
    """ConvTranspose3d -> BatchNorm3d -> ReLU that upsamples time by ``stride[0]`` exactly.

    Children ``conv``, ``bn``, ``relu`` (PYSKL's names; ``bn`` exists even when unused).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                 stride: Sequence[int] = (1, 1, 1), padding: Any = 0, bias: bool = False,
                 with_bn: bool = True, with_relu: bool = True) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stride = tuple(stride)
        self.with_bn = with_bn
        self.with_relu = with_relu
        self.conv = nn.ConvTranspose3d(in_channels, out_channels, kernel_size, stride=stride,
                                       padding=padding, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"DeConvModule expects [N, C, T, H, W], got shape {tuple(x.shape)}")
        n, _, t, h, w = x.shape
        size = (n, self.out_channels, self.stride[0] * t, self.stride[1] * h, self.stride[2] * w)
        x = self.conv(x, output_size=size)
        if self.with_bn:
            x = self.bn(x)
        if self.with_relu:
            x = self.relu(x)
        return x


class ResNet3dPathway(ResNet3d):
    """A ``ResNet3d`` pathway whose stages can take lateral features from the other pathway.

    ``layer{i}_lateral`` maps this pathway's stage-``i`` output for the *other* pathway: a strided
    temporal conv (to a slower pathway) or, with ``lateral_inv``, a transposed conv (to a faster one).
    Stage ``i+1`` of the receiving pathway then has ``lateral_inplanes[i+1]`` extra input channels.

    Args:
        lateral: build lateral connections.
        lateral_inv: laterals upsample time (``DeConvModule``) instead of downsampling it.
        speed_ratio: temporal ratio between the pathways (alpha).
        channel_ratio: channel ratio between the pathways (beta).
        fusion_kernel: temporal kernel of the lateral conv.
        lateral_infl: channel inflation of the lateral conv.
        lateral_activate: per stage, whether it receives (and the previous stage sends) a lateral.
        **kwargs: ``ResNet3d`` arguments.
    """

    def __init__(self, lateral: bool = False, lateral_inv: bool = False, speed_ratio: int = 8,
                 channel_ratio: int = 8, fusion_kernel: int = 7, lateral_infl: int = 2,
                 lateral_activate: Sequence[int] = (1, 1, 1, 1), **kwargs: Any) -> None:
        self.lateral = lateral
        self.lateral_inv = lateral_inv
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        self.fusion_kernel = fusion_kernel
        self.lateral_infl = lateral_infl
        self.lateral_activate = tuple(lateral_activate)
        # Read by ResNet3d.__init__ (set before nn.Module.__init__, so a plain attribute).
        self.lateral_inplanes = self._lateral_inplanes(kwargs)
        super().__init__(**kwargs)

        self.inplanes = self.base_channels
        if lateral and self.lateral_activate[0] == 1:
            self.conv1_lateral = self._lateral_module(self.inplanes)
        self.lateral_connections: list[str] = []
        for i in range(len(self.stage_blocks)):
            self.inplanes = self.base_channels * 2 ** i * self.block.expansion
            # the last stage sends nothing
            if lateral and i != self.num_stages - 1 and self.lateral_activate[i + 1]:
                name = f"layer{i + 1}_lateral"
                setattr(self, name, self._lateral_module(self.inplanes))
                self.lateral_connections.append(name)

    def _lateral_module(self, inplanes: int) -> nn.Module:
        k = self.fusion_kernel
        common = dict(kernel_size=(k, 1, 1), stride=(self.speed_ratio, 1, 1), padding=((k - 1) // 2, 0, 0),
                      bias=False)
        if self.lateral_inv:
            return DeConvModule(inplanes * self.channel_ratio, inplanes * self.channel_ratio // self.lateral_infl,
                                with_bn=True, with_relu=True, **common)
        return ConvModule(inplanes // self.channel_ratio, inplanes * self.lateral_infl // self.channel_ratio,
                          conv_cfg=self.conv_cfg, norm_cfg=None,
                          act_cfg=None, **common)

    def _lateral_inplanes(self, kwargs: dict) -> list[int]:
        """Extra input channels per stage, from the *sending* pathway's widths (PYSKL's formula)."""
        expansion = 1 if kwargs.get("depth", 50) < 50 else 4
        base = kwargs.get("base_channels", 64)
        out = []
        for i in range(kwargs.get("num_stages", 4)):
            if expansion % 2 == 0:
                planes = base * 2 ** i * (expansion // 2) ** (i > 0)
            else:
                planes = base * 2 ** i // 2 ** (i > 0)
            if self.lateral and self.lateral_activate[i]:
                out.append(planes * self.channel_ratio // self.lateral_infl if self.lateral_inv
                           else planes * self.lateral_infl // self.channel_ratio)
            else:
                out.append(0)
        return out

    def inflate_weights(self, state_2d: dict) -> list:
        """2D inflation that leaves lateral convs alone and zero-pads the lateral input channels."""
        return inflate_2d_weights(self, state_2d, skip_lateral=True, pad_in_channels=True)

    def init_weights(self, pretrained: Optional[str] = None) -> None:
        super().init_weights(pretrained)
        for name in self.lateral_connections:
            for m in getattr(self, name).modules():
                if isinstance(m, (nn.Conv3d, nn.Conv2d)):
                    kaiming_init_conv(m)

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        if self.lateral:
            for i in range(1, min(self.frozen_stages, len(self.lateral_connections)) + 1):
                lateral = getattr(self, self.lateral_connections[i - 1])
                lateral.eval()
                for p in lateral.parameters():
                    p.requires_grad_(False)


_RGB_PATHWAY = dict(num_stages=4, lateral=True, lateral_infl=1, lateral_activate=(0, 0, 1, 1), base_channels=64,
                    conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1))
_POSE_PATHWAY = dict(num_stages=3, stage_blocks=(4, 6, 3), lateral=True, lateral_inv=True, lateral_infl=16,
                     lateral_activate=(0, 1, 1), in_channels=17, base_channels=32, out_indices=(2,),
                     conv1_kernel=(1, 7, 7), conv1_stride=(1, 1), pool1_stride=(1, 1), inflate=(0, 1, 1),
                     spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 1))


@MODELS.register()
class RGBPoseConv3D(nn.Module):
    """Two ResNet3d pathways (RGB: slow, 4 stages; pose: fast, 3 stages) with bidirectional laterals.

    After RGB stage 2 / pose stage 1 and RGB stage 3 / pose stage 2 each pathway concatenates the
    other's lateral features along channels.

    Args:
        pretrained: checkpoint path loaded strictly by ``init_weights``, or None.
        speed_ratio: pose frames per RGB frame (alpha).
        channel_ratio: RGB / pose channel ratio (beta).
        rgb_detach, pose_detach: stop gradients through the laterals into the sending pathway.
        rgb_drop_path, pose_drop_path: probability of zeroing a pathway's incoming laterals in training.
        rgb_pathway, pose_pathway: ``ResNet3dPathway`` arguments.

    Shape:
        ``imgs [N, 3, T, H, W], heatmap_imgs [N, 17, alpha*T, H/4, W/4] -> (rgb_feat, pose_feat)``.

    Note:
        PYSKL's ``train(False)`` leaves this module's ``training`` flag True, so its drop-path coin is
        also tossed in eval; here eval never drops. With the shipped drop-path of 0 the outputs are
        the same.
    """

    def __init__(self, pretrained: Optional[str] = None, speed_ratio: int = 4, channel_ratio: int = 4,
                 rgb_detach: bool = False, pose_detach: bool = False, rgb_drop_path: float = 0,
                 pose_drop_path: float = 0, rgb_pathway: dict = _RGB_PATHWAY,
                 pose_pathway: dict = _POSE_PATHWAY) -> None:
        super().__init__()
        if not (0 <= rgb_drop_path <= 1 and 0 <= pose_drop_path <= 1):
            raise ValueError(f"drop-path probabilities must be in [0, 1], got {rgb_drop_path}, {pose_drop_path}")
        self.pretrained = pretrained
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        rgb_pathway, pose_pathway = copy.deepcopy(dict(rgb_pathway)), copy.deepcopy(dict(pose_pathway))
        for pathway in (rgb_pathway, pose_pathway):
            if pathway.get("lateral"):
                pathway["speed_ratio"] = speed_ratio
                pathway["channel_ratio"] = channel_ratio
        self.rgb_path = ResNet3dPathway(**rgb_pathway)
        self.pose_path = ResNet3dPathway(**pose_pathway)
        self.rgb_detach = rgb_detach
        self.pose_detach = pose_detach
        self.rgb_drop_path = rgb_drop_path
        self.pose_drop_path = pose_drop_path

    def init_weights(self) -> None:
        """Kaiming convs and unit BNs, then each pathway's own init (or a strict checkpoint load)."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                kaiming_init_conv(m)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if isinstance(self.pretrained, str):
            self.load_state_dict(_read_state_dict(self.pretrained), strict=True)
        elif self.pretrained is None:
            self.rgb_path.init_weights()
            self.pose_path.init_weights()
        else:
            raise TypeError(f"pretrained must be a str or None, got {type(self.pretrained).__name__}")

    def _lateral(self, path: ResNet3dPathway, name: str, feat: torch.Tensor, detach: bool,
                 drop: bool) -> Optional[torch.Tensor]:
        if not hasattr(path, name):
            return None
        out = getattr(path, name)(feat.detach() if detach else feat)
        return torch.zeros_like(out) if drop else out

    def forward(self, imgs: torch.Tensor, heatmap_imgs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:
            # same draw order as PYSKL (rgb, then pose)
            rgb_drop = bool(torch.rand(1) < self.rgb_drop_path)
            pose_drop = bool(torch.rand(1) < self.pose_drop_path)
        else:
            rgb_drop = pose_drop = False
        rgb, pose = self.rgb_path, self.pose_path
        x_rgb = rgb.layer2(rgb.layer1(rgb.maxpool(rgb.conv1(imgs))))  # N, 512, T, H/8, W/8
        x_pose = pose.layer1(pose.maxpool(pose.conv1(heatmap_imgs)))  # N, 128, aT, H/8, W/8
        for rgb_stage, pose_stage in ((2, 1), (3, 2)):
            to_rgb = self._lateral(rgb, f"layer{rgb_stage}_lateral", x_pose, self.rgb_detach, rgb_drop)
            to_pose = self._lateral(pose, f"layer{pose_stage}_lateral", x_rgb, self.pose_detach, pose_drop)
            if to_rgb is not None:
                x_rgb = torch.cat((x_rgb, to_rgb), dim=1)
            if to_pose is not None:
                x_pose = torch.cat((x_pose, to_pose), dim=1)
            x_rgb = getattr(rgb, f"layer{rgb_stage + 1}")(x_rgb)
            x_pose = getattr(pose, f"layer{pose_stage + 1}")(x_pose)
        return x_rgb, x_pose
