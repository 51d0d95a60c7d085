# ST-GCN++, joint modality, 3D skeletons: PYSKL's NTU-60 XSub recipe
# (configs/stgcn++/stgcn++_ntu60_xsub_3dkp/j.py) on ONE GPU at PYSKL's global batch.
# PYSKL trains on 8 GPUs x 16 clips = 128 clips per step at lr 0.1. Linear LR scaling,
# lr = 0.1 x (videos_per_gpu x GPUs) / 128, gives lr 0.1 for 128 clips on one GPU: the same
# optimisation as PYSKL's, step for step. The train pipeline runs on the GPU (data.device_pipeline,
# samples held as float16). Run it with mixed precision and a compiled model:
#   pyskl train configs/fast_gpu/stgcnpp_ntu60_xsub_3dkp_j.py --amp bf16 --compile --validate

model = dict(
    type='RecognizerGCN',
    backbone=dict(
        type='STGCN',
        gcn_adaptive='init',
        gcn_with_res=True,
        tcn_type='mstcn',
        graph_cfg=dict(layout='nturgb+d', mode='spatial')),
    cls_head=dict(type='GCNHead', num_classes=60, in_channels=256))

dataset_type = 'PoseDataset'
ann_file = 'data/nturgbd/ntu60_3danno.pkl'
train_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSample', clip_len=100),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint']),
]
val_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSample', clip_len=100, num_clips=1),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint']),
]
test_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSample', clip_len=100, num_clips=10),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint']),
]
data = dict(
    videos_per_gpu=128,  # 8 GPUs x 16 of PYSKL's recipe, on one GPU
    workers_per_gpu=2,  # validation/test loaders (numpy pipelines)
    device_pipeline=dict(storage='float16'),
    train_dataloader=dict(drop_last=True),  # static shapes (CUDA graphs: --compile-mode reduce-overhead)
    test_dataloader=dict(videos_per_gpu=16),
    train=dict(
        type='RepeatDataset',
        times=5,
        dataset=dict(type=dataset_type, ann_file=ann_file, split='xsub_train', pipeline=train_pipeline)),
    val=dict(type=dataset_type, ann_file=ann_file, split='xsub_val', pipeline=val_pipeline),
    test=dict(type=dataset_type, ann_file=ann_file, split='xsub_val', pipeline=test_pipeline))

# optimizer
optimizer = dict(type='SGD', lr=0.1 * 128 / 128, momentum=0.9, weight_decay=0.0005, nesterov=True)
optimizer_config = dict(grad_clip=None)
# learning policy
lr_config = dict(policy='CosineAnnealing', min_lr=0, by_epoch=False)
total_epochs = 16
checkpoint_config = dict(interval=1)
evaluation = dict(interval=1, metrics=['top_k_accuracy'])
log_config = dict(interval=100, hooks=[dict(type='TextLoggerHook')])

# runtime settings
log_level = 'INFO'
work_dir = './work_dirs/fast_gpu/stgcnpp_ntu60_xsub_3dkp_j'
