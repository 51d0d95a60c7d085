"""Recognizers: PYSKL's goldens for every registered model in the oracle, plus the API contract.

The golden test is data-driven over ``../shared/oracle/models/public/*.io.json``: a model whose
recognizer/backbone/head is not registered (yet) is skipped, so new models are checked as they land.
Tolerances follow the oracle README: atol 1e-4 * max|x| for features/logits/grads, 1e-5 for scores.
"""
from __future__ import annotations

import copy
import functools
import json
import re

import numpy as np
import pytest
import torch
from torch import nn

from conftest import ORACLE, require_shared
from pyskl.checkpoint import load_checkpoint
from pyskl.models import MODELS, average_clip, build_model

PUBLIC = ORACLE / "models" / "public"
LISTINGS = ORACLE / "models" / "common" / "listings"


def _golden_names() -> list[str]:
    names = sorted(p.name[: -len(".io.json")] for p in PUBLIC.glob("*.io.json")) if PUBLIC.is_dir() else []
    return names or ["missing-oracle"]


def _listing(name: str) -> dict:
    base = name[: -len("_hagrid")] if name.endswith("_hagrid") else name
    return json.loads((LISTINGS / f"{base}.json").read_text())


def _clean_cfg(cfg):
    """Listings record a class passed as ``type`` as '<class a.b.Name>'; use the registered name."""
    if isinstance(cfg, dict):
        out = {k: _clean_cfg(v) for k, v in cfg.items()}
        if isinstance(out.get("type"), str):
            match = re.fullmatch(r"<class [\w.]*?(\w+)>", out["type"])
            if match:
                out["type"] = match.group(1)
        return out
    if isinstance(cfg, list):
        return [_clean_cfg(v) for v in cfg]
    return cfg


def _types(cfg) -> list[str]:
    found = []
    if isinstance(cfg, dict):
        if isinstance(cfg.get("type"), str):
            found.append(cfg["type"])
        for key in ("backbone", "cls_head"):
            if key in cfg:
                found += _types(cfg[key])
    return found


@functools.lru_cache(maxsize=4)
def _cached_golden(name: str):
    meta = json.loads((PUBLIC / f"{name}.io.json").read_text())
    listing = _listing(name)
    cfg = _clean_cfg(listing["model_cfg"])
    missing = [t for t in _types(cfg) if t not in MODELS]
    if missing:
        return None, f"{name}: {', '.join(missing)} not registered"
    torch.manual_seed(0)
    np.random.seed(0)
    model = build_model(cfg)
    if name.endswith("_hagrid"):
        load_checkpoint(model, require_shared("checkpoints", "hagrid.pth"))
    else:
        weights = torch.load(PUBLIC / f"{name}.state_dict.pt", weights_only=True)
        model.load_state_dict(weights, strict=True)
    return (model, meta, listing, dict(np.load(PUBLIC / f"{name}.io.npz"))), None


def _build_golden(name: str):
    """(model, io.json, listing, io arrays); the model is shared between tests: copy before mutating."""
    require_shared("oracle", "models", "public", f"{name}.io.json")
    state = np.random.get_state()
    try:
        built, reason = _cached_golden(name)
    finally:
        np.random.set_state(state)
    assert built is not None, reason
    return built


def _close(actual: torch.Tensor, expected: np.ndarray, atol: float, what: str) -> None:
    actual = actual.detach().cpu().numpy()
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    err = np.abs(actual.astype(np.float64) - expected).max()
    assert err <= atol, f"{what}: max abs error {err:.3g} > {atol:.3g}"


@pytest.mark.parametrize("name", _golden_names())
def test_golden_state_dict_layout(name):
    model, meta, listing, _ = _build_golden(name)
    sd = model.state_dict()
    expected = [(e["key"], tuple(e["shape"])) for e in listing["state_dict"]]
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == expected
    assert sum(p.numel() for p in model.parameters()) == listing["param_count"]
    assert sum(p.numel() for p in model.backbone.parameters()) == listing["param_count_backbone"]
    assert sum(p.numel() for p in model.cls_head.parameters()) == listing["param_count_head"]


def _as_run(model: nn.Module, form: str) -> nn.Module:
    """``model`` as built ('plain') or as ``pyskl train`` runs it on the CPU ('train-prepared')."""
    from pyskl.models.deploy import prepare

    return model if form == "plain" else prepare(copy.deepcopy(model), "cpu", "train")


@pytest.mark.parametrize("form", ["plain", "train-prepared"])
@pytest.mark.parametrize("name", _golden_names())
def test_golden_outputs(name, form):
    model, meta, _, io = _build_golden(name)
    model = _as_run(model, form).eval()
    x = torch.from_numpy(io["input"])  # N, NC=2, ...
    n, nc = x.shape[:2]
    with torch.no_grad():
        # One pass over all N*NC clips: clips are independent in eval mode, so the nc1 case
        # (x[:, :1]) is the first clip of each sample.
        feat = model.backbone(x.reshape((n * nc,) + x.shape[2:]))
        gold = io["nc1_backbone_feat"]
        _close(feat.reshape((n, nc) + feat.shape[1:])[:, 0], gold, 1e-4 * np.abs(gold).max(),
               "nc1 backbone feature")
        logits = model.cls_head(feat).reshape(n, nc, -1)
    average = model.test_cfg["average_clips"]
    for k in (1, 2):
        gold = io[f"nc{k}_logits"]
        _close(logits[:, :k], gold, 1e-4 * max(np.abs(gold).max(), 1e-3), f"nc{k} logits")
        _close(average_clip(logits[:, :k], average), io[f"nc{k}_scores"], 1e-5, f"nc{k} scores")
    if "argmax" in meta["cases"]["nc1"]:
        assert logits[:, 0].argmax(1).tolist() == meta["cases"]["nc1"]["argmax"]


@pytest.mark.parametrize("name", _golden_names())
def test_golden_scores_after_inference_prep(name):
    """What ``pyskl test`` runs (``deploy.prepare(.., 'eval')``: BNs folded, CPU forms, person passes)
    still gives PYSKL's scores."""
    import copy

    from pyskl.engine.test import prepare_for_inference

    model, _, _, io = _build_golden(name)
    folded = prepare_for_inference(copy.deepcopy(model))
    with torch.no_grad():
        scores = folded.predict(torch.from_numpy(io["input"])[:, :1])
    _close(scores, io["nc1_scores"], 1e-5, "nc1 scores, BN folded")


@pytest.mark.parametrize("form", ["plain", "train-prepared"])
@pytest.mark.parametrize("name", _golden_names())
def test_golden_train_mode(name, form):
    model, meta, _, io = _build_golden(name)
    if "train_mode" not in meta:
        pytest.skip(f"{name} has no train-mode record")
    record = meta["train_mode"]
    model = _as_run(copy.deepcopy(model), form).train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    model.zero_grad()
    x = torch.from_numpy(io["input"])[:, :1]
    label = torch.from_numpy(io["train_label"])
    losses = model.loss(model(x), label)
    assert set(losses) == set(record["losses"])
    for key, value in record["losses"].items():
        assert losses[key].item() == pytest.approx(value, rel=1e-4, abs=1e-6), key
    assert losses["top1_acc"].dtype == torch.float64
    losses["loss_cls"].backward()
    params = dict(model.named_parameters())
    for key in record["grads_recorded"]:
        gold = io[f"train_grad.{key}"]
        # A backbone grad passes back through every train-mode BN; channels with tiny batch variance
        # amplify rounding: the same model's own float32 and float64 grads differ by ~1% of max|grad|
        # (ST-GCN++: 5e-4 at 0.06), so PYSKL's float32 record carries that much noise too.
        rel = 1e-4 if key.startswith("cls_head.") else 3e-2
        _close(params[key].grad, gold, rel * max(np.abs(gold).max(), 1e-6), f"grad {key}")
    modules = dict(model.named_modules())
    for entry in io:
        if entry.startswith("train_post_running_"):
            stat, mod = entry[len("train_post_running_"):].split(".", 1)
            gold = io[entry]
            _close(getattr(modules[mod], f"running_{stat}"), gold, 1e-4 * max(np.abs(gold).max(), 1e-2),
                   entry)


def _tiny_gcn(**kw):
    cfg = dict(type="RecognizerGCN",
               backbone=dict(type="STGCN", graph_cfg=dict(layout="coco", mode="spatial"), num_stages=3,
                             inflate_stages=[3], down_stages=[3], base_channels=8),
               cls_head=dict(type="GCNHead", num_classes=5, in_channels=16), **kw)
    torch.manual_seed(0)
    return build_model(cfg).eval()


def test_forward_predict_shapes_and_average_clips():
    model = _tiny_gcn()
    x = torch.randn(3, 4, 2, 12, 17, 3)
    logits = model(x)
    assert logits.shape == (3, 4, 5)
    probs = model.predict(x)
    torch.testing.assert_close(probs, torch.softmax(logits, 2).mean(1))
    torch.testing.assert_close(probs.sum(1), torch.ones(3))
    model.test_cfg["average_clips"] = "score"
    torch.testing.assert_close(model.predict(x), logits.mean(1))
    model.test_cfg["average_clips"] = None
    torch.testing.assert_close(model.predict(x), logits)
    assert model(x[:, 0]).shape == (3, 5)  # without the clips axis
    with pytest.raises(ValueError, match="average_clips"):
        average_clip(logits, "max")
    with pytest.raises(ValueError, match="expects input"):
        model(torch.randn(2, 12, 17, 3))


def test_default_test_cfg_and_train_cfg_accepted():
    model = _tiny_gcn(train_cfg=dict(), test_cfg=dict(average_clips="score"))
    assert model.test_cfg["average_clips"] == "score"
    assert _tiny_gcn().test_cfg == {"average_clips": "prob"}
    with pytest.raises(ValueError, match="average_clips"):
        _tiny_gcn(test_cfg=dict(average_clips="max"))


def test_loss_dict_and_accuracy():
    model = _tiny_gcn().train()
    logits = torch.tensor([[[0.0, 5, 1, 2, 3]], [[4.0, 0, 1, 2, 3]]], requires_grad=True)
    losses = model.loss(logits, torch.tensor([[1], [2]]))
    assert set(losses) == {"top1_acc", "top5_acc", "loss_cls"}
    assert losses["top1_acc"].item() == 0.5 and losses["top5_acc"].item() == 1.0
    expected = torch.nn.functional.cross_entropy(logits[:, 0], torch.tensor([1, 2]))
    torch.testing.assert_close(losses["loss_cls"], expected)
    with pytest.raises(ValueError, match="one clip"):
        model.loss(torch.zeros(2, 2, 5), torch.tensor([1, 2]))


def test_gcn_head_dropout_and_init():
    torch.manual_seed(0)
    head = MODELS.build(dict(type="GCNHead", num_classes=7, in_channels=4, dropout=0.3))
    assert isinstance(head.dropout, nn.Dropout) and head.dropout.p == 0.3
    head.init_weights()
    assert head.fc_cls.bias.abs().max() == 0 and 0.003 < head.fc_cls.weight.std() < 0.03
    assert MODELS.build(dict(type="GCNHead", num_classes=7, in_channels=4)).dropout is None
    i3d = MODELS.build(dict(type="I3DHead", num_classes=7, in_channels=4))
    assert i3d.dropout.p == 0.5
    assert i3d.eval()(torch.randn(2, 4, 3, 5, 5)).shape == (2, 7)
    with pytest.raises(ValueError, match="feature channels"):
        head(torch.randn(2, 1, 5, 3, 17))


def test_recognizer3d_clip_layout():
    class Tiny3D(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(2, 4, 1)

        def forward(self, x):
            return self.conv(x)

    model = MODELS.get("Recognizer3D")(backbone=Tiny3D(),
                                       cls_head=dict(type="I3DHead", num_classes=3, in_channels=4),
                                       test_cfg=dict(average_clips="prob", max_testing_views=2)).eval()
    x = torch.randn(2, 3, 2, 4, 5, 5)
    logits = model(x)
    assert logits.shape == (2, 3, 3)
    torch.testing.assert_close(model.predict(x), torch.softmax(logits, 2).mean(1))
    losses = model.loss(logits[:, :1], torch.tensor([[0], [2]]))
    assert losses["loss_cls"].ndim == 0


@pytest.mark.parametrize("backbone", [
    dict(type="STGCN", graph_cfg=dict(layout="coco", mode="spatial"), base_channels=16, num_stages=2,
         inflate_stages=[], down_stages=[]),
    dict(type="CTRGCN", graph_cfg=dict(layout="coco", mode="spatial"), base_channels=16, num_stages=2,
         inflate_stages=[], down_stages=[]),
])
def test_person_passes_run_the_backbone_a_few_clips_at_a_time_with_the_same_scores(backbone):
    from gcn_backbone_checks import randomize_norms

    from pyskl.models.deploy import PersonPassRecognizerGCN

    model = build_model(dict(type="RecognizerGCN", backbone=backbone,
                             cls_head=dict(type="GCNHead", num_classes=5, in_channels=16)))
    randomize_norms(model).eval()
    x = torch.randn(3, 2, 2, 12, 17, 3)  # 3 samples x 2 clips x 2 persons x 12 frames
    with torch.no_grad():
        want = model.predict(x)
        seen = []
        forward_persons = model.backbone.forward_persons
        model.backbone.forward_persons = lambda p: seen.append(p.shape[0]) or forward_persons(p)
        got = PersonPassRecognizerGCN.from_module(model, 2 * 2 * 12).predict(x)  # two clips per pass
        PersonPassRecognizerGCN.from_module(model, None).predict(x)  # the whole batch in one pass
    assert seen == [4, 4, 4, 12]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backbone,channels", [
    (dict(type="CTRGCN", base_channels=16, num_stages=2, inflate_stages=[], down_stages=[]), 16),
    (dict(type="AAGCN", base_channels=16, num_stages=2, inflate_stages=[], down_stages=[]), 16),
    (dict(type="MSG3D", base_channels=12, num_gcn_scales=3, num_g3d_scales=2), 48),
    (dict(type="DGSTGCN", base_channels=16, num_stages=2, inflate_stages=[], down_stages=[], gcn_ratio=0.125,
          gcn_ctr="T", gcn_ada="T", tcn_ms_cfg=[(3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"]), 16),
])
def test_padded_persons_give_the_scores_of_the_plain_backbone(backbone, channels):
    from gcn_backbone_checks import randomize_norms

    from pyskl.models.deploy import prepare

    graph = dict(layout="nturgb+d", mode="binary_adj" if backbone["type"] == "MSG3D" else "spatial")
    model = build_model(dict(type="RecognizerGCN", backbone=dict(backbone, graph_cfg=graph),
                             cls_head=dict(type="GCNHead", num_classes=5, in_channels=channels)))
    randomize_norms(model).eval()
    x = torch.randn(4, 1, 2, 12, 25, 3)
    x[::2, :, 1] = 0  # one-person samples padded in the second slot
    x[1, :, 0] = 0  # and one in the first
    with torch.no_grad():
        want = torch.softmax(model.cls_head(model.backbone(x[:, 0])), -1)
        got = prepare(model, "cpu", "eval").predict(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
