"""configs/posec3d: every file loads, equals PYSKL's recipe, builds its model and its pipelines."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, require_shared
from pyskl.config import load_config

CONFIG_DIR = ROOT / "configs" / "posec3d"
CONFIGS = sorted(CONFIG_DIR.rglob("*.py"))
IDS = [str(p.relative_to(CONFIG_DIR)) for p in CONFIGS]


def _plain(value):
    """Tuples -> lists, recursively, to compare with the JSON inventory."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _inventory() -> dict:
    path = require_shared("oracle", "pipelines", "common", "config_inventory.json")
    return json.loads(path.read_text())["configs"]


def _unwrap(ds: dict) -> tuple[list, dict | None, dict]:
    chain, args = [], None
    while ds.get("type") == "RepeatDataset":
        chain.append("RepeatDataset")
        args = {k: v for k, v in ds.items() if k not in ("type", "dataset")}
        ds = ds["dataset"]
    chain.append(ds["type"])
    return chain, args, ds


def test_every_pyskl_posec3d_config_is_present():
    expected = {k[len("configs/posec3d/"):] for k in _inventory() if k.startswith("configs/posec3d/")}
    assert expected == set(IDS)


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_config_equals_pyskl_recipe(path: Path):
    cfg = load_config(path)
    facts = _inventory()[f"configs/posec3d/{path.relative_to(CONFIG_DIR)}"]
    model = cfg["model"]
    assert model["type"] == facts["model_type"]
    assert _plain(model["backbone"]) == facts["backbone"]
    assert _plain(model["cls_head"]) == facts["cls_head"]
    assert model.get("train_cfg") == facts["model_train_cfg"]
    assert model.get("test_cfg") == facts["model_test_cfg"]
    for split in ("train", "val", "test"):
        pipeline = [{"type": op["type"], "args": {k: v for k, v in op.items() if k != "type"}}
                    for op in cfg[f"{split}_pipeline"]]
        assert _plain(pipeline) == facts["pipelines"][split], split
        for index, arg in facts["pipeline_tuple_paths"][split]:
            assert isinstance(cfg[f"{split}_pipeline"][index][arg], tuple), (split, index, arg)
        chain, wrapper_args, dataset = _unwrap(cfg["data"][split])
        assert chain == facts["datasets"][split]["wrapper_chain"]
        assert wrapper_args == facts["datasets"][split]["wrapper_args"]
        assert dataset["pipeline"] == cfg[f"{split}_pipeline"]
        assert _plain({k: v for k, v in dataset.items() if k != "pipeline"}) == facts["datasets"][split]["dataset"]
    assert cfg["dataset_type"] == facts["dataset_type"] and cfg["ann_file"] == facts["ann_file"]
    for key in ("optimizer", "optimizer_config", "lr_config", "total_epochs", "evaluation"):
        assert _plain(cfg[key]) == facts[key], key
    loader = {k: v for k, v in cfg["data"].items() if k not in ("train", "val", "test")}
    assert loader == facts["data_loader"]
    for key, value in facts["other_top_level"].items():
        assert _plain(cfg[key]) == value, key


def _unique_models() -> list[tuple[str, dict]]:
    seen, out = set(), []
    for path, name in zip(CONFIGS, IDS):
        model = load_config(path)["model"]
        key = json.dumps(_plain(model), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((name, model))
    return out


@pytest.mark.parametrize("name,model_cfg", _unique_models(), ids=lambda v: v if isinstance(v, str) else "")
def test_config_builds_its_model(name, model_cfg):
    from pyskl.models import build_model

    model = build_model(model_cfg)
    head = model_cfg["cls_head"]
    assert model.cls_head.fc_cls.out_features == head["num_classes"]
    assert model.backbone.feat_dim == head["in_channels"] == model.cls_head.fc_cls.in_features


def _unique_backbones() -> list[tuple[str, dict]]:
    seen, out = set(), []
    for name, model in _unique_models():
        key = json.dumps(_plain(model["backbone"]), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((name, model))
    return out


@pytest.mark.parametrize("name,model_cfg", _unique_backbones(), ids=lambda v: v if isinstance(v, str) else "")
def test_config_model_predicts_probabilities(name, model_cfg):
    from pyskl.models import build_model

    model = build_model(model_cfg).eval()
    with torch.no_grad():
        scores = model.predict(torch.rand(1, 2, model_cfg["backbone"]["in_channels"], 8, 32, 32))
    scores = np.asarray(scores)
    assert scores.shape == (1, model_cfg["cls_head"]["num_classes"])
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_config_pipelines_build(path: Path):
    from pyskl.datasets import pipelines  # noqa: F401  (registers the ops)
    from pyskl.registry import TRANSFORMS

    cfg = load_config(path)
    missing = set()
    for split in ("train", "val", "test"):
        for op in cfg[f"{split}_pipeline"]:
            if op["type"] not in TRANSFORMS:
                missing.add(op["type"])
                continue
            built = TRANSFORMS.build(op)
            assert callable(built), op
    assert not missing, f"pipeline ops not registered: {sorted(missing)}"


def _fake_coco_sample(rng: np.random.Generator, frames: int = 60, persons: int = 2) -> dict:
    """A 2D COCO-17 annotation in PYSKL's format: people drifting inside a 320x240 frame."""
    base = rng.uniform([100, 60], [220, 180], size=(persons, 1, 17, 2))
    drift = np.cumsum(rng.normal(0, 1.5, size=(persons, frames, 17, 2)), axis=1)
    return dict(frame_dir="fake", label=3, img_shape=(240, 320), original_shape=(240, 320),
                total_frames=frames, start_index=0, modality="Pose",
                keypoint=(base + drift).astype(np.float32),
                keypoint_score=rng.uniform(0.3, 1.0, size=(persons, frames, 17)).astype(np.float32))


@pytest.mark.parametrize("name", ["slowonly_r50_ntu60_xsub/joint.py", "slowonly_r50_ntu60_xsub/limb.py"])
def test_pipelines_run_on_a_coco_sample(name):
    """Train gives one 48x56x56 clip, test gives 10 clips x 2 flips at 64x64 (PYSKL's shapes)."""
    from pyskl.datasets import pipelines
    from pyskl.registry import TRANSFORMS

    cfg = load_config(CONFIG_DIR / name)
    ops = {op["type"] for split in ("train", "test") for op in cfg[f"{split}_pipeline"]}
    missing = sorted(op for op in ops if op not in TRANSFORMS)
    assert not missing, f"pipeline ops not registered: {missing}"
    np.random.seed(0)
    rng = np.random.default_rng(0)
    train = pipelines.Compose(cfg["train_pipeline"])(_fake_coco_sample(rng))
    assert tuple(train["imgs"].shape) == (1, 17, 48, 56, 56)
    test = pipelines.Compose(cfg["test_pipeline"])(_fake_coco_sample(rng))
    assert tuple(test["imgs"].shape) == (20, 17, 48, 64, 64)
    assert float(test["imgs"].max()) <= 1.0 + 1e-6 and float(test["imgs"].max()) > 0.1


QUICKSTART = ROOT / "configs" / "quickstart" / "posec3d_synthetic.py"


def test_quickstart_config_builds_and_runs_a_sample():
    from pyskl.datasets.pipelines import Compose
    from pyskl.datasets.synthetic import make_synthetic
    from pyskl.engine.runtime import read_runtime
    from pyskl.models import build_model

    cfg = load_config(QUICKSTART)
    assert read_runtime(cfg).warnings == []
    assert all(op["type"] != "Flip" for op in cfg["train_pipeline"])  # mirrored classes: no flips
    model = build_model(cfg["model"]).eval()
    sample = make_synthetic(kind="coco2d", num_classes=2, samples_per_class=1, seed=1)["annotations"][0]
    np.random.seed(0)
    for split in ("train", "val", "test"):
        ds_cfg = cfg["data"][split].get("dataset", cfg["data"][split])
        out = Compose(ds_cfg["pipeline"])(dict(sample, modality="Pose", start_index=0, test_mode=split != "train"))
        x = torch.as_tensor(out["imgs"])
        clips = ds_cfg["pipeline"][0].get("num_clips", 1)
        assert tuple(x.shape) == (clips, 17, 16, 32, 32)
        with torch.no_grad():
            scores = model.predict(x[None])
        assert tuple(scores.shape) == (1, cfg["model"]["cls_head"]["num_classes"])
        assert torch.allclose(torch.as_tensor(scores).sum(1), torch.ones(1))


@pytest.mark.slow
def test_quickstart_trains_on_cpu_and_beats_chance(tmp_path):
    """The whole quickstart: synthesise COCO-17 2D data, train, 5-clip test on held-out subjects."""
    from pyskl.datasets.synthetic import write_synthetic
    from pyskl.engine.train import TrainOptions, train

    ann = write_synthetic(tmp_path / "coco2d_synthetic.pkl", kind="coco2d", seed=0)
    cfg = load_config(QUICKSTART)
    cfg["data"]["train"]["dataset"]["ann_file"] = str(ann)
    cfg["data"]["val"]["ann_file"] = cfg["data"]["test"]["ann_file"] = str(ann)
    results = train(cfg, TrainOptions(work_dir=str(tmp_path / "work"), test_last=True, seed=0, device="cpu"))
    top1 = results["test_last"]["top1_acc"]
    assert top1 > 0.4, f"quickstart PoseC3D reached only {top1:.3f} top-1 (chance 0.1)"
