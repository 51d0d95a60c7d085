# A small RGBPoseConv3D (same two pathways and laterals, 1 block per stage, 1/8 of the channels) on the
# synthetic RGB+pose set, sized to train and test in a few minutes on 2 CPU cores. Make the data first:
#   pyskl data synth --kind rgbpose --out data/synthetic/rgbpose.pkl --video-dir data/synthetic/rgbpose_videos
# RGB: 4 frames of 80x80 person crops; pose: 16 frames of 20x20 heatmaps (speed ratio 4, scaling 0.25).
# No Flip: two synthetic classes (raise left then right arm, and its mirror) differ only by side.
# The full-size recipe for real data is configs/rgbpose_conv3d/rgbpose_conv3d.py.
model = dict(
    type='MMRecognizer3D',
    backbone=dict(
        type='RGBPoseConv3D',
        speed_ratio=4,
        channel_ratio=4,
        rgb_pathway=dict(num_stages=4, stage_blocks=(1, 1, 1, 1), lateral=True, lateral_infl=1,
                         lateral_activate=(0, 0, 1, 1), base_channels=8, conv1_kernel=(1, 7, 7),
                         inflate=(0, 0, 1, 1)),
        pose_pathway=dict(num_stages=3, stage_blocks=(1, 1, 1), lateral=True, lateral_inv=True,
                          lateral_infl=16, lateral_activate=(0, 1, 1), in_channels=17, base_channels=4, out_indices=(2, ),
                          conv1_kernel=(1, 7, 7), conv1_stride=(1, 1), pool1_stride=(1, 1), inflate=(0, 1, 1),
                          spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 1))),
    cls_head=dict(type='RGBPoseHead', num_classes=10, in_channels=[256, 64], loss_components=['rgb', 'pose'],
                  loss_weights=[1., 1.]),
    test_cfg=dict(average_clips='prob', stream='RGBPose_1:1'))  # stream: 'rgb', 'pose' or a fusion

dataset_type = 'PoseDataset'
data_root = 'data/synthetic/rgbpose_videos/'
ann_file = 'data/synthetic/rgbpose.pkl'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
clip_len = dict(RGB=4, Pose=16)
heatmap_cfg = dict(type='GeneratePoseTarget', sigma=0.7, use_score=True, with_kp=True, with_limb=False,
                   scaling=0.25)
train_pipeline = [
    dict(type='MMUniformSampleFrames', clip_len=clip_len, num_clips=1),
    dict(type='MMDecode'),
    dict(type='MMCompact', hw_ratio=1., allow_imgpad=True),
    dict(type='Resize', scale=(92, 92), keep_ratio=False),
    dict(type='RandomResizedCrop', area_range=(0.56, 1.0)),
    dict(type='Resize', scale=(80, 80), keep_ratio=False),
    heatmap_cfg,
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='Collect', keys=['imgs', 'heatmap_imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'heatmap_imgs', 'label'])
]
test_pipeline = [
    dict(type='MMUniformSampleFrames', clip_len=clip_len, num_clips=2),
    dict(type='MMDecode'),
    dict(type='MMCompact', hw_ratio=1., allow_imgpad=True),
    dict(type='Resize', scale=(80, 80), keep_ratio=False),
    heatmap_cfg,
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='Collect', keys=['imgs', 'heatmap_imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'heatmap_imgs', 'label'])
]
data = dict(
    videos_per_gpu=16,
    workers_per_gpu=1,
    test_dataloader=dict(videos_per_gpu=8),
    train=dict(type='RepeatDataset', times=2,
               dataset=dict(type=dataset_type, ann_file=ann_file, split='xsub_train', data_prefix=data_root,
                            pipeline=train_pipeline)),
    val=dict(type=dataset_type, ann_file=ann_file, split='xsub_val', data_prefix=data_root,
             pipeline=test_pipeline),
    test=dict(type=dataset_type, ann_file=ann_file, split='xsub_val', data_prefix=data_root,
              pipeline=test_pipeline))
# optimizer: PYSKL's recipe (SGD, clip 40) with the lr raised for training from scratch
optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0003)
optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
lr_config = dict(policy='CosineAnnealing', by_epoch=False, min_lr=0)
total_epochs = 12
checkpoint_config = dict(interval=1)
evaluation = dict(interval=1, metrics=['top_k_accuracy', 'mean_class_accuracy'], topk=(1, 5))
log_config = dict(interval=10, hooks=[dict(type='TextLoggerHook')])
log_level = 'INFO'
work_dir = './work_dirs/rgbpose_conv3d/rgbpose_synthetic'
