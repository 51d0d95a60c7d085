"""PoseC3D backbones against PYSKL's oracle: state_dict layout, weights, features, init, train step."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import require_shared
from pyskl.models import cnns  # noqa: F401  (registers the backbones)
from pyskl.registry import MODELS

NAMES = ["slowonly_r50_ntu60_xsub_joint", "c3d_light_ntu60_xsub_joint", "x3d_shallow_ntu60_xsub_joint"]


def _listing(name: str) -> dict:
    return json.loads(require_shared("oracle", "models", "common", "listings", f"{name}.json").read_text())


def _backbone_state(name: str) -> dict:
    sd = torch.load(require_shared("oracle", "models", "public", f"{name}.state_dict.pt"), weights_only=True)
    return {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}, sd


def _loaded(name: str) -> tuple[torch.nn.Module, dict]:
    backbone = MODELS.build(_listing(name)["model_cfg"]["backbone"])
    state, full = _backbone_state(name)
    backbone.load_state_dict(state, strict=True)
    return backbone, full


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_matches_listing(name):
    listing = _listing(name)
    backbone = MODELS.build(listing["model_cfg"]["backbone"])
    expected = [(e["key"][len("backbone."):], e["shape"], e["dtype"]) for e in listing["state_dict"]
                if e["key"].startswith("backbone.")]
    actual = [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in backbone.state_dict().items()]
    assert actual == expected
    assert sum(p.numel() for p in backbone.parameters()) == listing["param_count_backbone"]
    models_json = json.loads(require_shared("oracle", "models", "common", "models.json").read_text())
    assert sum(p.numel() for p in backbone.parameters()) == models_json[name]["param_count_backbone"]
    assert models_json[name]["backbone_type"] == type(backbone).__name__


@pytest.mark.parametrize("name", NAMES)
def test_module_tree_matches_listing(name):
    """Every PYSKL backbone module with weights exists here under the same name and class family."""
    listing = _listing(name)
    backbone = MODELS.build(listing["model_cfg"]["backbone"])
    ours = dict(backbone.named_modules())
    for qualname, cls, extra in listing["modules"]:
        if not qualname.startswith("backbone."):
            continue
        key = qualname[len("backbone."):]
        assert key in ours, f"missing module {key}"
        if cls in ("Conv3d", "BatchNorm3d", "MaxPool3d", "AvgPool3d"):
            assert type(ours[key]).__name__ == cls, key
            assert ours[key].extra_repr() == extra, key


@pytest.mark.parametrize("name", NAMES)
def test_backbone_features_match_golden(name):
    io = np.load(require_shared("oracle", "models", "public", f"{name}.io.npz"))
    meta = json.loads(require_shared("oracle", "models", "public", f"{name}.io.json").read_text())
    backbone, _ = _loaded(name)
    backbone.eval()
    with torch.no_grad():
        feat = backbone(torch.from_numpy(io["input"][:, 0])).numpy()
    golden = io["nc1_backbone_feat"]
    assert list(feat.shape) == meta["cases"]["nc1"]["backbone_feat_shape"]
    np.testing.assert_allclose(feat, golden, rtol=0, atol=1e-4 * np.abs(golden).max())


@pytest.mark.parametrize("name", NAMES)
def test_train_step_matches_golden(name):
    """One train-mode forward (BN batch stats, running-stat update) + CE loss through PYSKL's
    I3DHead maths (global average pool, fc, dropout off) gives PYSKL's loss, grads and BN stats."""
    io = np.load(require_shared("oracle", "models", "public", f"{name}.io.npz"))
    meta = json.loads(require_shared("oracle", "models", "public", f"{name}.io.json").read_text())
    backbone, full = _loaded(name)
    backbone = copy.deepcopy(backbone).train()
    weight = full["cls_head.fc_cls.weight"].clone().requires_grad_(True)
    bias = full["cls_head.fc_cls.bias"].clone().requires_grad_(True)
    feat = backbone(torch.from_numpy(io["input"][:, 0]))
    logits = F.linear(feat.mean(dim=(2, 3, 4)), weight, bias)
    label = torch.from_numpy(io["train_label"]).squeeze()
    loss = F.cross_entropy(logits, label)
    loss.backward()
    assert loss.item() == pytest.approx(meta["train_mode"]["losses"]["loss_cls"], abs=1e-5)
    first_key = meta["train_mode"]["grads_recorded"][2]
    first = dict(backbone.named_parameters())[first_key[len("backbone."):]]
    golden = io[f"train_grad.{first_key}"]
    np.testing.assert_allclose(first.grad.numpy(), golden, rtol=0, atol=1e-4 * np.abs(golden).max())
    np.testing.assert_allclose(weight.grad.numpy(), io["train_grad.cls_head.fc_cls.weight"], rtol=0,
                               atol=1e-4 * np.abs(io["train_grad.cls_head.fc_cls.weight"]).max())
    modules = dict(backbone.named_modules())
    checked = 0
    for key in io.files:
        for stat in ("running_mean", "running_var"):
            prefix = f"train_post_{stat}.backbone."
            if key.startswith(prefix):
                ours = getattr(modules[key[len(prefix):]], stat).numpy()
                np.testing.assert_allclose(ours, io[key], rtol=1e-4, atol=1e-5, err_msg=key)
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("name", NAMES)
def test_seeded_init_reproduces_pyskl_weights(name):
    """PYSKL's build order (backbone, head fc, backbone.init_weights, head normal init) from seed 0
    gives PYSKL's conv weights bit for bit (the oracle stores them rounded to bfloat16)."""
    listing = _listing(name)
    state, full = _backbone_state(name)
    torch.manual_seed(0)
    np.random.seed(0)
    backbone = MODELS.build(listing["model_cfg"]["backbone"])
    head_cfg = listing["model_cfg"]["cls_head"]
    fc = torch.nn.Linear(head_cfg["in_channels"], head_cfg["num_classes"])
    backbone.init_weights()
    torch.nn.init.normal_(fc.weight, 0, 0.01)
    convs = {k: v for k, v in backbone.state_dict().items() if k.endswith("conv.weight")}
    assert convs
    for key, value in convs.items():
        assert torch.equal(value.to(torch.bfloat16).float(), state[key]), key
    assert torch.equal(fc.weight.to(torch.bfloat16).float(), full["cls_head.fc_cls.weight"])


@pytest.mark.parametrize("name", ["slowonly_r50_ntu60_xsub_joint", "x3d_shallow_ntu60_xsub_joint"])
def test_init_zeroes_last_bn_of_each_block(name):
    backbone = MODELS.build(_listing(name)["model_cfg"]["backbone"])
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        if key.endswith(".conv3.bn.weight"):
            assert torch.count_nonzero(value) == 0, key
        elif key.endswith(".bn.weight"):
            assert torch.all(value == 1), key
        elif key.endswith(".bn.bias"):
            assert torch.count_nonzero(value) == 0, key


@pytest.mark.parametrize("name", NAMES)
def test_full_model_logits_and_scores_match_golden(name):
    """``build_model`` of PYSKL's cfg: strict load, per-clip logits and clip-averaged probabilities."""
    from pyskl.models import build_model

    listing = _listing(name)
    io = np.load(require_shared("oracle", "models", "public", f"{name}.io.npz"))
    _, full = _backbone_state(name)
    torch.manual_seed(0)
    np.random.seed(0)
    model = build_model(listing["model_cfg"])
    assert [k for k in model.state_dict()] == [e["key"] for e in listing["state_dict"]]
    assert sum(p.numel() for p in model.parameters()) == listing["param_count"]
    # PYSKL's seeded init, end to end through the recognizer (checked before loading)
    for key, value in model.state_dict().items():
        if key.endswith("conv.weight") or key.endswith("fc_cls.weight"):
            assert torch.equal(value.to(torch.bfloat16).float(), full[key]), key
    model.load_state_dict(full, strict=True)
    model.eval()
    x = torch.from_numpy(io["input"])
    with torch.no_grad():
        for nc in (1, 2):
            logits = np.asarray(model(x[:, :nc]))
            scores = np.asarray(model.predict(x[:, :nc]))
            golden = io[f"nc{nc}_logits"]
            np.testing.assert_allclose(logits, golden, rtol=0, atol=1e-4 * np.abs(golden).max())
            np.testing.assert_allclose(scores, io[f"nc{nc}_scores"], rtol=0, atol=1e-5)
