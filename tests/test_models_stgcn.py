"""ST-GCN / ST-GCN++ backbone and the shared GCN blocks: structure, routing, formulations."""
from __future__ import annotations

import pytest
import torch

from pyskl.models import build_model
from pyskl.models.gcns.blocks import MSTCN, UnitGCN, UnitTCN, split_prefixed
from pyskl.models.gcns.stgcn import STGCN
from pyskl.utils import Graph

NTU = dict(layout="nturgb+d", mode="spatial")


def test_split_prefixed():
    gcn, tcn = split_prefixed(dict(gcn_adaptive="init", tcn_type="mstcn", tcn_dropout=0.1))
    assert gcn == {"adaptive": "init"} and tcn == {"type": "mstcn", "dropout": 0.1}
    with pytest.raises(TypeError, match="unexpected keyword argument.*adaptive"):
        split_prefixed(dict(adaptive="init"))
    with pytest.raises(TypeError, match="gcn_adaptve|adaptve"):
        STGCN(graph_cfg=NTU, adaptve="init")


@pytest.mark.parametrize("adaptive", [None, "init", "offset", "importance"])
@pytest.mark.parametrize("conv_pos", ["pre", "post"])
def test_unit_gcn_modes(adaptive, conv_pos):
    torch.manual_seed(0)
    A = torch.tensor(Graph("coco", "spatial").A, dtype=torch.float32)
    unit = UnitGCN(4, 6, A, adaptive=adaptive, conv_pos=conv_pos, with_res=True).eval()
    keys = set(unit.state_dict())
    assert ("PA" in keys) == (adaptive in ("offset", "importance"))
    assert isinstance(unit.A, torch.nn.Parameter) == (adaptive == "init")
    assert "down.0.weight" in keys and "down.1.running_mean" in keys
    x = torch.randn(2, 4, 5, 17)
    out = unit(x)
    assert out.shape == (2, 6, 5, 17)
    # the PYSKL formulation, written out
    Aeff = {None: A, "init": unit.A, "offset": unit.A + getattr(unit, "PA", 0),
            "importance": unit.A * getattr(unit, "PA", 1)}[adaptive]
    if conv_pos == "pre":
        y = unit.conv(x).view(2, 3, 6, 5, 17)
        y = torch.einsum("nkctv,kvw->nctw", y, Aeff)
    else:
        y = unit.conv(torch.einsum("nctv,kvw->nkctw", x, Aeff).reshape(2, -1, 5, 17))
    expected = torch.relu(unit.bn(y) + unit.down(x))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_unit_tcn_padding_and_stride():
    tcn = UnitTCN(4, 8, kernel_size=3, stride=2, dilation=3, norm=None)
    assert tcn.conv.padding == (3, 0) and isinstance(tcn.bn, torch.nn.Identity)
    assert tcn(torch.randn(1, 4, 9, 5)).shape == (1, 8, 5, 5)


def test_mstcn_channel_split_and_keys():
    tcn = MSTCN(64, 64)
    widths = [b[0].out_channels if isinstance(b, torch.nn.Sequential) else b.out_channels
              for b in tcn.branches]
    assert widths == [14, 10, 10, 10, 10, 10]  # branch 0 takes the remainder
    keys = list(tcn.state_dict())
    assert "branches.0.3.conv.weight" in keys and "branches.4.1.running_var" in keys
    assert "branches.5.weight" in keys and "transform.2.weight" in keys and "transform.0.weight" in keys
    assert MSTCN(64, 64, stride=2)(torch.randn(1, 64, 9, 3)).shape == (1, 64, 5, 3)
    ratio = MSTCN(64, 64, mid_channels=0.25)
    assert ratio.rem_mid_channels == ratio.mid_channels == 16
    with pytest.raises(ValueError, match="branch cfg"):
        MSTCN(8, 8, ms_cfg=[(3,)])


def test_stgcn_stage_layout():
    net = STGCN(graph_cfg=NTU)
    assert len(net.gcn) == 10
    chans = [(b.gcn.in_channels, b.gcn.out_channels) for b in net.gcn]
    assert chans[0] == (3, 64) and chans[4] == (64, 128) and chans[7] == (128, 256) and chans[9] == (256, 256)
    strides = [b.tcn.stride for b in net.gcn]
    assert strides == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    # block 0 has no residual; blocks 4 and 7 use a strided 1x1 unit_tcn
    assert "gcn.0.residual.conv.weight" not in net.state_dict()
    assert net.state_dict()["gcn.4.residual.conv.weight"].shape == (128, 64, 1, 1)
    out = net.eval()(torch.randn(2, 2, 16, 25, 3))
    assert out.shape == (2, 2, 256, 4, 25)


def test_stgcn_gesture_variant_and_same_in_base_channels():
    net = STGCN(graph_cfg=dict(layout="handmp", mode="spatial"), in_channels=2, gcn_adaptive="init",
                gcn_with_res=True, tcn_type="mstcn", num_stages=6, down_stages=[6], inflate_stages=[6])
    assert len(net.gcn) == 6 and net.out_channels == 128
    # in_channels == base_channels: PYSKL drops the first block
    assert len(STGCN(graph_cfg=NTU, in_channels=64, base_channels=64).gcn) == 9


def test_stage_wise_kwargs_and_first_block_dropout():
    net = STGCN(graph_cfg=NTU, num_stages=3, inflate_stages=[3], down_stages=[3], tcn_dropout=0.5,
                gcn_adaptive=("init", "importance", "offset"))
    assert net.gcn[0].tcn.drop.p == 0 and net.gcn[1].tcn.drop.p == 0.5  # PYSKL pops stage-0 dropout
    assert [b.gcn.adaptive for b in net.gcn] == ["init", "importance", "offset"]


def test_data_bn_types():
    x = torch.randn(2, 2, 8, 17, 3)
    for kind, size in (("VC", 51), ("MVC", 102)):
        net = STGCN(graph_cfg=dict(layout="coco", mode="spatial"), data_bn_type=kind, num_stages=2,
                    inflate_stages=[], down_stages=[])
        assert net.data_bn.num_features == size
        assert net.eval()(x).shape == (2, 2, 64, 8, 17)
    net = STGCN(graph_cfg=dict(layout="coco", mode="spatial"), data_bn_type="none", num_stages=2)
    assert isinstance(net.data_bn, torch.nn.Identity)
    with pytest.raises(ValueError, match=r"\[N, M, T, V, C\]"):
        net(torch.randn(2, 8, 17, 3))


def test_stgcnpp_backward_all_params():
    torch.manual_seed(0)
    model = build_model(dict(type="RecognizerGCN",
                             backbone=dict(type="STGCN", graph_cfg=dict(layout="coco", mode="spatial"),
                                           gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn",
                                           base_channels=16, num_stages=4, inflate_stages=[3],
                                           down_stages=[3]),
                             cls_head=dict(type="GCNHead", num_classes=4, in_channels=32)))
    losses = model.loss(model(torch.randn(2, 1, 2, 8, 17, 3)), torch.tensor([[1], [3]]))
    losses["loss_cls"].backward()
    assert all(p.grad is not None for p in model.parameters())
