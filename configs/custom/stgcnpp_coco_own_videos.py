# A small ST-GCN++ (joint stream) for your own videos: COCO-17 2D skeletons from `pyskl extract`, the
# `train`/`val` splits that `pyskl extract --val-fraction` writes, and a head sized by the data
# (`pyskl train ... --ann-file my.pkl` sets the file and the class count). Four stages of 16-32
# channels and 32-frame clips: it trains in minutes on a CPU on a few dozen videos. For thousands of
# videos, PYSKL's full recipe is configs/stgcn++/stgcn++_ntu60_xsub_hrnet/j.py.
model = dict(
    type='RecognizerGCN',
    backbone=dict(
        type='STGCN',
        gcn_adaptive='init',
        gcn_with_res=True,
        tcn_type='mstcn',
        base_channels=16,
        num_stages=4,
        inflate_stages=[3],
        down_stages=[3],
        graph_cfg=dict(layout='coco', mode='spatial')),
    cls_head=dict(type='GCNHead', num_classes=2, in_channels=32))

dataset_type = 'PoseDataset'
ann_file = 'my_skeletons.pkl'
clip_len = 32
train_pipeline = [
    dict(type='PreNormalize2D'),
    dict(type='GenSkeFeat', dataset='coco', feats=['j']),
    dict(type='UniformSample', clip_len=clip_len),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint']),
]
test_pipeline = [
    dict(type='PreNormalize2D'),
    dict(type='GenSkeFeat', dataset='coco', feats=['j']),
    dict(type='UniformSample', clip_len=clip_len, num_clips=5),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint']),
]
data = dict(
    videos_per_gpu=8,
    workers_per_gpu=0,
    test_dataloader=dict(videos_per_gpu=8),
    train=dict(
        type='RepeatDataset',
        times=10,
        dataset=dict(type=dataset_type, ann_file=ann_file, split='train', pipeline=train_pipeline)),
    val=dict(type=dataset_type, ann_file=ann_file, split='val', pipeline=test_pipeline),
    test=dict(type=dataset_type, ann_file=ann_file, split='val', pipeline=test_pipeline))

optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0005, nesterov=True)
optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
lr_config = dict(policy='CosineAnnealing', min_lr=0, by_epoch=False)
total_epochs = 8
checkpoint_config = dict(interval=1)
evaluation = dict(interval=1, metrics=['top_k_accuracy', 'mean_class_accuracy'], topk=(1,))
log_config = dict(interval=10, hooks=[dict(type='TextLoggerHook')])
log_level = 'INFO'
work_dir = './work_dirs/my_actions'
