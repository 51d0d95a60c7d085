"""configs/rgbpose_conv3d: PYSKL's three recipes as facts, and the small synthetic config, all build."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, require_shared
from pyskl.config import load_config
from pyskl.datasets.pipelines import Compose

CONFIG_DIR = ROOT / "configs" / "rgbpose_conv3d"
RECIPES = sorted(CONFIG_DIR.glob("*.py"))


def _inventory() -> dict:
    path = require_shared("oracle", "pipelines", "common", "config_inventory.json")
    return json.loads(path.read_text())["configs"]


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def test_every_pyskl_rgbpose_config_is_present():
    expected = {k for k in _inventory() if k.startswith("configs/rgbpose_conv3d/")}
    assert expected == {f"configs/rgbpose_conv3d/{p.name}" for p in RECIPES}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_config_equals_pyskl_recipe(path: Path):
    facts = _inventory()[f"configs/rgbpose_conv3d/{path.name}"]
    cfg = load_config(path)
    model = cfg["model"]
    assert (model["type"], _plain(model["backbone"]), _plain(model["cls_head"])) == (
        facts["model_type"], facts["backbone"], facts["cls_head"])
    assert model.get("test_cfg") == facts["model_test_cfg"]
    for split in ("train", "val", "test"):
        ops = [{"type": op["type"], "args": {k: v for k, v in op.items() if k != "type"}}
               for op in cfg[f"{split}_pipeline"]]
        assert _plain(ops) == facts["pipelines"][split], split
        assert len(Compose(cfg[f"{split}_pipeline"])) == len(ops)
    assert (cfg["optimizer"], cfg["total_epochs"]) == (facts["optimizer"], facts["total_epochs"])


def test_synthetic_config_builds_with_no_runtime_warnings():
    from pyskl.engine.runtime import read_runtime
    from pyskl.models import build_model

    cfg = load_config(CONFIG_DIR / "synthetic" / "rgbpose_synthetic.py")
    assert read_runtime(cfg).warnings == []
    model = build_model(cfg["model"])
    assert model.test_cfg["stream"] == "RGBPose_1:1"
    for split in ("train", "val", "test"):
        ds = cfg["data"][split].get("dataset", cfg["data"][split])
        Compose(ds["pipeline"])
