"""RGBPoseConv3D (listing-only in the oracle): state_dict layout, laterals, forward/backward."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from conftest import require_shared
from pyskl.models.cnns.rgbposeconv3d import DeConvModule, ResNet3dPathway, RGBPoseConv3D
from pyskl.registry import MODELS


@pytest.fixture(scope="module")
def listing() -> dict:
    path = require_shared("oracle", "models", "common", "listings", "rgbpose_conv3d.json")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def backbone(listing) -> RGBPoseConv3D:
    torch.manual_seed(0)
    model = MODELS.build(listing["model_cfg"]["backbone"])
    model.init_weights()
    return model


def test_state_dict_and_modules_match_pyskl_listing(listing, backbone):
    expected = [(e["key"][len("backbone."):], e["shape"]) for e in listing["state_dict"]
                if e["key"].startswith("backbone.")]
    assert [(k, list(v.shape)) for k, v in backbone.state_dict().items()] == expected
    assert sum(p.numel() for p in backbone.parameters()) == listing["param_count_backbone"]
    ours = dict(backbone.named_modules())
    for qualname, cls, extra in listing["modules"]:
        if qualname.startswith("backbone.") and cls in ("Conv3d", "ConvTranspose3d", "BatchNorm3d", "MaxPool3d"):
            assert ours[qualname[len("backbone."):]].extra_repr() == extra, qualname


def test_default_arguments_are_the_shipped_config(listing):
    cfg = listing["model_cfg"]["backbone"]
    default = RGBPoseConv3D()
    built = MODELS.build(cfg)
    assert [(k, v.shape) for k, v in default.state_dict().items()] == \
        [(k, v.shape) for k, v in built.state_dict().items()]
    assert cfg["rgb_pathway"].get("speed_ratio") is None  # the caller's dict is not modified


def test_forward_shapes_and_lateral_widths(backbone):
    backbone.eval()
    with torch.no_grad():
        rgb, pose = backbone(torch.rand(1, 3, 2, 32, 32), torch.rand(1, 17, 8, 8, 8))
    assert tuple(rgb.shape) == (1, 2048, 2, 1, 1)
    assert tuple(pose.shape) == (1, 512, 8, 1, 1)
    assert backbone.rgb_path.lateral_inplanes == [0, 0, 128, 256]
    assert backbone.pose_path.lateral_inplanes == [0, 32, 64]
    assert isinstance(backbone.pose_path.layer1_lateral, DeConvModule)


def _small(**kwargs) -> RGBPoseConv3D:
    rgb = dict(num_stages=4, lateral=True, lateral_infl=1, lateral_activate=(0, 0, 1, 1), base_channels=8,
               conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), stage_blocks=(1, 1, 1, 1))
    pose = dict(num_stages=3, stage_blocks=(1, 1, 1), lateral=True, lateral_inv=True, lateral_infl=16,
                lateral_activate=(0, 1, 1), in_channels=17, base_channels=4, out_indices=(2,),
                conv1_kernel=(1, 7, 7), conv1_stride=(1, 1), pool1_stride=(1, 1), inflate=(0, 1, 1),
                spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 1))
    torch.manual_seed(0)
    model = RGBPoseConv3D(rgb_pathway=rgb, pose_pathway=pose, **kwargs)
    model.init_weights()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
    return model


def test_backward_reaches_every_parameter_through_the_laterals():
    model = _small().train()
    rgb, pose = model(torch.rand(2, 3, 2, 32, 32), torch.rand(2, 17, 8, 8, 8))
    (rgb.mean() + pose.mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_detach_and_drop_path():
    x = (torch.rand(1, 3, 2, 32, 32), torch.rand(1, 17, 8, 8, 8))
    detached = _small(pose_detach=True).train()
    _, pose = detached(*x)
    pose.mean().backward()
    assert detached.rgb_path.layer2[0].conv1.conv.weight.grad is None  # rgb gets nothing via laterals
    dropped = _small(rgb_drop_path=1.0).train()
    kept = _small().train()
    kept.load_state_dict(dropped.state_dict())
    with torch.no_grad():
        assert not torch.allclose(dropped(*x)[0], kept(*x)[0])
        kept.load_state_dict(dropped.state_dict())  # the train forwards moved BN stats differently
        dropped.eval()
        kept.eval()
        torch.testing.assert_close(dropped(*x)[0], kept(*x)[0])  # no dropping in eval


def test_pathway_inflation_pads_lateral_channels(tmp_path):
    path = ResNet3dPathway(lateral=True, speed_ratio=4, channel_ratio=4, lateral_infl=1,
                           lateral_activate=(0, 0, 1, 1), base_channels=8, conv1_kernel=(1, 7, 7),
                           inflate=(0, 0, 1, 1), stage_blocks=(1, 1, 1, 1))
    w2d = torch.randn(32, 64, 1, 1)  # layer3.0.conv1 in 2D: 64 inputs; here 64 + 16 lateral
    torch.save({"layer3.0.conv1.weight": w2d}, tmp_path / "r2d.pth")
    path.init_weights(pretrained=str(tmp_path / "r2d.pth"))
    w3d = path.layer3[0].conv1.conv.weight
    assert w3d.shape[1] == 64 + 16
    torch.testing.assert_close(w3d[:, :64, 1, 0, 0] * 3, w2d[:, :, 0, 0])
    assert torch.count_nonzero(w3d[:, 64:]) == 0
