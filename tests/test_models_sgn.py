"""SGN backbone: PYSKL state_dict layout, golden outputs, fixed T, and training."""
from __future__ import annotations

import pytest
import torch
from gcn_backbone_checks import check_backward, check_golden_io, check_state_dict_layout

from pyskl.models import build_model

NAME = "sgn_ntu60_synthetic"


def test_state_dict_layout_matches_pyskl():
    check_state_dict_layout(NAME)


@pytest.mark.slow  # tests/test_models_recognizers.py runs the same goldens by default
def test_golden_features_logits_scores():
    check_golden_io(NAME)


def test_registered_and_trains():
    net = build_model(dict(type="SGN", base_channels=8, num_joints=17, T=12))
    out = check_backward(net, torch.randn(2, 2, 12, 17, 3))
    assert out.shape == (2, 2, 64, 20, 1)


def test_input_length_must_equal_T():
    net = build_model(dict(type="SGN", base_channels=8, T=30)).eval()
    with pytest.raises(ValueError, match="T=30"):
        net(torch.randn(1, 1, 20, 25, 3))


def test_runs_in_float64():
    net = build_model(dict(type="SGN", base_channels=8, T=10)).double().eval()
    with torch.no_grad():
        out = net(torch.randn(1, 1, 10, 25, 3, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.shape == (1, 1, 64, 20, 1)
