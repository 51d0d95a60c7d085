"""ResNet3dSlowOnly: the SlowOnly pathway, PoseC3D's default backbone.

Paper: "Revisiting Skeleton-based Action Recognition" (PoseConv3D), arXiv:2104.13586; SlowOnly
from "SlowFast Networks for Video Recognition", arXiv:1812.03982. Original code: PYSKL (Apache-2.0).
"""
from __future__ import annotations

from typing import Any, Sequence, Union

from ...registry import MODELS
from .resnet3d import ResNet3d

__all__ = ["ResNet3dSlowOnly"]


@MODELS.register()
class ResNet3dSlowOnly(ResNet3d):
    """``ResNet3d`` with a 1x7x7 stem and temporal kernels only in the later stages.

    Args:
        conv1_kernel: stem kernel, default ``(1, 7, 7)``.
        inflate: per-stage inflation, default ``(0, 0, 1, 1)``.
        **kwargs: every other ``ResNet3d`` argument.

    Example:
        >>> net = ResNet3dSlowOnly(in_channels=17, base_channels=32, num_stages=3, out_indices=(2,),
        ...                        stage_blocks=(4, 6, 3), conv1_stride=(1, 1), pool1_stride=(1, 1),
        ...                        inflate=(0, 1, 1), spatial_strides=(2, 2, 2),
        ...                        temporal_strides=(1, 1, 2))
        >>> net(torch.zeros(1, 17, 16, 32, 32)).shape
        torch.Size([1, 512, 8, 4, 4])
    """

    def __init__(self, conv1_kernel: Sequence[int] = (1, 7, 7),
                 inflate: Union[int, Sequence] = (0, 0, 1, 1), **kwargs: Any) -> None:
        super().__init__(conv1_kernel=conv1_kernel, inflate=inflate, **kwargs)
