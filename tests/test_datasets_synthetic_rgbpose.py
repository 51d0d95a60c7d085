"""``pyskl data synth --kind rgbpose``: videos drawn from the 2D synthetic skeletons, decodable by the
RGBPose pipeline and aligned with the annotation; the shuffled-label control; the end-to-end run."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from pyskl.config import load_config
from pyskl.datasets import build_dataset
from pyskl.datasets.io import load_annotations
from pyskl.datasets.pipelines import Compose
from pyskl.datasets.pipelines.video_io import VideoFile
from pyskl.datasets.synthetic import make_synthetic, write_synthetic

SMALL_CFG = ROOT / "configs" / "rgbpose_conv3d" / "synthetic" / "rgbpose_synthetic.py"
ARGS = dict(num_classes=2, samples_per_class=2, frames=(10, 12), seed=3)


@pytest.fixture(scope="module")
def rgbpose_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("rgbpose")
    write_synthetic(out / "rgbpose.pkl", kind="rgbpose", video_dir=out / "videos", **ARGS)
    return out


def test_annotation_is_the_coco2d_set_and_every_video_has_its_frames(rgbpose_set):
    data = load_annotations(rgbpose_set / "rgbpose.pkl")
    reference = make_synthetic("coco2d", **ARGS)
    assert data["split"] == reference["split"]
    for sample, ref in zip(data["annotations"], reference["annotations"]):
        np.testing.assert_array_equal(sample["keypoint"], ref["keypoint"])
        video = VideoFile(str(rgbpose_set / "videos" / f"{sample['frame_dir']}.mp4"))
        assert len(video) == sample["total_frames"]


def test_limbs_are_drawn_where_the_keypoints_are(rgbpose_set):
    sample = load_annotations(rgbpose_set / "rgbpose.pkl")["annotations"][0]
    frame = VideoFile(str(rgbpose_set / "videos" / f"{sample['frame_dir']}.mp4")).get_frames([0])[0]
    scale = frame.shape[0] / sample["img_shape"][0]
    x, y = np.round((sample["keypoint"][0, 0, 7] + sample["keypoint"][0, 0, 9]) / 2 * scale).astype(int)
    red, green, blue = frame[y, x].astype(int)  # middle of the left forearm: drawn in the left colour
    assert red > 150 and blue < 120, frame[y, x]
    background = np.median(frame.reshape(-1, 3), axis=0)
    assert np.abs(frame[y, x] - background).max() > 60


def test_rgbpose_pipeline_decodes_aligned_rgb_and_pose(rgbpose_set):
    cfg = load_config(SMALL_CFG)
    ds_cfg = dict(cfg["data"]["test"], ann_file=str(rgbpose_set / "rgbpose.pkl"),
                  data_prefix=str(rgbpose_set / "videos"), split="xsub_train", test_mode=True)
    sample = build_dataset(ds_cfg)[0]
    assert tuple(sample["imgs"].shape) == (2, 3, 4, 80, 80)  # clips, C, T, H, W
    assert tuple(sample["heatmap_imgs"].shape) == (2, 17, 16, 20, 20)
    # the same frame in both streams: the drawn limbs sit where the heatmaps are
    # before Collect, the frame indices are still there
    results = build_dataset(dict(ds_cfg, pipeline=cfg["test_pipeline"][:-2]))[0]
    rgb_frame = int(results["RGB_inds"][0])
    pose_index = int(np.argmin(np.abs(results["Pose_inds"][:16] - rgb_frame)))
    assert results["Pose_inds"][pose_index] == rgb_frame
    rgb = torch.as_tensor(results["imgs"][0, :, 0])  # 3, 80, 80, normalised
    drawn = (rgb - rgb.flatten(1).median(1).values[:, None, None]).abs().sum(0)  # distance from background
    heat = torch.as_tensor(results["heatmap_imgs"][0, :, pose_index]).amax(0)[None, None]
    heat = torch.nn.functional.interpolate(heat, size=80, mode="bilinear")[0, 0]
    assert drawn[heat > 0.5].mean() > 2 * drawn[heat < 0.01].mean()


def test_shuffle_labels_permutes_labels_and_keeps_everything_else(tmp_path, rgbpose_set):
    path = write_synthetic(tmp_path / "shuffled.pkl", kind="rgbpose", video_dir=tmp_path / "videos",
                           shuffle_labels=True, num_classes=4, samples_per_class=6, frames=(10, 12), seed=3)
    plain = make_synthetic("coco2d", num_classes=4, samples_per_class=6, frames=(10, 12),
                           seed=3)["annotations"]
    shuffled = load_annotations(path)["annotations"]
    labels, original = [a["label"] for a in shuffled], [a["label"] for a in plain]
    assert sorted(labels) == sorted(original) and labels != original
    assert [a["frame_dir"] for a in shuffled] == [a["frame_dir"] for a in plain]


def test_video_options_are_refused_for_skeleton_kinds(tmp_path):
    with pytest.raises(ValueError, match="video_dir applies to kind='rgbpose' only"):
        write_synthetic(tmp_path / "x.pkl", kind="coco2d", video_dir=tmp_path, **ARGS)


@pytest.mark.slow
def test_train_and_test_with_the_engine_learn_both_streams(tmp_path):
    """The small config through ``pyskl train``/``pyskl test`` on a small two-class set (wave, raise arms)."""
    data = tmp_path / "data"
    write_synthetic(data / "rgbpose.pkl", kind="rgbpose", video_dir=data / "videos", num_classes=2,
                    samples_per_class=12, frames=(24, 32), seed=0)
    options = ["model.cls_head.num_classes=2", "total_epochs=8", "data.videos_per_gpu=4",
               f"work_dir={tmp_path / 'work'}"]
    for split in ("data.train.dataset", "data.val", "data.test"):
        options += [f"{split}.ann_file={data / 'rgbpose.pkl'}", f"{split}.data_prefix={data / 'videos'}",
                    f"{split}.split=xsub_train"]
    run = [sys.executable, "-m", "pyskl"]
    subprocess.run(run + ["train", str(SMALL_CFG), "--seed", "0", "--cfg-options", *options], check=True,
                   cwd=tmp_path)
    accuracy = {}
    for stream in ("rgb", "pose", "RGBPose_1:1"):
        out = tmp_path / f"{stream.replace(':', '_')}.json"
        subprocess.run(run + ["test", str(SMALL_CFG), str(tmp_path / "work" / "latest.pth"), "--eval",
                              "top_k_accuracy", "--out", str(out), "--cfg-options", *options,
                              f"model.test_cfg.stream={stream}"], check=True, cwd=tmp_path)
        accuracy[stream] = json.loads(out.read_text())["metrics"]["top1_acc"]
    # scored on its own training set: every stream and the fusion fit it well above chance (1/2)
    assert min(accuracy.values()) >= 0.8, accuracy
