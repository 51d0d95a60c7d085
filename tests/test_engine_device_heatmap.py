"""PoseC3D heatmaps rendered in the train/test step (config key ``device_heatmap``)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from pyskl.config import ConfigError
from pyskl.datasets.pipelines import Compose
from pyskl.engine.batch_input import batch_input, build_heatmap_renderer

HEATMAP_ARGS = dict(sigma=0.6, with_kp=True, with_limb=False, double=True)
HEAD = [dict(type='UniformSampleFrames', clip_len=8, num_clips=2, test_mode=True), dict(type='PoseDecode'),
        dict(type='PoseCompact', hw_ratio=1.0, allow_imgpad=True), dict(type='Resize', scale=(24, 24), keep_ratio=False)]
NUMPY_TAIL = [dict(type='GeneratePoseTarget', **HEATMAP_ARGS), dict(type='FormatShape', input_format='NCTHW_Heatmap'),
              dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]), dict(type='ToTensor', keys=['imgs'])]
DEVICE_TAIL = [dict(type='PoseToHeatmapInput', num_person=2),
               dict(type='Collect', keys=['keypoint', 'keypoint_score', 'heatmap_shape', 'num_clips', 'label'],
                    meta_keys=[]),
               dict(type='ToTensor', keys=['keypoint', 'keypoint_score', 'heatmap_shape'])]


CUDA = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                         reason="needs a CUDA device")])


def _samples(n: int = 3) -> list[dict]:
    from pyskl.datasets.synthetic import make_synthetic

    anns = make_synthetic(kind="coco2d", num_classes=3, num_subjects=2, samples_per_class=1, frames=(20, 30),
                          seed=1)["annotations"][:n]
    return [dict(a, modality="Pose", start_index=0, test_mode=True) for a in anns]


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_batch_rendering_equals_the_numpy_pipeline(device):
    samples = _samples()
    numpy_pipe, device_pipe = Compose(HEAD + NUMPY_TAIL), Compose(HEAD + DEVICE_TAIL)
    expected = torch.stack([numpy_pipe(dict(s))["imgs"] for s in samples])
    batch = default_collate([device_pipe(dict(s)) for s in samples])
    got = batch_input(batch, torch.device(device), build_heatmap_renderer(HEATMAP_ARGS)).cpu()
    assert got.shape == expected.shape == (3, 4, 17, 8, 24, 24)  # 2 clips x {original, flipped}
    torch.testing.assert_close(got, expected.float(), atol=1e-5, rtol=0)


def test_keypoint_batch_without_renderer_is_a_config_error():
    batch = default_collate([Compose(HEAD + DEVICE_TAIL)(dict(s)) for s in _samples(2)])
    with pytest.raises(ConfigError, match="device_heatmap"):
        batch_input(batch, torch.device("cpu"), None)


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_train_and_test_with_in_step_heatmaps(tmp_path, device):
    from pyskl.cli import main
    from pyskl.datasets.synthetic import write_synthetic

    ann = write_synthetic(tmp_path / "coco.pkl", kind="coco2d", num_classes=3, num_subjects=3, samples_per_class=4,
                          frames=(16, 24), seed=0)
    train_head = [dict(type='UniformSampleFrames', clip_len=8), dict(type='PoseDecode'),
                  dict(type='PoseCompact', hw_ratio=1.0, allow_imgpad=True),
                  dict(type='Resize', scale=(24, 24), keep_ratio=False)]
    cfg = f"""
model = dict(type='Recognizer3D',
             backbone=dict(type='C3D', in_channels=17, base_channels=8, num_stages=3, temporal_downsample=False),
             cls_head=dict(type='I3DHead', in_channels=64, num_classes=3, dropout=0.0))
device_heatmap = dict(sigma=0.6, with_kp=True, with_limb=False)
train_pipeline = {train_head + DEVICE_TAIL!r}
test_pipeline = {HEAD + DEVICE_TAIL!r}
data = dict(videos_per_gpu=4, workers_per_gpu=0, test_dataloader=dict(videos_per_gpu=4),
            train=dict(type='PoseDataset', ann_file='{ann}', split='xsub_train', pipeline=train_pipeline),
            val=dict(type='PoseDataset', ann_file='{ann}', split='xsub_val', pipeline=test_pipeline),
            test=dict(type='PoseDataset', ann_file='{ann}', split='xsub_val', pipeline=test_pipeline))
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='CosineAnnealing', min_lr=0, by_epoch=False)
total_epochs = 1
checkpoint_config = dict(interval=1)
evaluation = dict(interval=1, metrics=['top_k_accuracy'], topk=(1,))
"""
    path = tmp_path / "c3d_device_heatmap.py"
    path.write_text(cfg)
    work = tmp_path / "work"
    assert main(["train", str(path), "--work-dir", str(work), "--seed", "0", "--validate", "--test-last",
                 "--device", device]) == 0
    records = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert losses and np.all(np.isfinite(losses))
    assert (work / "latest.pth").is_file()
