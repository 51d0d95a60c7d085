"""Shared checks for the GCN backbone tests (AAGCN, CTR-GCN, MS-G3D, DG-STGCN, SGN).

Golden data: ../shared/oracle/models (listings, public state_dicts and IO records); tests that need
it skip cleanly without it. Tolerances follow the oracle README: atol 1e-4 * max|x| for features and
logits, 1e-5 for scores.
"""
from __future__ import annotations

import json
import re

import numpy as np
import torch
from conftest import ORACLE, require_shared

from pyskl.models import average_clip, build_model

MODELS_DIR = ORACLE / "models"


def listing(name: str) -> dict:
    path = require_shared("oracle", "models", "common", "listings", f"{name}.json")
    return json.loads(path.read_text())


def model_cfg(name: str) -> dict:
    """The listing's model cfg; a class recorded as '<class a.b.Name>' becomes its registered name."""
    text = json.dumps(listing(name)["model_cfg"])
    return json.loads(re.sub(r'"<class [\w.]*?(\w+)>"', r'"\1"', text))


def build_seeded(cfg: dict) -> torch.nn.Module:
    """Build as the oracle did: torch and numpy seeded with 0 first (DG-STGCN's graph uses numpy)."""
    torch.manual_seed(0)
    np.random.seed(0)
    return build_model(cfg)


def check_state_dict_layout(name: str) -> None:
    """Keys (in order), shapes, param/buffer kinds and parameter count equal PYSKL's listing."""
    lst = listing(name)
    model = build_seeded(model_cfg(name))
    sd = model.state_dict()
    expected = [e["key"] for e in lst["state_dict"]]
    assert list(sd) == expected, [(a, b) for a, b in zip(sd, expected) if a != b][:5]
    params = dict(model.named_parameters())
    for entry in lst["state_dict"]:
        key = entry["key"]
        assert list(sd[key].shape) == entry["shape"], (key, sd[key].shape, entry["shape"])
        assert (key in params) == (entry["kind"] == "param"), (key, entry["kind"])
    assert sum(p.numel() for p in model.parameters()) == lst["param_count"]
    assert sum(p.numel() for p in model.backbone.parameters()) == lst["param_count_backbone"]


def check_constructed_buffers(name: str, atol: float = 1e-6) -> None:
    """Graph buffers built at construction equal the ones PYSKL stored (they are never re-drawn)."""
    weights = torch.load(require_shared("oracle", "models", "public", f"{name}.state_dict.pt"),
                         weights_only=True)
    model = build_seeded(model_cfg(name))
    checked = 0
    for key, buf in model.named_buffers():
        if key.split(".")[-1] in ("A",):
            np.testing.assert_allclose(buf.numpy(), weights[key].numpy(), atol=atol, err_msg=key)
            checked += 1
    assert checked > 0


def check_golden_io(name: str) -> None:
    """Oracle weights load strictly; backbone features, logits and scores match PYSKL's."""
    folder = require_shared("oracle", "models", "public")
    meta = json.loads((folder / f"{name}.io.json").read_text())
    io = np.load(folder / f"{name}.io.npz")
    model = build_seeded(model_cfg(name))
    model.load_state_dict(torch.load(folder / f"{name}.state_dict.pt", weights_only=True), strict=True)
    model.eval()
    x = torch.from_numpy(io["input"])
    n = x.shape[0]
    with torch.no_grad():
        feat = model.backbone(x[:, :1].reshape((-1,) + x.shape[2:]))
        ref = io["nc1_backbone_feat"]
        assert list(feat.shape) == meta["cases"]["nc1"]["backbone_feat_shape"]
        np.testing.assert_allclose(feat.numpy(), ref, rtol=0, atol=1e-4 * np.abs(ref).max())
        logits = {1: model.cls_head(feat).reshape(n, 1, -1), 2: model(x[:, :2])}
        for nc in (1, 2):
            ref = io[f"nc{nc}_logits"]
            np.testing.assert_allclose(logits[nc].numpy(), ref, rtol=0, atol=1e-4 * np.abs(ref).max())
            scores = average_clip(logits[nc], meta["test_cfg"].get("average_clips", "prob"))
            np.testing.assert_allclose(scores.numpy(), io[f"nc{nc}_scores"], rtol=0, atol=1e-5)
        # predict() is the same clip averaging (checked on the cheap single-clip case)
        np.testing.assert_allclose(np.asarray(model.predict(x[:, :1])), io["nc1_scores"], rtol=0, atol=1e-5)


def check_backward(backbone: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Train-mode forward + backward: finite output, every parameter gets a finite gradient."""
    backbone.train()
    out = backbone(x)
    assert torch.isfinite(out).all()
    (out.float() ** 2).mean().backward()
    missing = [k for k, p in backbone.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    bad = [k for k, p in backbone.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad[:5]}"
    return out


def randomize_norms(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Trained-looking BatchNorm statistics and affines (not 0/1), so folding and every BN term count."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.7, 1.4, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.3, 0.3, generator=gen)
    return module


def randomize_gates(module: torch.nn.Module, names: tuple[str, ...], seed: int = 0) -> None:
    """Give zero-initialised gates (alpha, beta, add_coeff, ...) nonzero values so every path matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, p in module.named_parameters():
            if key.split(".")[-1] in names:
                p.copy_(torch.rand(p.shape, generator=gen) * 0.2 - 0.1)


def fast_and_reference(net: torch.nn.Module, x: torch.Tensor, mode: str) -> list:
    """[(output, grads)] of the CPU-prepared model (``deploy.prepare``) and of the model as built
    (PYSKL's formulation), in float64 (no float32 ReLU-mask flips). ``mode``: 'inference' (the eval
    forms, BN folded, no autograd), 'eval' (the train forms in eval mode, as validation runs them), or
    'train' (grads of every parameter and of the input)."""
    import copy

    from pyskl.models.deploy import prepare

    train = mode == "train"
    results = []
    for converted in (True, False):
        model = copy.deepcopy(net).double().train(train)
        if converted:
            model = prepare(model, "cpu", "eval" if mode == "inference" else "train").train(train)
        inp = x.detach().double().clone().requires_grad_(train)  # a fresh leaf per run
        with torch.set_grad_enabled(mode != "inference"):
            out = model(inp)
        grads = {}
        if train:
            (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
            grads = {k: p.grad for k, p in model.named_parameters()}
            grads["input"] = inp.grad
        results.append((out, grads))
    return results
