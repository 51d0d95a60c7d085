"""ProtoGCN's model-zoo configs (configs/protogcn): all 36 present, each equal to ProtoGCN's recipe facts
(github firework8/ProtoGCN configs; oracle README "Model cfg"), models with the official parameter counts,
pipelines that build and feed the model."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT

from pyskl.config import load_config

CONFIG_ROOT = ROOT / "configs"
DATASETS = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset", "k400", "finegym")
MODALITIES = ("j", "b", "k", "jm", "bm", "km")
CONFIGS = sorted((CONFIG_ROOT / "protogcn").rglob("*.py"))
IDS = [str(p.relative_to(CONFIG_ROOT)) for p in CONFIGS]
SPLITS = ("train", "val", "test")

# Facts: num_prototype / SimpleHead weight per modality; classes, layout, ann file per dataset.
PROTOTYPES = {"j": (400, 0.2), "jm": (400, 0.2), "b": (100, 0.3), "bm": (100, 0.3),
              "k": (100, 0.1), "km": (100, 0.1)}
DATASET_FACTS = {
    "ntu60_xsub": (60, "nturgb+d", "data/nturgbd/ntu60_3danno.pkl", "xsub"),
    "ntu60_xview": (60, "nturgb+d", "data/nturgbd/ntu60_3danno.pkl", "xview"),
    "ntu120_xsub": (120, "nturgb+d", "data/nturgbd/ntu120_3danno.pkl", "xsub"),
    "ntu120_xset": (120, "nturgb+d", "data/nturgbd/ntu120_3danno.pkl", "xset"),
    "k400": (400, "coco_new", "data/k400/k400_hrnet.pkl", None),
    "finegym": (99, "coco_new", "data/gym/gym_hrnet.pkl", None),
}
SPATIAL_FLIP = {("ntu60_xsub", m) for m in ("b", "bm", "k", "km")} | {
    ("ntu120_xsub", m) for m in ("j", "jm", "b", "bm")} | {("ntu120_xset", m) for m in ("b", "bm", "k", "km")}
PART_DROP = {("ntu120_xsub", m) for m in ("k", "km")} | {("ntu60_xview", m) for m in ("k", "km")}
# Official parameter counts (sum of model.parameters(), the csc_loss cl_fc included).
PARAMS = {"protogcn_ntu60_xsub/j.py": 4_344_860, "protogcn_ntu60_xsub/k.py": 4_114_460,
          "protogcn_ntu120_xsub/j.py": 4_367_960, "protogcn_k400/j.py": 4_400_130,
          "protogcn_finegym/j.py": 4_284_245}


@lru_cache(maxsize=None)
def _load(path: Path) -> dict:
    return load_config(path)


def _split(path: Path) -> tuple[str, str]:
    return path.parent.name[len("protogcn_"):], path.stem


def test_every_protogcn_config_is_present():
    assert set(IDS) == {f"protogcn/protogcn_{d}/{m}.py" for d in DATASETS for m in MODALITIES}


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_config_equals_protogcn_recipe(path: Path):
    dataset, modality = _split(path)
    classes, layout, ann_file, split = DATASET_FACTS[dataset]
    prototypes, weight = PROTOTYPES[modality]
    cfg = _load(path)
    backbone, head = cfg["model"]["backbone"], cfg["model"]["cls_head"]
    assert backbone == dict(
        type="ProtoGCN", num_prototype=prototypes,
        tcn_ms_cfg=[(3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"],
        graph_cfg=dict(layout=layout, mode="random", num_filter=8, init_off=0.04, init_std=0.02))
    assert all(isinstance(c, tuple) for c in backbone["tcn_ms_cfg"][:5])  # mstcn needs tuples
    assert head == dict(type="SimpleHead", joint_cfg=layout, num_classes=classes, in_channels=384,
                        weight=weight)
    assert cfg["ann_file"] == ann_file and cfg["total_epochs"] == 150
    assert cfg["lr_config"] == dict(policy="CosineAnnealing", min_lr=0, by_epoch=False)
    lr, batch = (0.1, 64) if dataset == "k400" else (0.025, 16)
    assert cfg["optimizer"] == dict(type="SGD", lr=lr, momentum=0.9, weight_decay=0.0005, nesterov=True)
    assert cfg["data"]["videos_per_gpu"] == batch and cfg["data"]["test_dataloader"] == dict(videos_per_gpu=1)
    train_ops = [op["type"] for op in cfg["train_pipeline"]]
    assert ("Spatial_Flip" in train_ops) == ((dataset, modality) in SPATIAL_FLIP)
    assert ("Part_Drop" in train_ops) == ((dataset, modality) in PART_DROP)
    for name in SPLITS:
        pipeline = cfg[f"{name}_pipeline"]
        assert cfg["data"][name]["pipeline"] == pipeline
        assert cfg["data"][name]["split"] == (f"{split}_{'train' if name == 'train' else 'val'}" if split
                                              else ("train" if name == "train" else "val"))
        feat = next(op for op in pipeline if op["type"] == "GenSkeFeat")
        assert feat["feats"] == [modality] and feat.get("dataset", "nturgb+d") == layout
        ops = [op["type"] for op in pipeline]
        if layout == "coco_new":  # Kinetics_Transform after Flip, right before GenSkeFeat
            assert ops.index("Kinetics_Transform") == ops.index("GenSkeFeat") - 1
        else:
            assert pipeline[0] == dict(type="PreNormalize3D", align_spine=False)
        assert [op for op in pipeline if op["type"] in ("UniformSampleDecode", "UniformSampleFrames")][0].get(
            "num_clips", 1) == {"train": 1, "val": 1, "test": 10}[name]


def _unique(key_of) -> list[tuple[str, dict]]:
    seen, out = set(), []
    for path, name in zip(CONFIGS, IDS):
        cfg = _load(path)
        key = json.dumps(key_of(cfg), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append((name, cfg))
    return out


def _ids(value) -> str:
    return value if isinstance(value, str) else ""


@pytest.mark.parametrize("name,cfg", _unique(lambda c: c["model"]), ids=_ids)
def test_config_builds_its_model(name, cfg):
    from pyskl.models import build_model

    model = build_model(cfg["model"])
    head = cfg["model"]["cls_head"]
    assert model.cls_head.fc_cls.out_features == head["num_classes"]
    assert model.backbone.prn.query_matrix.out_features == cfg["model"]["backbone"]["num_prototype"]
    short = name[len("protogcn/"):]
    if short in PARAMS:
        assert sum(p.numel() for p in model.parameters()) == PARAMS[short]


@pytest.mark.parametrize("name,cfg", _unique(lambda c: [c[f"{s}_pipeline"] for s in SPLITS]),
                         ids=_ids)
def test_config_pipelines_build(name, cfg):
    from pyskl.datasets.pipelines import Compose

    for split in SPLITS:
        assert len(Compose(cfg[f"{split}_pipeline"]).transforms) == len(cfg[f"{split}_pipeline"])


def _fake_sample(rng: np.random.Generator, hrnet: bool, frames: int = 40) -> dict:
    """A PYSKL annotation: NTU 3D skeletons (25 joints) or HRNet 2D COCO-17 keypoints + scores."""
    joints, dims = (17, 2) if hrnet else (25, 3)
    base = rng.normal(0, 0.3, size=(2, 1, joints, dims))
    drift = np.cumsum(rng.normal(0, 0.01, size=(2, frames, joints, dims)), axis=1)
    sample = dict(frame_dir="fake", label=7, total_frames=frames, start_index=0, modality="Pose",
                  keypoint=(base + drift).astype(np.float32))
    if hrnet:
        sample.update(img_shape=(480, 640), original_shape=(480, 640),
                      keypoint=sample["keypoint"] * 100 + 200,
                      keypoint_score=rng.uniform(0.3, 1.0, size=(2, frames, joints)).astype(np.float32))
    return sample


@pytest.mark.slow  # a full-width ProtoGCN forward: seconds on a shared CPU
@pytest.mark.parametrize("name", ["protogcn/protogcn_ntu120_xsub/km.py", "protogcn/protogcn_ntu60_xsub/b.py",
                                  "protogcn/protogcn_finegym/k.py"])
def test_pipelines_feed_the_model(name):
    """Train gives [1, M=2, 100, V, 3]; test 10 clips; V = 25 (NTU) or 20 (coco_new); the model eats them."""
    import random

    from pyskl.datasets.pipelines import Compose
    from pyskl.models import build_model

    cfg = _load(CONFIG_ROOT / name)
    hrnet = "finegym" in name
    joints = 20 if hrnet else 25
    np.random.seed(0)
    random.seed(0)
    rng = np.random.default_rng(0)
    train = Compose(cfg["train_pipeline"])(_fake_sample(rng, hrnet))
    assert tuple(train["keypoint"].shape) == (1, 2, 100, joints, 3)
    test = Compose(cfg["test_pipeline"])(_fake_sample(rng, hrnet))
    assert tuple(test["keypoint"].shape) == (10, 2, 100, joints, 3)
    model = build_model(cfg["model"]).eval()
    with torch.no_grad():
        scores = model.predict(torch.as_tensor(np.asarray(test["keypoint"]))[None, :1, :, :16])
    assert scores.shape == (1, cfg["model"]["cls_head"]["num_classes"])


def test_model_zoo_links_every_protogcn_config_with_the_published_numbers():
    """docs/model_zoo.md: J/B/K cells quote ProtoGCN's top-1 (its data/README.md) and link their config."""
    import re

    text = (ROOT / "docs" / "model_zoo.md").read_text()
    section = text[text.index("## ProtoGCN"):]
    links = re.findall(r"\[([\d.]+|config)\]\(\.\./configs/(protogcn/[^)]+\.py)\)", section)
    assert sorted(p for _, p in links) == IDS
    quoted = {p: v for v, p in links if v != "config"}
    assert quoted["protogcn/protogcn_ntu60_xsub/j.py"] == "91.54"
    assert quoted["protogcn/protogcn_finegym/b.py"] == "94.84"
    assert quoted["protogcn/protogcn_k400/k.py"] == "45.86"
    assert len(quoted) == 18 and all(p.endswith(("/j.py", "/b.py", "/k.py")) for p in quoted)
