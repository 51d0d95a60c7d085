"""Tiny synthetic data + config for the engine tests (a few samples, T=8, a 2-stage ST-GCN++)."""
from __future__ import annotations

from pathlib import Path

TINY_CONFIG = """
model = dict(
    type='RecognizerGCN',
    backbone=dict(type='STGCN', gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn', base_channels=8,
                  num_stages=2, inflate_stages=[], down_stages=[], graph_cfg=dict(layout='nturgb+d', mode='spatial')),
    cls_head=dict(type='GCNHead', num_classes={num_classes}, in_channels=8))
ann_file = '{ann_file}'
train_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSample', clip_len=8),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint'])]
test_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSample', clip_len=8, num_clips=3),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint'])]
data = dict(
    videos_per_gpu={batch},
    workers_per_gpu={workers},
    test_dataloader=dict(videos_per_gpu=4),
    train=dict(type='PoseDataset', ann_file=ann_file, pipeline=train_pipeline, split='{train_split}'{train_extra}),
    val=dict(type='PoseDataset', ann_file=ann_file, pipeline=test_pipeline, split='xsub_val'),
    test=dict(type='PoseDataset', ann_file=ann_file, pipeline=test_pipeline, split='xsub_val'))
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0005, nesterov=True)
optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
lr_config = dict(policy='CosineAnnealing', min_lr=0, by_epoch=False)
total_epochs = {epochs}
checkpoint_config = dict(interval=1)
evaluation = dict(interval=1, metrics=['top_k_accuracy', 'mean_class_accuracy'], topk=(1, 2))
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')])
log_level = 'INFO'
{extra}
"""


def write_tiny_data(path: Path, samples_per_class: int = 4, num_classes: int = 3) -> Path:
    from pyskl.datasets.synthetic import write_synthetic

    # 3 subjects: subject 3 is xsub_val -> 2/3 of the samples train, 1/3 validate.
    return write_synthetic(path, kind="ntu3d", num_classes=num_classes, num_subjects=3,
                           samples_per_class=samples_per_class, frames=(16, 24), seed=0, second_person=0.3)


def write_tiny_config(folder: Path, ann_file: Path, name: str = "tiny.py", num_classes: int = 3, batch: int = 4,
                      workers: int = 0, epochs: int = 2, train_split: str = "xsub_train", train_extra: str = "",
                      extra: str = "") -> Path:
    path = Path(folder) / name
    path.write_text(TINY_CONFIG.format(num_classes=num_classes, ann_file=ann_file, batch=batch, workers=workers,
                                       epochs=epochs, train_split=train_split, train_extra=train_extra, extra=extra))
    return path
