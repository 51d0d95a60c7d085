"""ProtoGCN against the golden cases made by running its official code (../shared/oracle/protogcn).

Tolerances come from the computation: the oracle records how far its own float32 outputs are from float64
(``fp64_minus_fp32_max_abs``); two float32 implementations that order their sums differently may each be
that far from the exact value, so outputs are compared within 4x that figure. Training gradients have no
recorded figure: we run the same step in float64 and allow 4x our own float32-vs-float64 distance, plus 3% of
the gradient's max for the ill-conditioned backbone gradients of a train-mode BatchNorm over 2 samples.
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from conftest import ORACLE, require_shared
from pyskl import build_model
from pyskl.models.heads import SimpleHead

PROTO = ORACLE / "protogcn"  # listings are in tests/goldens too; the weights and IO only in the full pack
LISTED = ["protogcn_ntu60_xsub_j", "protogcn_ntu60_xsub_k", "protogcn_ntu120_xsub_j", "protogcn_k400_j",
          "protogcn_finegym_j"]
WITH_IO = ["protogcn_ntu60_xsub_j", "protogcn_finegym_j"]


def _listing(name: str) -> dict:
    return json.loads((PROTO / "common" / "listings" / f"{name}.json").read_text())


def _golden_model(name: str) -> tuple[torch.nn.Module, dict, dict]:
    public = require_shared("oracle", "protogcn", "public")
    io = json.loads((public / f"{name}.io.json").read_text())
    arrays = dict(np.load(public / f"{name}.io.npz"))
    model = build_model(_listing(name)["model_cfg"])
    model.test_cfg.update(io["test_cfg"])
    state = torch.load(public / f"{name}.state_dict.pt", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model, io, arrays


@pytest.mark.parametrize("name", LISTED)
def test_state_dict_and_parameter_counts_match_official(name):
    listing = _listing(name)
    model = build_model(listing["model_cfg"])
    state = model.state_dict()
    expected = {e["key"]: e["shape"] for e in listing["state_dict"]}
    assert {k: list(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in model.parameters()) == listing["param_count"]
    assert sum(p.numel() for p in model.backbone.parameters()) == listing["param_count_backbone"]
    assert sum(p.numel() for p in model.cls_head.csc_loss.parameters()) == listing["param_count_head_csc_loss"]
    # the class memories are not in checkpoints, but have the official shape
    assert tuple(model.cls_head.csc_loss.avg_f.shape) == (256, listing["num_classes"])


@pytest.mark.parametrize("name", WITH_IO)
def test_eval_outputs_match_golden(name):
    model, io, z = _golden_model(name)
    model.eval()
    x = torch.from_numpy(z["input"])
    with torch.no_grad():
        feat, graph = model.backbone(x[:, 0])
        budget = io["cases"]["nc1"]["fp64_minus_fp32_max_abs"]
        np.testing.assert_allclose(feat.numpy(), z["nc1_backbone_feat"], rtol=0, atol=4 * budget["backbone_feat"])
        np.testing.assert_allclose(graph.numpy(), z["nc1_backbone_recon_graph"], rtol=0,
                                   atol=4 * budget["backbone_recon_graph"])
        for nc in (1, 2):
            budget = io["cases"][f"nc{nc}"]["fp64_minus_fp32_max_abs"]
            np.testing.assert_allclose(model(x[:, :nc]).numpy(), z[f"nc{nc}_logits"], rtol=0,
                                       atol=4 * budget["logits"])
            np.testing.assert_allclose(model.predict(x[:, :nc]).numpy(), z[f"nc{nc}_scores"], rtol=0,
                                       atol=4 * budget["scores"])
        _, graph2 = model.backbone(x[:, :2].reshape((-1,) + x.shape[2:]))
        np.testing.assert_allclose(graph2.numpy(), z["nc2_backbone_recon_graph"], rtol=0,
                                   atol=4 * io["cases"]["nc2"]["fp64_minus_fp32_max_abs"]["backbone_recon_graph"])


def _train_step(model: torch.nn.Module, z: dict, dtype: torch.dtype) -> tuple[dict, torch.nn.Module]:
    model = copy.deepcopy(model).to(dtype).train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):  # as the golden record: dropout off, BN in train mode
            module.eval()
    model.cls_head.csc_loss.avg_f = torch.from_numpy(z["train_csc_avg_f_before"]).to(dtype)
    x = torch.from_numpy(z["input"][:, :1]).to(dtype)
    losses = model.loss(model(x), torch.from_numpy(z["train_label"]))
    losses["loss_cls"].backward()
    return losses, model


@pytest.mark.parametrize("name", WITH_IO)
def test_train_step_matches_golden(name):
    model, io, z = _golden_model(name)
    losses32, m32 = _train_step(model, z, torch.float32)
    losses64, m64 = _train_step(model, z, torch.float64)
    record = io["train_mode"]
    for key, value in record["losses"].items():
        ours32, ours64 = float(losses32[key].detach()), float(losses64[key].detach())
        assert abs(ours32 - value) <= 4 * abs(ours32 - ours64) + 1e-6, (key, ours32, value)
    np.testing.assert_allclose(m32.cls_head.csc_loss.avg_f.numpy(), z["train_csc_avg_f_after"], rtol=0,
                               atol=4 * float((m32.cls_head.csc_loss.avg_f.double()
                                               - m64.cls_head.csc_loss.avg_f).abs().max()) + 1e-6)
    p32, p64 = dict(m32.named_parameters()), dict(m64.named_parameters())
    grads = [k for k in z if k.startswith("train_grad.")]
    assert len(grads) == len(record["grads_recorded"])
    for key in grads:
        name_ = key[len("train_grad."):]
        g32, g64 = p32[name_].grad, p64[name_].grad
        golden = torch.from_numpy(z[key]).double()
        if name_ == "backbone.post.bias":
            # a conv bias before a train-mode BN: its exact gradient is 0; both float32 values are noise
            assert float(g64.abs().max()) < 1e-12 and float(golden.abs().max()) < 1e-5
            continue
        noise = float((g32.double() - g64).abs().max())
        scale = float(g64.abs().max())
        err = float((golden - g64).abs().max())
        # Train-mode BN over a batch of 2 makes the backbone's gradients ill-conditioned: our float32 ones
        # differ from float64 by up to ~2% of their max, and the reference sums in another order.
        assert err <= 4 * noise + 0.03 * scale, (name_, err, noise, scale)
    modules = dict(m32.named_modules())
    for key in (k for k in z if k.startswith("train_post_running_")):
        stat, module = key[len("train_post_running_"):].split(".", 1)
        np.testing.assert_allclose(getattr(modules[module], f"running_{stat}").numpy(), z[key],
                                   rtol=1e-5, atol=1e-6, err_msg=key)


def test_wrong_graph_op_fails_the_gradient_check():
    """The error budget is tight enough to catch a real mistake: beta scaling the wrong term."""
    from pyskl.models.gcns.protogcn import MotionTopologyGCN

    torch.manual_seed(0)
    A = torch.rand(8, 5, 5)
    unit = MotionTopologyGCN(8, 16, A).double()
    with torch.no_grad():
        unit.alpha.uniform_(-0.5, 0.5)
        unit.beta.uniform_(-0.5, 0.5)
    x = torch.randn(2, 8, 6, 5, dtype=torch.float64)
    out, topology = unit(x)
    assert topology.shape == (2, 16, 5, 5)
    # recompute the paper's formulation independently and compare
    n, k, c = 2, 8, 2
    p = unit.pre(x).view(n, k, c, 6, 5)
    x1 = unit.conv1(x).view(n, k, c, 6, 5).mean(3)
    x2 = unit.conv2(x).view(n, k, c, 6, 5).mean(3)
    inter = torch.tanh(x1[..., :, None] - x2[..., None, :]) * unit.alpha[0]
    intra = torch.softmax(torch.einsum("nkcv,nkcw->nkvw", x1, x2), dim=-2)[:, :, None] * unit.beta[0]
    graph = A.double()[None, :, None] + inter + intra
    y = torch.einsum("nkctv,nkcvw->nkctw", p, graph).reshape(n, 16, 6, 5)
    expected = torch.relu(unit.bn(unit.post(y)) + unit.down(x))
    torch.testing.assert_close(out, expected)
    wrong = torch.einsum("nkctv,nkcvw->nkctw", p, A.double()[None, :, None] + inter).reshape(n, 16, 6, 5)
    assert not torch.allclose(out, torch.relu(unit.bn(unit.post(wrong)) + unit.down(x)))


def test_head_contrastive_loss_rules():
    head = SimpleHead(num_classes=4, in_channels=8, joint_cfg="coco_new", weight=0.5)
    assert head.mode == "GCN" and head.dropout is None
    assert head.csc_loss.cl_fc.in_features == 400  # 20 x 20 joints
    assert "csc_loss.avg_f" not in head.state_dict()  # not in checkpoints, as the official code
    feat = torch.randn(3, 2, 8, 4, 20)
    logits = head(feat)
    label = logits.argmax(1)  # all true positives: every predicted class memory moves
    before = head.csc_loss.avg_f.clone()
    losses = head.loss(logits, label, recon_graph=torch.randn(3, 400))
    plain = SimpleHead(num_classes=4, in_channels=8, mode="GCN").loss(logits, label)["loss_cls"]
    assert float(losses["loss_cls"].detach()) > float(plain)  # CE + 0.5 * a positive cross entropy
    moved = (head.csc_loss.avg_f != before).any(0)
    assert moved[label.unique()].all() and not moved[[c for c in range(4) if c not in label.tolist()]].any()
    with pytest.raises(ValueError, match="reconstructed graph"):
        head.loss(logits, label)
    with pytest.raises(ValueError, match="joint_cfg"):
        SimpleHead(num_classes=4, in_channels=8, weight=0.2)
    # PYSKL's SimpleHead keeps its defaults
    pyskl_head = SimpleHead(num_classes=4, in_channels=8)
    assert pyskl_head.mode == "3D" and pyskl_head.dropout.p == 0.5 and pyskl_head.csc_loss is None


def test_recognizer_trains_with_the_reconstructed_graph():
    torch.manual_seed(0)
    np.random.seed(0)
    model = build_model(dict(
        type="RecognizerGCN",
        backbone=dict(type="ProtoGCN", num_prototype=10, base_channels=16, num_stages=4, inflate_stages=[3],
                      down_stages=[3], graph_cfg=dict(layout="coco_new", mode="random", num_filter=8)),
        cls_head=dict(type="SimpleHead", joint_cfg="coco_new", num_classes=5, in_channels=32, weight=0.2)))
    x = torch.randn(4, 1, 2, 12, 20, 3)
    label = torch.tensor([0, 1, 2, 3])
    model.train()
    losses = model.loss(model(x), label)
    losses["loss_cls"].backward()
    assert model.cls_head.csc_loss.cl_fc.weight.grad is not None
    # alpha and beta start at 0, so the topology (and the PRN's input) is 0 at init; the contrastive loss
    # still reaches the last block's topology scales through the PRN
    last = model.backbone.gcn[-1].gcn
    assert last.alpha.grad[0] != 0 and last.beta.grad[0] != 0
    model.eval()
    scores = model.predict(torch.randn(2, 3, 2, 12, 20, 3))
    assert scores.shape == (2, 5)
    torch.testing.assert_close(scores.sum(1), torch.ones(2))
