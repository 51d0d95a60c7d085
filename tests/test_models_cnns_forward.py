"""PoseC3D backbones: shapes, backward, options (depth, inflation, freezing, 2D inflation), errors."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from pyskl.models.cnns import C3D, X3D, ResNet3d, ResNet3dSlowOnly
from pyskl.models.cnns.resnet3d import BasicBlock3d, Bottleneck3d, ConvModule
from pyskl.registry import MODELS

SLOWONLY = dict(type="ResNet3dSlowOnly", in_channels=17, base_channels=32, num_stages=3, out_indices=(2,),
                stage_blocks=(4, 6, 3), conv1_stride=(1, 1), pool1_stride=(1, 1), inflate=(0, 1, 1),
                spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 2))
C3D_LIGHT = dict(type="C3D", in_channels=17, base_channels=32, num_stages=3, temporal_downsample=False)
X3D_SHALLOW = dict(type="X3D", gamma_d=1, in_channels=17, base_channels=24, num_stages=3, se_ratio=None,
                   use_swish=False, stage_blocks=(2, 5, 3), spatial_strides=(2, 2, 2))

CASES = [
    (SLOWONLY, (2, 17, 8, 32, 32), (2, 512, 4, 4, 4)),
    (C3D_LIGHT, (2, 17, 8, 32, 32), (2, 256, 8, 4, 4)),
    (X3D_SHALLOW, (2, 17, 8, 32, 32), (2, 216, 8, 2, 2)),
    (dict(type="C3D", in_channels=3, base_channels=8), (1, 3, 16, 32, 32), (1, 64, 2, 2, 2)),
    (dict(type="X3D", in_channels=3, base_channels=8, stage_blocks=(1, 1, 1, 1)), (1, 3, 4, 32, 32),
     (1, 144, 4, 1, 1)),
    (dict(type="ResNet3d", depth=18, in_channels=3, base_channels=8, inflate_style="3x3x3"),
     (1, 3, 4, 32, 32), (1, 64, 4, 1, 1)),
    (dict(type="ResNet3d", depth=50, in_channels=3, base_channels=8, inflate_style="3x3x3", advanced=True,
          temporal_strides=(1, 2, 2, 1)), (1, 3, 8, 32, 32), (1, 256, 2, 1, 1)),
]


def _randomise_bn(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)


@pytest.mark.parametrize("cfg,in_shape,out_shape", CASES, ids=lambda c: str(c)[:40])
def test_forward_backward(cfg, in_shape, out_shape):
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    _randomise_bn(model)
    out = model(torch.rand(in_shape))
    assert tuple(out.shape) == out_shape
    assert out.shape[1] == model.feat_dim
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_registered_under_pyskl_names():
    for name in ("ResNet3d", "ResNet3dSlowOnly", "C3D", "X3D"):
        assert name in MODELS
    assert MODELS.get("ResNet3dSlowOnly") is ResNet3dSlowOnly


def test_slowonly_defaults_are_pyskls():
    net = ResNet3dSlowOnly(in_channels=3, base_channels=8)
    assert net.conv1.conv.kernel_size == (1, 7, 7)
    assert net.conv1.conv.stride == (1, 2, 2)
    assert net.maxpool.stride == (1, 2, 2)
    assert net.stage_blocks == (3, 4, 6, 3)
    assert [blk.conv1.conv.kernel_size for blk in net.layer2] == [(1, 1, 1)] * 4
    assert [blk.conv1.conv.kernel_size for blk in net.layer3] == [(3, 1, 1)] * 6
    assert isinstance(net.layer1[0], Bottleneck3d)
    assert net.feat_dim == 8 * 8 * 4


def test_per_block_inflation_and_inflate_styles():
    net = ResNet3d(depth=50, base_channels=8, num_stages=1, out_indices=(0,), stage_blocks=(3,),
                   spatial_strides=(1,), temporal_strides=(1,), inflate=((1, 0, 1),))
    assert [b.conv1.conv.kernel_size for b in net.layer1] == [(3, 1, 1), (1, 1, 1), (3, 1, 1)]
    net = ResNet3d(depth=50, base_channels=8, num_stages=1, out_indices=(0,), stage_blocks=(1,),
                   spatial_strides=(1,), temporal_strides=(1,), inflate_style="3x3x3")
    assert net.layer1[0].conv1.conv.kernel_size == (1, 1, 1)
    assert net.layer1[0].conv2.conv.kernel_size == (3, 3, 3)
    basic = ResNet3d(depth=34, base_channels=8, inflate=(0, 0, 1, 1), inflate_style="3x3x3")
    assert isinstance(basic.layer1[0], BasicBlock3d)
    assert basic.layer1[0].conv1.conv.kernel_size == (1, 3, 3)
    assert basic.layer3[0].conv1.conv.kernel_size == (3, 3, 3)
    assert basic.stage_blocks == (3, 4, 6, 3)


def test_shortcut_projection_rules_match_pyskl():
    net = ResNet3d(depth=50, base_channels=8, num_stages=2, out_indices=(1,), stage_blocks=(1, 1),
                   spatial_strides=(1, 1), temporal_strides=(1, 2), inflate=(0, 0))
    # a width change forces a projection, which then carries the temporal stride too
    assert net.layer2[0].downsample.conv.stride == (2, 1, 1)
    assert isinstance(net.layer1[0].downsample, ConvModule)
    same_width = ResNet3d.make_res_layer(Bottleneck3d, 32, 8, 1, stride=(2, 1))
    assert same_width[0].downsample is None  # PYSKL: temporal-only stride, no shortcut projection


def test_multiple_out_indices_return_tuple():
    net = ResNet3dSlowOnly(in_channels=3, base_channels=8, out_indices=(1, 3))
    outs = net(torch.rand(1, 3, 4, 64, 64))
    assert isinstance(outs, tuple) and [o.shape[1] for o in outs] == [64, 256]


def test_advanced_downsample_is_conv_then_avgpool():
    net = ResNet3d(depth=50, base_channels=8, advanced=True)
    ds = net.layer2[0].downsample
    assert isinstance(ds, nn.Sequential) and isinstance(ds[0], ConvModule) and isinstance(ds[1], nn.AvgPool3d)
    assert "layer2.0.downsample.0.conv.weight" in net.state_dict()


def test_frozen_stages_and_norm_eval():
    net = ResNet3dSlowOnly(in_channels=3, base_channels=8, frozen_stages=1, norm_eval=True).train()
    assert not any(p.requires_grad for p in net.conv1.parameters())
    assert not any(p.requires_grad for p in net.layer1.parameters())
    assert all(p.requires_grad for p in net.layer2.parameters())
    assert all(not m.training for m in net.modules() if isinstance(m, nn.BatchNorm3d))
    x3d = X3D(in_channels=3, base_channels=8, stage_blocks=(1, 1, 1, 1), frozen_stages=0).train()
    assert not any(p.requires_grad for p in x3d.conv1_t.parameters())
    assert x3d.training and not x3d.conv1_t.training


def test_x3d_default_is_x3d_m_with_se_and_swish():
    net = X3D(in_channels=3)
    assert net.stage_blocks == [3, 5, 11, 7]  # ceil(2.2 * (1, 2, 5, 3))
    assert hasattr(net.layer1[0], "se_module") and not hasattr(net.layer1[1], "se_module")
    assert net.layer1[0].se_module.bottleneck == 8  # round_width(54 / 16) -> min 8
    assert isinstance(net.layer1[0].swish, nn.SiLU)
    assert net.feat_dim == 432
    assert [k for k in net.layer1[0].state_dict()][:2] == ["downsample.conv.weight", "downsample.bn.weight"]


def test_c3d_temporal_downsample_pools_time():
    net = C3D(in_channels=17, base_channels=8, num_stages=4)
    assert net.pool1.kernel_size == (1, 2, 2) and net.pool2.kernel_size == (2, 2, 2)
    assert tuple(net(torch.rand(1, 17, 16, 32, 32)).shape) == (1, 64, 2, 2, 2)


def test_conv_module_layout_and_bias_auto():
    cm = ConvModule(4, 6, 3, padding=1, norm_cfg=dict(type="BN3d"))
    assert list(cm.state_dict())[:2] == ["conv.weight", "bn.weight"] and cm.conv.bias is None
    plain = ConvModule(4, 6, 1, act_cfg=None)
    assert plain.conv.bias is not None and plain.bn is None and plain.activate is None
    frozen = ConvModule(4, 6, 1, norm_cfg=dict(type="BN3d", requires_grad=False))
    assert not frozen.bn.weight.requires_grad


def test_pretrained_2d_weights_are_inflated(tmp_path):
    net = ResNet3d(depth=50, base_channels=8, num_stages=1, out_indices=(0,), stage_blocks=(1,),
                   spatial_strides=(1,), temporal_strides=(1,), conv1_kernel=(3, 7, 7))
    state_2d = {"conv1.weight": torch.randn(8, 3, 7, 7), "bn1.weight": torch.rand(8),
                "bn1.bias": torch.rand(8), "bn1.running_mean": torch.rand(8), "bn1.running_var": torch.rand(8),
                "layer1.0.conv1.weight": torch.randn(8, 8, 1, 1),
                "layer1.0.downsample.0.weight": torch.randn(32, 8, 1, 1),
                "layer1.0.downsample.1.weight": torch.rand(32), "fc.weight": torch.randn(10, 32)}
    path = tmp_path / "r2d.pth"
    torch.save({"state_dict": state_2d}, path)
    net.init_weights(pretrained=str(path))
    assert torch.allclose(net.conv1.conv.weight, state_2d["conv1.weight"].unsqueeze(2).expand(8, 3, 3, 7, 7) / 3)
    assert torch.equal(net.conv1.bn.running_var, state_2d["bn1.running_var"])
    # layer1 is inflated 3x1x1, so each of the 3 temporal taps holds a third of the 2D kernel
    assert torch.allclose(net.layer1[0].conv1.conv.weight[:, :, :, 0, 0] * 3,
                          state_2d["layer1.0.conv1.weight"][:, :, 0, 0, None].expand(8, 8, 3))
    assert torch.equal(net.layer1[0].downsample.bn.weight, state_2d["layer1.0.downsample.1.weight"])


def test_pretrained_3d_checkpoint_loads_with_module_prefix(tmp_path):
    src = C3D(in_channels=3, base_channels=4, num_stages=3)
    path = tmp_path / "c3d.pth"
    torch.save({"state_dict": {f"module.{k}": v + 1 for k, v in src.state_dict().items()
                               if v.is_floating_point()}}, path)
    dst = C3D(in_channels=3, base_channels=4, num_stages=3, pretrained=str(path))
    dst.init_weights()
    assert torch.equal(dst.conv4b.conv.weight, src.conv4b.conv.weight + 1)


@pytest.mark.parametrize("build,match", [
    (lambda: ResNet3d(depth=42), "invalid depth 42"),
    (lambda: ResNet3d(depth=18), "inflate_style '3x3x3'"),
    (lambda: ResNet3d(num_stages=3, spatial_strides=(1, 2, 2), temporal_strides=(1, 1, 1),
                      out_indices=(3,)), "out_indices"),
    (lambda: ResNet3d(num_stages=3), "num_stages=3"),
    (lambda: ResNet3d(inflate_style="2x2x2"), "inflate_style"),
    (lambda: C3D(num_stages=5), "3 or 4"),
    (lambda: X3D(se_style="quarter"), "se_style"),
    (lambda: X3D(num_stages=3), "spatial_strides"),
    (lambda: ResNet3d(norm_cfg=dict(type="GN")), "norm_cfg type 'GN'"),
])
def test_bad_arguments_raise_clear_errors(build, match):
    with pytest.raises((ValueError, KeyError, TypeError), match=match):
        build()
