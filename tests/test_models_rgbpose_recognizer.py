"""MMRecognizer3D + RGBPoseHead: PYSKL's state_dict, per-stream losses, late fusion, engine batches."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from conftest import require_shared
from pyskl.config import load_config
from pyskl.engine.batch_input import batch_input
from pyskl.models import build_model
from pyskl.models.recognizers_rgbpose import STREAM_CHOICES

SMALL_CFG = "configs/rgbpose_conv3d/synthetic/rgbpose_synthetic.py"


def _small(**test_cfg) -> torch.nn.Module:
    from conftest import ROOT

    cfg = load_config(ROOT / SMALL_CFG)["model"]
    cfg["test_cfg"].update(test_cfg)
    torch.manual_seed(0)
    return build_model(cfg)


def _inputs(n: int = 2, clips: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, clips, 3, 4, 32, 32, generator=g), torch.rand(n, clips, 17, 16, 8, 8, generator=g)


def test_state_dict_matches_the_oracle_listing():
    path = require_shared("oracle", "models", "common", "listings", "rgbpose_conv3d.json")
    listing = json.loads(path.read_text())
    model = build_model(listing["model_cfg"])
    expected = {e["key"]: tuple(e["shape"]) for e in listing["state_dict"]}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    assert sum(p.numel() for p in model.parameters()) == listing["param_count"]
    assert sum(p.numel() for p in model.cls_head.parameters()) == listing["param_count_head"]


def test_forward_stacks_both_streams_per_clip():
    model = _small().eval()
    imgs, heat = _inputs(2, 2)
    with torch.no_grad():
        logits = model((imgs, heat))
        scores = model.cls_head(model.backbone(imgs[0], heat[0]))
        assert model((imgs[:, 0], heat[:, 0])).shape == (2, 2, 10)  # no clips axis
    assert logits.shape == (2, 2, 2, 10)
    torch.testing.assert_close(logits[0, :, 0], scores["rgb"])
    torch.testing.assert_close(logits[0, :, 1], scores["pose"])


def test_loss_is_one_cross_entropy_per_stream_times_its_weight():
    model = _small()
    model.cls_head.loss_weights = [0.5, 2.0]
    logits = torch.randn(4, 1, 2, 10)
    label = torch.tensor([0, 3, 3, 9])
    losses = model.loss(logits, label)
    assert set(losses) == {f"{s}_{k}" for s in ("rgb", "pose") for k in ("loss_cls", "top1_acc", "top5_acc")}
    torch.testing.assert_close(losses["rgb_loss_cls"], 0.5 * F.cross_entropy(logits[:, 0, 0], label))
    torch.testing.assert_close(losses["pose_loss_cls"], 2.0 * F.cross_entropy(logits[:, 0, 1], label))
    expected_top1 = (logits[:, 0, 0].argmax(1) == label).double().mean()
    torch.testing.assert_close(losses["rgb_top1_acc"], expected_top1)


def test_backward_reaches_both_classifiers_and_pathways():
    model = _small().train()
    losses = model.loss(model(_inputs()), torch.tensor([1, 2]))
    (losses["rgb_loss_cls"] + losses["pose_loss_cls"]).backward()
    for name in ("cls_head.fc_rgb.weight", "cls_head.fc_pose.weight", "backbone.rgb_path.conv1.conv.weight",
                 "backbone.pose_path.conv1.conv.weight"):
        assert model.get_parameter(name).grad.abs().sum() > 0, name


def test_predict_is_pyskl_late_fusion_of_clip_averaged_probabilities():
    model = _small().eval()
    x = _inputs(2, 2)
    with torch.no_grad():
        logits = model(x)
    rgb, pose = logits[:, :, 0].softmax(-1).mean(1), logits[:, :, 1].softmax(-1).mean(1)
    for stream, (w_rgb, w_pose) in STREAM_CHOICES.items():
        model.test_cfg["stream"] = stream
        torch.testing.assert_close(model.predict(x), w_rgb * rgb + w_pose * pose, msg=stream)
    model.test_cfg["stream"] = "RGBPose_1:1"
    torch.testing.assert_close(model.predict(x), rgb + pose)  # PYSKL's key indicator


def test_unknown_stream_is_refused_at_build():
    with pytest.raises(ValueError, match="stream must be one of"):
        _small(stream="both")


def test_engine_batch_gives_the_pair():
    imgs, heat = _inputs()
    x = batch_input({"imgs": imgs, "heatmap_imgs": heat, "label": torch.tensor([0, 1])}, torch.device("cpu"))
    assert isinstance(x, tuple) and x[0] is imgs and x[1] is heat


def test_single_input_names_the_collect_keys():
    with pytest.raises(TypeError, match="heatmap_imgs"):
        _small()(torch.zeros(1, 1, 3, 4, 32, 32))
