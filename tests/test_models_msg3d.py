"""MS-G3D backbone: PYSKL state_dict layout, golden outputs, multi-scale graphs, and training.

PYSKL's MS-G3D cannot train (issue #242: in-place ``out += res`` on a ReLU output); ours must.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from gcn_backbone_checks import (
    check_backward,
    check_constructed_buffers,
    check_golden_io,
    check_state_dict_layout,
    fast_and_reference,
    randomize_norms,
)

from pyskl.models import build_model
from pyskl.models.gcns.msg3d import MSGCN, STMSGCN, UnfoldTemporalWindows
from pyskl.utils import Graph

NAME = "msg3d_pyskl_ntu60_xsub_3dkp_j"
GRAPH = dict(layout="nturgb+d", mode="binary_adj")


def test_state_dict_layout_matches_pyskl():
    check_state_dict_layout(NAME)


def test_multiscale_graph_buffers_match_pyskl():
    check_constructed_buffers(NAME)


@pytest.mark.slow  # tests/test_models_recognizers.py runs the same goldens by default
def test_golden_features_logits_scores():
    check_golden_io(NAME)


def test_small_msg3d_trains():
    net = build_model(dict(type="MSG3D", graph_cfg=GRAPH, base_channels=12, num_gcn_scales=3,
                           num_g3d_scales=2))
    out = check_backward(net, torch.randn(1, 2, 8, 25, 3))
    assert out.shape == (1, 2, 48, 2, 25)


@pytest.mark.slow  # test_small_msg3d_trains covers the same code paths quickly
def test_default_msg3d_recognizer_train_step():
    """The full PYSKL-size model: forward + loss + backward + SGD step without autograd errors."""
    model = build_model(dict(type="RecognizerGCN",
                             backbone=dict(type="MSG3D", graph_cfg=GRAPH),
                             cls_head=dict(type="GCNHead", num_classes=5, in_channels=384)))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = model.loss(model(torch.randn(2, 1, 2, 8, 25, 3)), torch.tensor([1, 3]))
    loss = sum(v for k, v in losses.items() if "loss" in k)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    opt.step()


def test_unfold_temporal_windows():
    x = torch.arange(2 * 5 * 2, dtype=torch.float32).view(1, 2, 5, 2)  # N, C, T, V
    out = UnfoldTemporalWindows(3, 1)(x)
    assert out.shape == (1, 2, 5, 6)
    # window of frame t holds frames t-1, t, t+1 side by side (zero padded at the ends)
    np.testing.assert_array_equal(out[0, 0, 2].numpy(), x[0, 0, 1:4].reshape(-1).numpy())
    np.testing.assert_array_equal(out[0, 1, 0, :2].numpy(), [0, 0])
    assert UnfoldTemporalWindows(5, 2)(x).shape == (1, 2, 3, 10)


def test_msgcn_scales_are_normalised_k_hop_graphs():
    A = Graph("nturgb+d", "binary_adj").A[0]
    gcn = MSGCN(4, 3, 8, A)
    assert gcn.A.shape == (4, 25, 25)
    torch.testing.assert_close(gcn.A[0], torch.eye(25))
    # every column of each scale sums to 1 (column-normalised, self loop included)
    torch.testing.assert_close(gcn.A.sum(1), torch.ones(4, 25))
    # scale 1 connects exactly the skeleton neighbours (+ self)
    np.testing.assert_array_equal((gcn.A[1].numpy() > 0), (A + np.eye(25)) > 0)
    assert gcn.PA.abs().max() <= 1e-6


def test_window_graph_tiles_neighbourhood_over_time():
    A = Graph("coco", "binary_adj").A[0]
    st = STMSGCN(3, 8, A, num_scales=2, window_size=3)
    assert st.A.shape == (2, 51, 51)
    one_hop = st.A[1].numpy() > 0
    # joint i at one frame of the window links to its neighbours and itself at every frame
    block = (A + np.eye(17)) > 0
    np.testing.assert_array_equal(one_hop, np.tile(block, (3, 3)))


def _randomised_small_msg3d() -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model(dict(type="MSG3D", graph_cfg=GRAPH, base_channels=12, num_gcn_scales=3,
                           num_g3d_scales=2))
    randomize_norms(net, seed=1)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for key, p in net.named_parameters():
            if key.endswith("PA"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    return net


@pytest.mark.parametrize("train", [False, True])
def test_channels_last_path_equals_pyskl_layout(train):
    """The CPU forms (channels-last strided-view windows, permute-free aggregation) == PYSKL's NCHW
    formulation, outputs and every gradient, in float64 (no float32 ReLU-mask flips)."""
    net = _randomised_small_msg3d()
    x = torch.randn(2, 2, 9, 25, 3, dtype=torch.float64)
    (fast, fast_grads), (ref, ref_grads) = fast_and_reference(net, x, "train" if train else "eval")
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    for key in ref_grads:
        torch.testing.assert_close(fast_grads[key], ref_grads[key], rtol=1e-9, atol=1e-9, msg=key)


def test_fused_eval_model_keeps_outputs():
    import copy

    from pyskl.models.deploy import fold_batch_norms

    net = _randomised_small_msg3d().eval()
    fused = fold_batch_norms(copy.deepcopy(net))
    # the window-collapsing Conv3d takes its BN too
    assert all(isinstance(block.out_bn, torch.nn.Identity) for block in fused.gcn3d1.gcn3d)
    x = torch.randn(2, 2, 12, 25, 3)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), net(x), rtol=1e-4, atol=1e-4)


