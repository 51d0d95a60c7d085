"""DG-STGCN backbone: PYSKL state_dict layout, golden outputs, graph RNG, options, and training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import require_shared
from gcn_backbone_checks import (
    check_backward,
    check_golden_io,
    check_state_dict_layout,
    model_cfg,
    randomize_gates,
)

from pyskl.models import build_model
from pyskl.models.gcns.dgstgcn import DGGCN, DGMSTCN

NAME = "dgstgcn_ntu60_xsub_3dkp_j"
GRAPH = dict(layout="nturgb+d", mode="random", num_filter=8, init_off=0.04, init_std=0.02)
SMALL = dict(type="DGSTGCN", graph_cfg=GRAPH, base_channels=16, gcn_ratio=0.125, gcn_ctr="T",
             gcn_ada="T", tcn_ms_cfg=[(3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"])


def test_state_dict_layout_matches_pyskl():
    check_state_dict_layout(NAME)


def test_initial_graph_comes_from_numpy_global_rng():
    """np.random.seed(0) then build reproduces PYSKL's initial A (stored rounded to bfloat16)."""
    weights = torch.load(require_shared("oracle", "models", "public", f"{NAME}.state_dict.pt"),
                         weights_only=True)
    np.random.seed(0)
    net = build_model(model_cfg(NAME)["backbone"])
    for i in (0, 9):
        A = net.gcn[i].gcn.A.detach()
        assert A.shape == (8, 25, 25)
        # bfloat16 keeps 8 significant bits: relative error <= 2**-8
        np.testing.assert_allclose(A.numpy(), weights[f"backbone.gcn.{i}.gcn.A"].numpy(), rtol=2 ** -8)
    np.random.seed(0)
    again = build_model(model_cfg(NAME)["backbone"])
    torch.testing.assert_close(again.gcn[3].gcn.A, net.gcn[3].gcn.A)


@pytest.mark.slow  # tests/test_models_recognizers.py runs the same goldens by default
def test_golden_features_logits_scores():
    check_golden_io(NAME)


def test_backward_reaches_every_parameter():
    net = build_model(SMALL)
    randomize_gates(net, ("alpha", "beta", "add_coeff"))
    out = check_backward(net, torch.randn(1, 2, 8, 25, 3))
    assert out.shape == (1, 2, 64, 2, 25)


@pytest.mark.parametrize("gcn", [dict(ctr=None, ada=None), dict(ctr="T", ada=None),
                                 dict(ctr=None, ada="T"), dict(ctr="NA", ada="T"),
                                 dict(subset_wise=True, ada_act="sigmoid", ctr_act="relu")])
def test_dggcn_variants(gcn):
    torch.manual_seed(0)
    unit = DGGCN(6, 16, torch.rand(4, 7, 7), ratio=0.25, **gcn)
    randomize_gates(unit, ("alpha", "beta"))
    out = unit.eval()(torch.randn(2, 6, 5, 7))
    assert out.shape == (2, 16, 5, 7) and torch.isfinite(out).all()


def test_dggcn_without_refinement_is_a_plain_group_graph_conv():
    torch.manual_seed(0)
    unit = DGGCN(6, 16, torch.rand(4, 7, 7), ratio=0.25, ctr=None, ada=None).eval()
    x = torch.randn(2, 6, 5, 7)
    pre = unit.pre(x).view(2, 4, 4, 5, 7)
    agg = torch.einsum("nkctv,kvw->nkctw", pre, unit.A).reshape(2, 16, 5, 7)
    expected = unit.act(unit.bn(unit.post(agg)) + unit.down(x))
    torch.testing.assert_close(unit(x), expected)


def test_dgmstcn_adds_weighted_global_branch():
    torch.manual_seed(0)
    tcn = DGMSTCN(12, 12, num_joints=5, ms_cfg=[(3, 1), ("max", 3), "1x1"]).eval()
    x = torch.randn(2, 12, 6, 5)
    with torch.no_grad():
        tcn.add_coeff.zero_()
        base = tcn(x)
        tcn.add_coeff.fill_(1)
        moved = tcn(x)
    assert not torch.allclose(base, moved)
    with pytest.raises(ValueError, match="num_joints=5"):
        tcn(torch.randn(1, 12, 6, 7))


def test_per_stage_tuple_kwargs_and_stem_without_dropout():
    cfg = dict(SMALL, num_stages=4, inflate_stages=[3], down_stages=[3], tcn_dropout=0.2,
               gcn_ratio=(0.25, 0.25, 0.5, 0.5))
    net = build_model(cfg)
    assert [b.gcn.mid_channels for b in net.gcn] == [4, 4, 16, 16]
    assert net.gcn[0].tcn.drop.p == 0 and net.gcn[1].tcn.drop.p == 0.2
    with torch.no_grad():
        assert net.eval()(torch.randn(1, 1, 8, 25, 3)).shape == (1, 1, 32, 4, 25)
