"""ResNet3d: the 3D ResNet family PoseC3D builds on (Bottleneck3d / BasicBlock3d).

Paper: "Revisiting Skeleton-based Action Recognition" (PoseConv3D), arXiv:2104.13586;
I3D inflation from "Quo Vadis, Action Recognition?", arXiv:1705.07750. Original code: PYSKL
(Apache-2.0), itself derived from mmaction2. Re-implemented here without mmcv; the state_dict
layout (``conv1.conv.weight``, ``conv1.bn.*``, ``layerX.Y.convZ.*``, ``downsample.conv/bn``) is
mmcv ``ConvModule``'s so PYSKL checkpoints load unchanged.
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn

from ...registry import MODELS

__all__ = ["ConvModule", "BasicBlock3d", "Bottleneck3d", "ResNet3d", "kaiming_init_conv"]

logger = logging.getLogger(__name__)

IntOr3 = Union[int, Sequence[int]]

_NORM_TYPES = ("BN3d", "BN", "SyncBN")  # all map to BatchNorm3d here (single-process semantics)
_ACT_TYPES = ("ReLU", "Swish", "SiLU")


def _check_conv_cfg(conv_cfg: Optional[dict]) -> None:
    if conv_cfg is not None and conv_cfg.get("type", "Conv3d") != "Conv3d":
        raise ValueError(f"only conv_cfg type 'Conv3d' is supported, got {conv_cfg!r}")


def _make_act(act_cfg: Optional[dict]) -> Optional[nn.Module]:
    if act_cfg is None:
        return None
    kind = act_cfg.get("type", "ReLU")
    if kind == "ReLU":
        return nn.ReLU(inplace=act_cfg.get("inplace", True))
    if kind in ("Swish", "SiLU"):
        return nn.SiLU()
    raise ValueError(f"unsupported act_cfg type {kind!r}; expected one of {_ACT_TYPES}")


class ConvModule(nn.Module):
    """Conv3d -> BatchNorm3d -> activation, with mmcv ``ConvModule``'s child names.

    Children are ``conv``, ``bn`` (when ``norm_cfg`` is given) and ``activate`` (when
    ``act_cfg`` is given). ``bias='auto'`` means a bias only when there is no norm layer.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size, stride, padding, dilation, groups: as for ``nn.Conv3d``.
        bias: ``'auto'`` or a bool.
        conv_cfg: ``dict(type='Conv3d')`` or None (only Conv3d is supported).
        norm_cfg: ``dict(type='BN3d', requires_grad=True)`` or None.
        act_cfg: ``dict(type='ReLU', inplace=True)`` / ``dict(type='Swish')`` or None.

    Shape:
        ``[N, C_in, T, H, W] -> [N, C_out, T', H', W']``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOr3, stride: IntOr3 = 1,
                 padding: IntOr3 = 0, dilation: IntOr3 = 1, groups: int = 1,
                 bias: Union[str, bool] = "auto", conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type="ReLU", inplace=True)) -> None:  # noqa: B006
        super().__init__()
        _check_conv_cfg(conv_cfg)
        if bias == "auto":
            bias = norm_cfg is None
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              dilation=dilation, groups=groups, bias=bool(bias))
        if norm_cfg is not None:
            kind = norm_cfg.get("type", "BN3d")
            if kind not in _NORM_TYPES:
                raise ValueError(f"unsupported norm_cfg type {kind!r}; expected one of {_NORM_TYPES}")
            self.bn = nn.BatchNorm3d(out_channels, eps=norm_cfg.get("eps", 1e-5),
                                     momentum=norm_cfg.get("momentum", 0.1))
            if not norm_cfg.get("requires_grad", True):
                for p in self.bn.parameters():
                    p.requires_grad_(False)
        else:
            self.bn = None
        self.activate = _make_act(act_cfg)
        # mmcv's ConvModule re-initialises its conv on construction; doing the same keeps the
        # global RNG stream (and so seeded weights) identical to PYSKL's.
        kaiming_init_conv(self.conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.activate is not None:
            x = self.activate(x)
        return x


def kaiming_init_conv(module: nn.Module) -> None:
    """mmcv ``kaiming_init`` defaults: normal, fan_out, relu gain; bias 0."""
    nn.init.kaiming_normal_(module.weight, a=0, mode="fan_out", nonlinearity="relu")
    if module.bias is not None:
        nn.init.constant_(module.bias, 0)


def _triple(x: IntOr3) -> tuple:
    return (x, x, x) if isinstance(x, int) else tuple(x)


class BasicBlock3d(nn.Module):
    """Two-conv residual block (ResNet-18/34). Inflated blocks use 3x3x3 kernels.

    Args:
        inplanes: input channels.
        planes: output channels (expansion 1).
        stride: ``(temporal, spatial)`` stride, applied by ``conv1``.
        downsample: module applied to the identity branch, or None.
        inflate: 3x3x3 kernels when True, else 1x3x3.
        inflate_style: must be ``'3x3x3'`` (as in PYSKL).
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: Sequence[int] = (1, 1),
                 downsample: Optional[nn.Module] = None, inflate: bool = True,
                 inflate_style: str = "3x3x3", conv_cfg: Optional[dict] = dict(type="Conv3d"),  # noqa: B006
                 norm_cfg: Optional[dict] = dict(type="BN3d"),  # noqa: B006
                 act_cfg: Optional[dict] = dict(type="ReLU")) -> None:  # noqa: B006
        super().__init__()
        if inflate_style != "3x3x3":
            raise ValueError(f"BasicBlock3d supports inflate_style '3x3x3' only, got {inflate_style!r}")
        kernel, pad = ((3, 3, 3), (1, 1, 1)) if inflate else ((1, 3, 3), (0, 1, 1))
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(inplanes, planes, kernel, stride=(stride[0], stride[1], stride[1]),
                                padding=pad, act_cfg=act_cfg, **common)
        self.conv2 = ConvModule(planes, planes * self.expansion, kernel, stride=1, padding=pad,
                                act_cfg=None, **common)
        self.downsample = downsample
        self.relu = _make_act(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        return self.relu(out + identity)


class Bottleneck3d(nn.Module):
    """1x1 -> 3x3 -> 1x1 residual block (ResNet-50+), stride on the middle conv.

    ``inflate_style='3x1x1'`` puts the temporal kernel (3,1,1) on ``conv1``; ``'3x3x3'`` makes
    ``conv2`` 3x3x3; not inflated both are purely spatial.

    Args:
        inplanes: input channels.
        planes: bottleneck channels (output is ``planes * 4``).
        stride: ``(temporal, spatial)`` stride of ``conv2``.
        downsample: module applied to the identity branch, or None.
        inflate: whether this block has a temporal kernel.
        inflate_style: ``'3x1x1'`` or ``'3x3x3'``.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: Sequence[int] = (1, 1),
                 downsample: Optional[nn.Module] = None, inflate: bool = True,
                 inflate_style: str = "3x1x1", conv_cfg: Optional[dict] = dict(type="Conv3d"),  # noqa: B006
                 norm_cfg: Optional[dict] = dict(type="BN3d"),  # noqa: B006
                 act_cfg: Optional[dict] = dict(type="ReLU")) -> None:  # noqa: B006
        super().__init__()
        if inflate_style not in ("3x1x1", "3x3x3"):
            raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', got {inflate_style!r}")
        mode = inflate_style if inflate else "none"
        k1, p1 = ((3, 1, 1), (1, 0, 0)) if mode == "3x1x1" else (1, 0)
        k2, p2 = ((3, 3, 3), (1, 1, 1)) if mode == "3x3x3" else ((1, 3, 3), (0, 1, 1))
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(inplanes, planes, k1, stride=1, padding=p1, act_cfg=act_cfg, **common)
        self.conv2 = ConvModule(planes, planes, k2, stride=(stride[0], stride[1], stride[1]),
                                padding=p2, act_cfg=act_cfg, **common)
        self.conv3 = ConvModule(planes, planes * self.expansion, 1, act_cfg=None, **common)
        self.downsample = downsample
        self.relu = _make_act(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv3(self.conv2(self.conv1(x)))
        return self.relu(out + identity)


@MODELS.register()
class ResNet3d(nn.Module):
    """3D ResNet backbone with PYSKL's arguments and defaults.

    Args:
        depth: 18, 34, 50, 101 or 152 (block type and default ``stage_blocks``).
        pretrained: path of a checkpoint loaded by ``init_weights`` (2D ResNet weights are
            inflated when ``pretrained2d``), or None.
        stage_blocks: blocks per stage; default from ``depth``, truncated to ``num_stages``.
        pretrained2d: whether ``pretrained`` is a 2D ResNet to inflate.
        in_channels: input channels (17 for COCO keypoint heatmaps).
        num_stages: 1..4 residual stages.
        base_channels: stem width; stage ``i`` has ``base_channels * 2**i`` bottleneck channels.
        out_indices: stages whose outputs are returned (a tuple when more than one).
        spatial_strides, temporal_strides: first-block strides per stage.
        conv1_kernel: stem kernel; padding is ``(k - 1) // 2``.
        conv1_stride, pool1_stride: stem conv / max-pool strides as ``(temporal, spatial)``.
        advanced: downsample with 1x1 conv then average pooling instead of a strided conv.
        frozen_stages: stem and stages ``1..frozen_stages`` frozen (eval, no grad); -1 none.
        inflate: per stage (int or per-block tuple) whether blocks get temporal kernels.
        inflate_style: ``'3x1x1'`` or ``'3x3x3'``.
        conv_cfg, norm_cfg, act_cfg: layer configs as in PYSKL (Conv3d, BN3d, ReLU).
        norm_eval: keep BN layers in eval mode during training.
        zero_init_residual: zero the last BN weight of every residual block at init.

    Shape:
        ``[N, in_channels, T, H, W] -> [N, feat_dim, T', H', W']``.

    Example:
        >>> net = ResNet3d(depth=50, in_channels=17, base_channels=32, num_stages=3,
        ...                out_indices=(2,), stage_blocks=(4, 6, 3), conv1_kernel=(1, 7, 7),
        ...                conv1_stride=(1, 1), pool1_stride=(1, 1), inflate=(0, 1, 1),
        ...                spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 2))
        >>> net.init_weights()
        >>> net(torch.zeros(1, 17, 8, 32, 32)).shape
        torch.Size([1, 512, 4, 4, 4])
    """

    arch_settings = {
        18: (BasicBlock3d, (2, 2, 2, 2)),
        34: (BasicBlock3d, (3, 4, 6, 3)),
        50: (Bottleneck3d, (3, 4, 6, 3)),
        101: (Bottleneck3d, (3, 4, 23, 3)),
        152: (Bottleneck3d, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int = 50, pretrained: Optional[str] = None,
                 stage_blocks: Optional[Sequence[int]] = None, pretrained2d: bool = True,
                 in_channels: int = 3, num_stages: int = 4, base_channels: int = 64,
                 out_indices: Sequence[int] = (3,), spatial_strides: Sequence[int] = (1, 2, 2, 2),
                 temporal_strides: Sequence[int] = (1, 1, 1, 1), conv1_kernel: IntOr3 = (3, 7, 7),
                 conv1_stride: Sequence[int] = (1, 2), pool1_stride: Sequence[int] = (1, 2),
                 advanced: bool = False, frozen_stages: int = -1,
                 inflate: Union[int, Sequence] = (1, 1, 1, 1), inflate_style: str = "3x1x1",
                 conv_cfg: Optional[dict] = dict(type="Conv3d"),  # noqa: B006
                 norm_cfg: Optional[dict] = dict(type="BN3d", requires_grad=True),  # noqa: B006
                 act_cfg: Optional[dict] = dict(type="ReLU", inplace=True),  # noqa: B006
                 norm_eval: bool = False, zero_init_residual: bool = True) -> None:
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(f"invalid depth {depth} for ResNet3d; expected one of "
                           f"{sorted(self.arch_settings)}")
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be in 1..4, got {num_stages}")
        out_indices = tuple(out_indices)
        if not out_indices or max(out_indices) >= num_stages:
            raise ValueError(f"out_indices {out_indices} must be non-empty and < num_stages={num_stages}")
        if not len(spatial_strides) == len(temporal_strides) == num_stages:
            raise ValueError(f"spatial_strides {tuple(spatial_strides)} and temporal_strides "
                             f"{tuple(temporal_strides)} must both have num_stages={num_stages} entries")
        if stage_blocks is not None and len(stage_blocks) != num_stages:
            raise ValueError(f"stage_blocks {tuple(stage_blocks)} must have num_stages={num_stages} entries")
        self.depth = depth
        self.pretrained = pretrained
        self.pretrained2d = pretrained2d
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.spatial_strides = tuple(spatial_strides)
        self.temporal_strides = tuple(temporal_strides)
        self.conv1_kernel = _triple(conv1_kernel)
        self.conv1_stride = tuple(conv1_stride)
        self.pool1_stride = tuple(pool1_stride)
        self.advanced = advanced
        self.frozen_stages = frozen_stages
        # Like PYSKL (torch's _ntuple): an int is repeated, a longer sequence is used from the start.
        self.stage_inflations = (inflate,) * num_stages if isinstance(inflate, int) else tuple(inflate)
        if len(self.stage_inflations) < num_stages:
            raise ValueError(f"inflate {inflate} must have at least num_stages={num_stages} entries")
        self.inflate_style = inflate_style
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual

        self.block, default_blocks = self.arch_settings[depth]
        self.stage_blocks = tuple(stage_blocks) if stage_blocks is not None else default_blocks[:num_stages]
        self.inplanes = base_channels

        self._make_stem_layer()
        self.res_layers: list[str] = []
        # ResNet3dPathway sets lateral_inplanes before calling us: extra input channels per stage.
        lateral_inplanes = getattr(self, "lateral_inplanes", [0] * 4)
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2 ** i
            layer = self.make_res_layer(
                self.block, self.inplanes + lateral_inplanes[i], planes, num_blocks,
                stride=(self.temporal_strides[i], self.spatial_strides[i]),
                inflate=self.stage_inflations[i], inflate_style=inflate_style, advanced=advanced,
                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.inplanes = planes * self.block.expansion
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)
        self.feat_dim = self.block.expansion * base_channels * 2 ** (len(self.stage_blocks) - 1)

    @staticmethod
    def make_res_layer(block: type, inplanes: int, planes: int, blocks: int,
                       stride: Sequence[int] = (1, 1), inflate: Union[int, Sequence[int]] = 1,
                       inflate_style: str = "3x1x1", advanced: bool = False,
                       norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None,
                       conv_cfg: Optional[dict] = None) -> nn.Sequential:
        """One stage: the first block carries the stride and the projection shortcut."""
        inflate = (inflate,) * blocks if isinstance(inflate, int) else tuple(inflate)
        if len(inflate) != blocks:
            raise ValueError(f"per-block inflate {inflate} must have {blocks} entries")
        out_planes = planes * block.expansion
        downsample = None
        # Like PYSKL: a temporal-only stride with equal widths keeps the identity shortcut.
        if stride[1] != 1 or inplanes != out_planes:
            stride3 = (stride[0], stride[1], stride[1])
            if advanced:
                downsample = nn.Sequential(
                    ConvModule(inplanes, out_planes, 1, stride=1, bias=False, conv_cfg=conv_cfg,
                               norm_cfg=norm_cfg, act_cfg=None),
                    nn.AvgPool3d(kernel_size=stride3, stride=stride3, ceil_mode=True))
            else:
                downsample = ConvModule(inplanes, out_planes, 1, stride=stride3, bias=False,
                                        conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        common = dict(inflate_style=inflate_style, norm_cfg=norm_cfg, conv_cfg=conv_cfg, act_cfg=act_cfg)
        layers = [block(inplanes, planes, stride=tuple(stride), downsample=downsample,
                        inflate=inflate[0] == 1, **common)]
        for i in range(1, blocks):
            layers.append(block(out_planes, planes, stride=(1, 1), inflate=inflate[i] == 1, **common))
        return nn.Sequential(*layers)

    def _make_stem_layer(self) -> None:
        ct, cs = self.conv1_stride
        pt, ps = self.pool1_stride
        self.conv1 = ConvModule(self.in_channels, self.base_channels, self.conv1_kernel,
                                stride=(ct, cs, cs), padding=tuple((k - 1) // 2 for k in self.conv1_kernel),
                                bias=False, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                                act_cfg=self.act_cfg)
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(pt, ps, ps), padding=(0, 1, 1))

    def init_weights(self, pretrained: Optional[str] = None) -> None:
        """Kaiming convs, unit BNs, zero last BN per block; then load ``pretrained`` if set."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                kaiming_init_conv(m)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck3d):
                    nn.init.constant_(m.conv3.bn.weight, 0)
                elif isinstance(m, BasicBlock3d):
                    nn.init.constant_(m.conv2.bn.weight, 0)
        if pretrained:
            self.pretrained = pretrained
        if isinstance(self.pretrained, str):
            state = _read_state_dict(self.pretrained)
            if self.pretrained2d:
                self.inflate_weights(state)
            else:
                missing, unexpected = self.load_state_dict(state, strict=False)
                logger.info("loaded %s (missing %d, unexpected %d keys)", self.pretrained,
                            len(missing), len(unexpected))

    def inflate_weights(self, state_2d: dict) -> list:
        """Inflate a 2D ResNet state_dict into this network (see ``inflate_2d_weights``)."""
        return inflate_2d_weights(self, state_2d)

    def _freeze_stages(self) -> None:
        frozen = [self.conv1] if self.frozen_stages >= 0 else []
        frozen += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> "ResNet3d":
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, tuple]:
        x = self.maxpool(self.conv1(x))  # N, C, T, H, W
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)


def _read_state_dict(path: str) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    return {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}


def inflate_2d_weights(model: nn.Module, state_2d: dict, skip_lateral: bool = False,
                       pad_in_channels: bool = False) -> list:
    """Copy a torchvision-style 2D ResNet state_dict into ``model``'s ConvModules.

    Each 2D kernel is repeated over time and divided by the temporal size (I3D inflation);
    ``layerX.Y.convN`` / ``bnN`` and ``downsample.0`` / ``.1`` are mapped to ``convN.conv`` /
    ``convN.bn`` and ``downsample.conv`` / ``.bn``. For SlowFast-style pathways, modules named
    ``*lateral*`` are skipped and 2D kernels with fewer input channels (the lateral inputs) are
    zero-padded. Returns the 2D keys that were used.
    """
    used = []
    for name, module in model.named_modules():
        if not isinstance(module, ConvModule) or (skip_lateral and "lateral" in name):
            continue
        if "downsample" in name:
            conv_name, bn_name = name + ".0", name + ".1"
        else:
            conv_name, bn_name = name, name.replace("conv", "bn")
        w2d = state_2d.get(conv_name + ".weight")
        w3d = module.conv.weight
        if pad_in_channels and w2d is not None and w2d.dim() == 4 and 0 < w2d.shape[1] < w3d.shape[1]:
            pad = w2d.new_zeros((w2d.shape[0], w3d.shape[1] - w2d.shape[1]) + tuple(w2d.shape[2:]))
            w2d = torch.cat([w2d, pad], dim=1)
        if w2d is None:
            logger.warning("no 2D weight for %s", conv_name)
        elif tuple(w2d.shape) != tuple(w3d.shape[:2]) + tuple(w3d.shape[3:]):
            logger.warning("shape mismatch for %s: 3D %s vs 2D %s", conv_name, tuple(w3d.shape),
                           tuple(w2d.shape))
        else:
            with torch.no_grad():
                w3d.copy_(w2d.unsqueeze(2).expand_as(w3d) / w3d.shape[2])
            used.append(conv_name + ".weight")
            if module.conv.bias is not None and conv_name + ".bias" in state_2d:
                with torch.no_grad():
                    module.conv.bias.copy_(state_2d[conv_name + ".bias"])
                used.append(conv_name + ".bias")
        if module.bn is None or bn_name + ".weight" not in state_2d:
            continue
        tensors = dict(module.bn.named_parameters())
        tensors.update(module.bn.named_buffers())
        for key, t in tensors.items():
            src = state_2d.get(f"{bn_name}.{key}")
            if src is not None and src.shape == t.shape:
                with torch.no_grad():
                    t.copy_(src)
                used.append(f"{bn_name}.{key}")
    return used
