"""AAGCN backbone: PYSKL state_dict layout, golden outputs, options, and training."""
from __future__ import annotations

import pytest
import torch
from gcn_backbone_checks import (
    check_backward,
    check_constructed_buffers,
    check_golden_io,
    check_state_dict_layout,
    randomize_gates,
)

from pyskl.models import build_model

NAME = "aagcn_pyskl_ntu60_xsub_3dkp_j"
GRAPH = dict(layout="nturgb+d", mode="spatial")


def test_state_dict_layout_matches_pyskl():
    check_state_dict_layout(NAME)


def test_graph_buffers_match_pyskl():
    check_constructed_buffers(NAME)


@pytest.mark.slow  # tests/test_models_recognizers.py runs the same goldens by default
def test_golden_features_logits_scores():
    check_golden_io(NAME)


def test_backward_reaches_every_parameter():
    net = build_model(dict(type="AAGCN", graph_cfg=GRAPH, base_channels=16))
    randomize_gates(net, ("alpha",))
    out = check_backward(net, torch.randn(1, 2, 8, 25, 3))
    assert out.shape == (1, 2, 64, 2, 25)


@pytest.mark.parametrize("kwargs, has_conv_a, has_attention", [
    (dict(gcn_adaptive=False), False, True),
    (dict(gcn_attention=False), True, False),
])
def test_gcn_options(kwargs, has_conv_a, has_attention):
    net = build_model(dict(type="AAGCN", graph_cfg=GRAPH, base_channels=16, **kwargs)).eval()
    keys = net.state_dict().keys()
    assert any(".conv_a." in k for k in keys) == has_conv_a
    assert any(".conv_ta." in k for k in keys) == has_attention
    # without adaptivity the per-block graph is a buffer, not a parameter
    assert ("gcn.1.gcn.A" in dict(net.named_parameters())) == has_conv_a
    with torch.no_grad():
        assert net(torch.randn(1, 2, 8, 25, 3)).shape == (1, 2, 64, 2, 25)


def test_mstcn_temporal_option_and_vc_data_bn():
    net = build_model(dict(type="AAGCN", graph_cfg=dict(layout="coco", mode="spatial"), base_channels=16,
                           data_bn_type="VC", tcn_type="mstcn")).eval()
    assert "gcn.1.tcn.transform.2.weight" in net.state_dict()
    with torch.no_grad():
        assert net(torch.randn(1, 1, 8, 17, 3)).shape == (1, 1, 64, 2, 17)


def test_mvc_data_bn_needs_num_person():
    net = build_model(dict(type="AAGCN", graph_cfg=GRAPH, base_channels=16)).eval()
    with pytest.raises(ValueError, match="MVC"):
        net(torch.randn(1, 1, 8, 25, 3))


def test_unknown_block_kwarg_is_an_error():
    with pytest.raises(TypeError, match="foo"):
        build_model(dict(type="AAGCN", graph_cfg=GRAPH, foo=1))
