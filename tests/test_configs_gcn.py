"""GCN model-zoo configs: every PYSKL GCN recipe is present, equals PYSKL's facts, builds its model
(one per distinct model dict) and its pipelines, and the pipelines feed the model."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, require_shared

from pyskl.config import load_config

FAMILIES = ("stgcn", "stgcn++", "aagcn", "ctrgcn", "msg3d", "dgstgcn", "strong_aug")
CONFIG_ROOT = ROOT / "configs"
CONFIGS = sorted(p for fam in FAMILIES for p in (CONFIG_ROOT / fam).rglob("*.py"))
IDS = [str(p.relative_to(CONFIG_ROOT)) for p in CONFIGS]
SPLITS = ("train", "val", "test")


def _plain(value):
    """Tuples -> lists, recursively, to compare with the JSON inventory."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=1)
def _inventory() -> dict:
    path = require_shared("oracle", "pipelines", "common", "config_inventory.json")
    return json.loads(path.read_text())["configs"]


@lru_cache(maxsize=None)
def _load(path: Path) -> dict:
    return load_config(path)


def _unwrap(ds: dict) -> tuple[list, dict | None, dict]:
    chain, args = [], None
    while ds.get("type") == "RepeatDataset":
        chain.append("RepeatDataset")
        args = {k: v for k, v in ds.items() if k not in ("type", "dataset")}
        ds = ds["dataset"]
    chain.append(ds["type"])
    return chain, args, ds


def test_every_pyskl_gcn_config_is_present():
    expected = {k[len("configs/"):] for k in _inventory() if k.split("/")[1] in FAMILIES}
    assert len(expected) == 208
    assert expected == set(IDS)


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_config_equals_pyskl_recipe(path: Path):
    cfg = _load(path)
    facts = _inventory()[f"configs/{path.relative_to(CONFIG_ROOT)}"]
    model = cfg["model"]
    assert model["type"] == facts["model_type"]
    assert _plain(model["backbone"]) == facts["backbone"]
    assert _plain(model["cls_head"]) == facts["cls_head"]
    assert model.get("train_cfg") == facts["model_train_cfg"]
    assert model.get("test_cfg") == facts["model_test_cfg"]
    for split in SPLITS:
        pipeline = [{"type": op["type"], "args": {k: v for k, v in op.items() if k != "type"}}
                    for op in cfg[f"{split}_pipeline"]]
        assert _plain(pipeline) == facts["pipelines"][split], split
        for index, arg in facts["pipeline_tuple_paths"][split]:
            assert isinstance(cfg[f"{split}_pipeline"][index][arg], tuple), (split, index, arg)
        chain, wrapper_args, dataset = _unwrap(cfg["data"][split])
        assert chain == facts["datasets"][split]["wrapper_chain"]
        assert wrapper_args == facts["datasets"][split]["wrapper_args"]
        assert dataset["pipeline"] == cfg[f"{split}_pipeline"]
        plain = _plain({k: v for k, v in dataset.items() if k != "pipeline"})
        assert plain == facts["datasets"][split]["dataset"]
    assert cfg["dataset_type"] == facts["dataset_type"] and cfg["ann_file"] == facts["ann_file"]
    for key in ("optimizer", "optimizer_config", "lr_config", "total_epochs", "evaluation"):
        assert _plain(cfg[key]) == facts[key], key
    loader = {k: v for k, v in cfg["data"].items() if k not in SPLITS}
    assert loader == facts["data_loader"]
    for key, value in facts["other_top_level"].items():
        assert _plain(cfg[key]) == value, key


def _unique(key_of) -> list[tuple[str, dict]]:
    seen, out = set(), []
    for path, name in zip(CONFIGS, IDS):
        cfg = _load(path)
        key = json.dumps(_plain(key_of(cfg)), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((name, cfg))
    return out


def _input_channels(cfg: dict) -> int:
    return cfg["model"]["backbone"].get("in_channels", 3)


def _ids(value) -> str:
    return value if isinstance(value, str) else ""


@pytest.mark.parametrize("name,cfg", _unique(lambda c: c["model"]), ids=_ids)
def test_config_builds_its_model(name, cfg):
    from pyskl.models import build_model

    model = build_model(cfg["model"])
    head = cfg["model"]["cls_head"]
    assert model.cls_head.fc_cls.out_features == head["num_classes"]
    assert model.cls_head.fc_cls.in_features == head["in_channels"]


@pytest.mark.parametrize("name,cfg", _unique(lambda c: c["model"]["backbone"]), ids=_ids)
def test_config_model_predicts_probabilities(name, cfg):
    from pyskl.models import build_model

    model = build_model(cfg["model"]).eval()
    num_joints = 17 if "hrnet" in name else 25
    with torch.no_grad():
        scores = model.predict(torch.randn(1, 2, 2, 8, num_joints, _input_channels(cfg)))
    scores = np.asarray(scores)
    assert scores.shape == (1, cfg["model"]["cls_head"]["num_classes"])
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-5)


def _pipelines_key(cfg: dict) -> list:
    return [cfg[f"{split}_pipeline"] for split in SPLITS]


@pytest.mark.parametrize("name,cfg", _unique(_pipelines_key), ids=_ids)
def test_config_pipelines_build(name, cfg):
    from pyskl.datasets.pipelines import Compose

    for split in SPLITS:
        assert len(Compose(cfg[f"{split}_pipeline"]).transforms) == len(cfg[f"{split}_pipeline"])


def _fake_sample(rng: np.random.Generator, hrnet: bool, frames: int = 40, persons: int = 2) -> dict:
    """A PYSKL annotation: NTU 3D skeletons (25 joints) or HRNet 2D COCO-17 keypoints + scores."""
    joints = 17 if hrnet else 25
    dims = 2 if hrnet else 3
    base = rng.normal(0, 0.3, size=(persons, 1, joints, dims))
    drift = np.cumsum(rng.normal(0, 0.01, size=(persons, frames, joints, dims)), axis=1)
    sample = dict(frame_dir="fake", label=7, total_frames=frames, start_index=0, modality="Pose",
                  keypoint=(base + drift).astype(np.float32))
    if hrnet:
        sample["keypoint"] = sample["keypoint"] * 100 + 200
        sample.update(img_shape=(480, 640), original_shape=(480, 640),
                      keypoint_score=rng.uniform(0.3, 1.0, size=(persons, frames, joints)).astype(np.float32))
    return sample


@pytest.mark.parametrize("name", ["stgcn++/stgcn++_ntu60_xsub_3dkp/b.py",
                                  "ctrgcn/ctrgcn_pyskl_ntu120_xset_hrnet/jm.py",
                                  "dgstgcn/ntu60_xsub_3dkp/bm.py", "strong_aug/ntu60_xsub_3dkp/j.py",
                                  "stgcn/stgcn_vanilla_ntu60_xsub_3dkp/j.py"])
def test_pipelines_feed_the_model(name):
    """Train gives [1, M=2, 100, V, C]; test gives 10 clips (PYSKL's GCN shapes); the model eats them."""
    from pyskl.datasets.pipelines import Compose
    from pyskl.models import build_model

    cfg = _load(CONFIG_ROOT / name)
    hrnet = "hrnet" in name
    joints, channels = (17, 3) if hrnet else (25, 3)
    vanilla = "vanilla" in name
    np.random.seed(0)
    rng = np.random.default_rng(0)
    train = Compose(cfg["train_pipeline"])(_fake_sample(rng, hrnet))
    length = 300 if vanilla else 100
    assert tuple(train["keypoint"].shape) == (1, 2, length, joints, channels)
    test = Compose(cfg["test_pipeline"])(_fake_sample(rng, hrnet))
    clips = 1 if vanilla else 10
    assert tuple(test["keypoint"].shape) == (clips, 2, length, joints, channels)
    model = build_model(cfg["model"]).eval()
    with torch.no_grad():
        scores = model.predict(torch.as_tensor(np.asarray(test["keypoint"]))[None, :2, :, :16])
    assert scores.shape == (1, cfg["model"]["cls_head"]["num_classes"])


def test_model_zoo_links_every_gcn_config():
    """docs/model_zoo.md quotes one PYSKL accuracy per config and links only configs that exist."""
    import re

    text = (ROOT / "docs" / "model_zoo.md").read_text()
    linked = re.findall(r"\[(\d+\.\d)\]\(\.\./configs/([^)]+\.py)\)", text)
    paths = [p for _, p in linked]
    assert len(paths) == len(set(paths))
    assert set(paths) == set(IDS)
    assert all(50.0 < float(acc) < 100.0 for acc, _ in linked)
