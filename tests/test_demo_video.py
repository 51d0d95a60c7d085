"""``pyskl demo``: annotated mp4 + timeline; fast with replayed poses, slow end to end on the NTU sample."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pyskl.apis import validate_timeline
from pyskl.apis.demo import class_names_for, run_demo
from pyskl.viz import VideoWriter, read_video_frames
from tests.conftest import require_shared
from tests.test_apis_inference import TINY_COCO


def _synthetic_clip(tmp_path, frames=24):
    """A grey video plus the synthetic COCO-17 person (scaled to 270 x 480) to replay as its poses."""
    from pyskl.datasets.synthetic import make_synthetic

    ann = make_synthetic("coco2d", num_classes=1, samples_per_class=1, frames=(frames, frames))[
        "annotations"
    ][0]
    h0, w0 = ann["img_shape"]
    ann["keypoint"] = ann["keypoint"][:1] * np.array([480 / w0, 270 / h0], np.float32)
    ann["keypoint_score"] = ann["keypoint_score"][:1]
    ann["img_shape"] = (270, 480)
    video = tmp_path / "clip.mp4"
    with VideoWriter(video, fps=15) as w:
        for _ in range(frames):
            w.write(np.full((270, 480, 3), 90, np.uint8))
    return video, ann


def _drawn_fraction(source, output, keypoint, score, joints, thr=0.5, diff=40):
    """Fraction of confident joints where the output frame differs clearly from the source frame."""
    hits = total = 0
    for j in joints:
        if score[j] <= thr:
            continue
        x, y = np.round(keypoint[j]).astype(int)
        if not (2 <= x < source.shape[1] - 2 and 2 <= y < source.shape[0] - 2):
            continue
        a = source[y - 1 : y + 2, x - 1 : x + 2].astype(int)
        b = output[y - 1 : y + 2, x - 1 : x + 2].astype(int)
        hits += np.abs(a - b).mean() > diff
        total += 1
    return hits / max(total, 1), total


def test_demo_with_replayed_poses(tmp_path):
    from pyskl.pose.replay import ReplayBackend

    video, ann = _synthetic_clip(tmp_path)
    torch.manual_seed(0)
    result = run_demo(
        video,
        tmp_path / "out" / "demo.mp4",
        TINY_COCO,
        None,
        label_map=list("abcde"),
        window=12,
        stride=4,
        backend=ReplayBackend(ann),
        progress=False,
        save_pose=tmp_path / "pose.pkl",
    )
    assert result.frames == 24 and result.tracks == 1 and result.codec in ("h264", "mp4v")
    out = read_video_frames(result.video)
    assert len(out) == 24 and out[0].shape == (270, 480, 3)
    doc = json.loads(result.timeline.read_text())
    validate_timeline(doc)
    assert doc["frames"] == 24 and doc["classes"] == list("abcde") and doc["width"] == 480
    covered = sorted({f for s in doc["segments"] for f in range(s["start"], s["end"] + 1)})
    assert covered == list(range(24))  # predictions cover the whole track
    assert (tmp_path / "out" / "demo.csv").read_text().startswith("track,start,end")
    src = read_video_frames(video)
    for t in (0, 12, 23):
        frac, n = _drawn_fraction(
            src[t], out[t], ann["keypoint"][0, t], ann["keypoint_score"][0, t], range(17)
        )
        assert n >= 10 and frac >= 0.9, (t, frac, n)
    # far from the person nothing changes
    assert np.abs(src[5][250:268, 300:470].astype(int) - out[5][250:268, 300:470]).mean() < 8
    assert set(result.seconds) == {"pose", "tracking", "recognition", "drawing", "total"}
    from pyskl.datasets.io import load_annotations

    saved = load_annotations(tmp_path / "pose.pkl", validate=False)["annotations"][0]
    np.testing.assert_allclose(saved["keypoint"][0], ann["keypoint"][0], atol=1e-4)


def test_demo_scene_mode_labels_the_whole_frame(tmp_path):
    from pyskl.pose.replay import ReplayBackend

    video, ann = _synthetic_clip(tmp_path)
    result = run_demo(video, tmp_path / "scene.mp4", TINY_COCO, None, label_map=list("abcde"), window=12,
                      stride=4, backend=ReplayBackend(ann), progress=False, scene=True)
    doc = json.loads(result.timeline.read_text())
    validate_timeline(doc)
    assert doc["grouping"] == "scene" and {s["track"] for s in doc["segments"]} == {-1}
    covered = sorted({f for s in doc["segments"] for f in range(s["start"], s["end"] + 1)})
    assert covered == list(range(24))


def test_demo_with_posec3d_config(tmp_path):
    from pyskl.pose.replay import ReplayBackend
    from tests.conftest import ROOT

    video, ann = _synthetic_clip(tmp_path, frames=16)
    torch.manual_seed(0)
    result = run_demo(
        video,
        None,
        ROOT / "configs" / "quickstart" / "posec3d_synthetic.py",
        None,
        window=8,
        stride=8,
        backend=ReplayBackend(ann),
        progress=False,
        timeline=tmp_path / "t.json",
    )
    doc = json.loads((tmp_path / "t.json").read_text())
    validate_timeline(doc)
    assert result.video is None and len(doc["classes"]) == 10
    assert sorted({f for s in doc["segments"] for f in range(s["start"], s["end"] + 1)}) == list(range(16))


def test_demo_refuses_a_3d_ntu_config(tmp_path):
    from pyskl.pose.replay import ReplayBackend
    from tests.conftest import ROOT

    video, ann = _synthetic_clip(tmp_path, frames=8)
    with pytest.raises(ValueError, match="'nturgb\\+d' skeleton layout"):
        run_demo(
            video,
            None,
            ROOT / "configs" / "quickstart" / "stgcnpp_synthetic.py",
            None,
            backend=ReplayBackend(ann),
            progress=False,
            timeline=tmp_path / "t.json",
        )


def test_class_names_for():
    assert class_names_for(3, None) == ["0", "1", "2"]
    assert class_names_for(60, "ntu60")[0] == "drink water"
    with pytest.raises(ValueError, match="has 2 names but the model has 3 classes"):
        class_names_for(3, ["a", "b"])
    with pytest.raises(ValueError, match="label map ntu60 has 60 names but the model has 120 classes"):
        class_names_for(120, "ntu60")


TINY_TRAIN_2D = """
model = dict(
    type='RecognizerGCN',
    backbone=dict(type='STGCN', gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn', base_channels=8,
                  num_stages=2, inflate_stages=[], down_stages=[],
                  graph_cfg=dict(layout='coco', mode='spatial')),
    cls_head=dict(type='GCNHead', num_classes=4, in_channels=8))
ann_file = '{ann_file}'
pipe = [
    dict(type='PreNormalize2D'),
    dict(type='GenSkeFeat', dataset='coco', feats=['j']),
    dict(type='UniformSample', clip_len=16, num_clips=1),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint'])]
train_pipeline = pipe
test_pipeline = pipe
data = dict(videos_per_gpu=8, workers_per_gpu=0, test_dataloader=dict(videos_per_gpu=8),
    train=dict(type='PoseDataset', ann_file=ann_file, pipeline=train_pipeline, split='xsub_train'),
    val=dict(type='PoseDataset', ann_file=ann_file, pipeline=test_pipeline, split='xsub_val'),
    test=dict(type='PoseDataset', ann_file=ann_file, pipeline=test_pipeline, split='xsub_val'))
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0005, nesterov=True)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='CosineAnnealing', min_lr=0, by_epoch=False)
total_epochs = 2
checkpoint_config = dict(interval=1)
evaluation = dict(interval=1, metrics=['top_k_accuracy'], topk=(1, 2))
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')])
"""


@pytest.fixture(scope="module")
def trained_coco_model(tmp_path_factory):
    """A small COCO-17 2D ST-GCN++ trained by the engine (2 epochs) on synthetic 2D data."""
    from pyskl.cli import main
    from pyskl.datasets.synthetic import write_synthetic

    root = tmp_path_factory.mktemp("coco_model")
    ann = write_synthetic(
        root / "coco2d.pkl",
        kind="coco2d",
        num_classes=4,
        num_subjects=3,
        samples_per_class=3,
        frames=(16, 24),
        seed=0,
    )
    cfg = root / "tiny_coco2d.py"
    cfg.write_text(TINY_TRAIN_2D.format(ann_file=ann))
    assert main(["train", str(cfg), "--work-dir", str(root / "wd"), "--device", "cpu", "--seed", "0"]) == 0
    return cfg, root / "wd" / "latest.pth"


@pytest.mark.slow
def test_demo_cli_on_ntu_sample(tmp_path, trained_coco_model, capsys):
    pytest.importorskip("mediapipe")
    video = require_shared("samples", "ntu_sample.avi")
    cfg, ckpt = trained_coco_model
    from pyskl.cli import main
    from pyskl.datasets.io import load_annotations
    from pyskl.datasets.synthetic import SYNTHETIC_CLASSES

    names = tmp_path / "classes.txt"
    names.write_text("\n".join(SYNTHETIC_CLASSES[:4]) + "\n")
    out = tmp_path / "demo.mp4"
    assert (
        main(
            [
                "demo",
                str(video),
                str(out),
                "--config",
                str(cfg),
                "--checkpoint",
                str(ckpt),
                "--label-map",
                str(names),
                "--window",
                "32",
                "--stride",
                "8",
                "--save-pose",
                str(tmp_path / "pose.pkl"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "72 frames" in capsys.readouterr().out
    frames = read_video_frames(out)
    assert len(frames) == 72 and frames[0].shape == (1080, 1920, 3)
    import av

    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    doc = json.loads(out.with_suffix(".json").read_text())
    validate_timeline(doc)
    assert doc["frames"] == 72 and doc["width"] == 1920 and doc["height"] == 1080
    assert {s["track"] for s in doc["segments"]} == {0, 1}  # both men tracked and labelled
    assert all(s["label_name"] in SYNTHETIC_CLASSES[:4] for s in doc["segments"])
    pose = load_annotations(tmp_path / "pose.pkl", validate=False)["annotations"][0]
    assert pose["keypoint"].shape[:3] == (2, 72, 17)
    import os

    import cv2

    from pyskl.viz import write_png

    png_dir = tmp_path if "PYSKL_VIZ_DIR" not in os.environ else os.environ["PYSKL_VIZ_DIR"]
    write_png(os.path.join(png_dir, "demo_ntu_frame36.png"), cv2.resize(frames[36], (960, 540)))
    src = read_video_frames(video)
    for t in (0, 36, 71):
        for m in range(2):
            # hips, knees, ankles: well below any label box
            frac, n = _drawn_fraction(
                src[t], frames[t], pose["keypoint"][m, t], pose["keypoint_score"][m, t], range(11, 17)
            )
            assert n >= 3 and frac >= 0.8, (t, m, frac, n)
