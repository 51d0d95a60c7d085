"""CTR-GCN backbone: PYSKL state_dict layout, golden outputs, options, and training."""
from __future__ import annotations

import pytest
import torch
from gcn_backbone_checks import (
    check_backward,
    check_constructed_buffers,
    check_golden_io,
    check_state_dict_layout,
    fast_and_reference,
    randomize_gates,
    randomize_norms,
)

from pyskl.models import build_model
from pyskl.models.gcns.ctrgcn import CTRGC

NAME = "ctrgcn_pyskl_ntu60_xsub_3dkp_j"
GRAPH = dict(layout="nturgb+d", mode="spatial")


def test_state_dict_layout_matches_pyskl():
    check_state_dict_layout(NAME)


def test_graph_buffers_match_pyskl():
    check_constructed_buffers(NAME)


@pytest.mark.slow  # tests/test_models_recognizers.py runs the same goldens by default
def test_golden_features_logits_scores():
    check_golden_io(NAME)


def test_backward_reaches_every_parameter():
    net = build_model(dict(type="CTRGCN", graph_cfg=GRAPH, base_channels=16))
    randomize_gates(net, ("alpha",))
    out = check_backward(net, torch.randn(1, 2, 8, 25, 3))
    assert out.shape == (1, 2, 64, 2, 25)


def test_ctrgc_matches_its_definition():
    """out[n,c,t,v] = sum_u (alpha * conv4(tanh(phi_u - psi_v)) + A)[n,c,u,v] * conv3(x)[n,c,t,u]."""
    torch.manual_seed(1)
    unit = CTRGC(6, 10).eval()
    x, A, alpha = torch.randn(2, 6, 5, 7), torch.rand(7, 7), torch.tensor(0.3)
    phi, psi = unit.conv1(x).mean(2), unit.conv2(x).mean(2)
    rel = torch.tanh(phi[..., :, None] - psi[..., None, :])
    graph = unit.conv4(rel) * alpha + A
    expected = torch.einsum("ncuv,nctu->nctv", graph, unit.conv3(x))
    torch.testing.assert_close(unit(x, A, alpha), expected)
    assert unit.rel_channels == 8 and CTRGC(64, 64).rel_channels == 8 and CTRGC(128, 8).rel_channels == 16


def test_block_options_and_first_block_without_dropout():
    net = build_model(dict(type="CTRGCN", graph_cfg=GRAPH, base_channels=12, kernel_size=3,
                           dilations=[1, 2, 3, 4], tcn_dropout=0.1))
    assert net.net[0].tcn1.drop.p == 0 and net.net[1].tcn1.drop.p == 0.1
    assert len(net.net[1].tcn1.branches) == 6
    assert net.net[1].tcn1.branches[0][3].conv.kernel_size == (3, 1)
    with torch.no_grad():
        assert net.eval()(torch.randn(1, 2, 8, 25, 3)).shape == (1, 2, 48, 2, 25)


def test_data_bn_needs_num_person():
    net = build_model(dict(type="CTRGCN", graph_cfg=GRAPH, base_channels=16)).eval()
    with pytest.raises(ValueError, match="MVC"):
        net(torch.randn(1, 3, 8, 25, 3))


def _randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Nonzero gates and non-trivial BN statistics/affines, so every term of the formulation counts."""
    gen = torch.Generator().manual_seed(seed)
    randomize_gates(net, ("alpha",), seed)
    randomize_norms(net, seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    return net


@pytest.mark.parametrize("mode", ["inference", "eval", "train"])
def test_fast_path_equals_pyskl_formulation(mode):
    """The CPU forms (channels-last, merged subsets, accumulated bmm, folded BN) == PYSKL's per-subset
    NCHW formulation of the model as built."""
    torch.manual_seed(0)
    net = _randomised(build_model(dict(type="CTRGCN", graph_cfg=GRAPH, base_channels=8, num_stages=4,
                                       inflate_stages=[3], down_stages=[3])))
    x = torch.randn(2, 2, 10, 25, 3)
    (fast, fast_grads), (ref, ref_grads) = fast_and_reference(net, x, mode)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    assert fast_grads.keys() == ref_grads.keys()
    for key in ref_grads:
        torch.testing.assert_close(fast_grads[key], ref_grads[key], rtol=1e-9, atol=1e-9, msg=key)


def test_fused_eval_model_keeps_outputs():
    import copy

    from pyskl.models.deploy import fold_batch_norms

    torch.manual_seed(0)
    net = _randomised(build_model(dict(type="CTRGCN", graph_cfg=GRAPH, base_channels=8, num_stages=3,
                                       inflate_stages=[3], down_stages=[3]))).eval()
    fused = fold_batch_norms(copy.deepcopy(net))
    x = torch.randn(2, 2, 12, 25, 3)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), net(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels_last", [False, True])
def test_shared_matrix_bmm_matches_matmul(channels_last):
    from pyskl.models.gcns.cpu_forms import shared_matrix_bmm

    torch.manual_seed(0)
    x = torch.randn(3, 5, 4, 6, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    w = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    out = shared_matrix_bmm(w, x.flatten(2))
    ref = torch.matmul(w, x.detach().flatten(2).contiguous())
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    gw, gx = torch.autograd.grad((out * g).sum(), (w, x))
    torch.testing.assert_close(gw, torch.einsum("nol,nil->oi", g, x.detach().flatten(2)))
    torch.testing.assert_close(gx.flatten(2), torch.matmul(w.detach().t(), g))
    assert gx.stride() == x.stride()  # the gradient keeps the input's memory layout
