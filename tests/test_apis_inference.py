"""``init_recognizer`` / ``inference_recognizer``: PYSKL's trained gesture model, GCN and PoseC3D configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pyskl.apis import build_test_pipeline, inference_recognizer, init_recognizer, make_annotation
from tests.conftest import ROOT, require_shared

TINY_COCO = dict(
    model=dict(
        type="RecognizerGCN",
        backbone=dict(
            type="STGCN",
            gcn_adaptive="init",
            gcn_with_res=True,
            tcn_type="mstcn",
            base_channels=8,
            num_stages=2,
            inflate_stages=[],
            down_stages=[],
            graph_cfg=dict(layout="coco", mode="spatial"),
        ),
        cls_head=dict(type="GCNHead", num_classes=5, in_channels=8),
    ),
    data=dict(
        test=dict(
            type="PoseDataset",
            ann_file="",
            pipeline=[
                dict(type="PreNormalize2D"),
                dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
                dict(type="UniformSample", clip_len=12, num_clips=4),
                dict(type="PoseDecode"),
                dict(type="FormatGCNInput", num_person=2),
                dict(type="Collect", keys=["keypoint", "label"], meta_keys=[]),
                dict(type="ToTensor", keys=["keypoint"]),
            ],
        )
    ),
)


def test_hagrid_golden_through_pipeline():
    ckpt = require_shared("checkpoints", "hagrid.pth")
    golden = np.load(require_shared("oracle", "models", "public", "stgcnpp_gesture_hagrid.io.npz"))
    model = init_recognizer(ROOT / "configs" / "gesture" / "stgcnpp_hagrid.py", ckpt)
    x = golden["input"]  # [2, clips, 1, 10, 21, 2]
    np.testing.assert_allclose(
        model.predict(torch.from_numpy(x[:, :2])).numpy(), golden["nc2_scores"], atol=1e-5
    )
    for i in range(2):
        # one hand, 10 frames of [0, 1]-range coordinates: the test pipeline passes them through unchanged
        scores = inference_recognizer(model, x[i, 0], return_scores=True)
        np.testing.assert_allclose(scores, golden["nc1_scores"][i], atol=1e-5)
    top = inference_recognizer(model, x[0, 0], topk=2)
    assert [c for c, _ in top] == [34, 30] and top[0][1] == pytest.approx(
        float(golden["nc1_scores"][0, 34]), abs=1e-5
    )
    folded = init_recognizer(ROOT / "configs" / "gesture" / "stgcnpp_hagrid.py", ckpt, fuse_bn=True)
    assert len(folded.state_dict()) < len(model.state_dict())
    with torch.no_grad():
        np.testing.assert_allclose(
            folded.predict(torch.from_numpy(x[:, :2])).numpy(), golden["nc2_scores"], atol=1e-5
        )


def test_gesture_config_file_matches_builtin():
    from pyskl.apis.gesture import GESTURE_CLASSES, GESTURE_CONFIG
    from pyskl.config import load_config

    cfg = load_config(ROOT / "configs" / "gesture" / "stgcnpp_hagrid.py")
    assert cfg["model"] == GESTURE_CONFIG["model"]
    assert cfg["test_pipeline"] == GESTURE_CONFIG["test_pipeline"]
    assert (
        len(GESTURE_CLASSES) == 40 and GESTURE_CLASSES[34] == "Peace" and GESTURE_CLASSES[-1] == "No Gesture"
    )


def test_gcn_inference_on_annotation_and_bare_keypoints():
    from pyskl.datasets.synthetic import make_synthetic

    torch.manual_seed(0)
    model = init_recognizer(TINY_COCO)
    assert not model.training and model.cfg["model"]["type"] == "RecognizerGCN"
    ann = make_synthetic("coco2d", num_classes=1, samples_per_class=1, frames=(20, 20))["annotations"][0]
    top = inference_recognizer(model, ann)
    assert len(top) == 5 and sorted((s for _, s in top), reverse=True) == [s for _, s in top]
    scores = inference_recognizer(model, ann, return_scores=True)
    assert scores.shape == (5,) and scores.sum() == pytest.approx(1.0, abs=1e-5)
    # test-mode sampling (fixed seed): the same input always gets the same scores
    np.testing.assert_array_equal(inference_recognizer(model, ann, return_scores=True), scores)
    # the same keypoints as a bare array give the same scores
    bare = inference_recognizer(
        model,
        ann["keypoint"],
        return_scores=True,
        keypoint_score=ann["keypoint_score"],
        img_shape=ann["img_shape"],
    )
    np.testing.assert_allclose(bare, scores, atol=1e-6)
    # num_clips override: fewer clips in the model input
    assert (
        build_test_pipeline(TINY_COCO, num_clips=1)(make_annotation(ann["keypoint"]))["keypoint"].shape[0]
        == 1
    )


def test_posec3d_quickstart_config_random_weights():
    from pyskl.datasets.synthetic import make_synthetic

    torch.manual_seed(0)
    model = init_recognizer(ROOT / "configs" / "quickstart" / "posec3d_synthetic.py", None, num_clips=1)
    ann = make_synthetic("coco2d", num_classes=1, samples_per_class=1, frames=(20, 20))["annotations"][0]
    scores = inference_recognizer(model, ann, return_scores=True)
    assert (
        scores.shape == (10,) and np.isfinite(scores).all() and scores.sum() == pytest.approx(1.0, abs=1e-5)
    )


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = init_recognizer(TINY_COCO)
    torch.save({"state_dict": model.state_dict(), "meta": {}}, tmp_path / "w.pth")
    torch.manual_seed(1)
    again = init_recognizer(TINY_COCO, tmp_path / "w.pth")
    kp = np.random.default_rng(0).uniform(0, 500, (1, 16, 17, 2)).astype(np.float32)
    score = np.full(kp.shape[:3], 0.9, np.float32)  # the model takes (x, y, score)
    np.testing.assert_allclose(
        inference_recognizer(model, kp, return_scores=True, keypoint_score=score),
        inference_recognizer(again, kp, return_scores=True, keypoint_score=score),
        atol=1e-5,
    )


def test_make_annotation_and_errors():
    ann = make_annotation(np.full((8, 17, 2), 99.5, np.float32))
    assert ann["keypoint"].shape == (1, 8, 17, 2) and ann["total_frames"] == 8
    assert ann["img_shape"] == (101, 101) and ann["label"] == -1
    with pytest.raises(ValueError, match="keypoint_score has shape"):
        make_annotation(np.zeros((1, 8, 17, 2)), np.zeros((1, 8, 16)))
    with pytest.raises(ValueError, match=r"\[M, T, V, C\]"):
        make_annotation(np.zeros((17, 2)))
    with pytest.raises(KeyError, match="no 'model'"):
        init_recognizer({"data": {}})
    with pytest.raises(AttributeError, match="init_recognizer"):
        inference_recognizer(torch.nn.Linear(2, 2), np.zeros((1, 4, 17, 2)))
