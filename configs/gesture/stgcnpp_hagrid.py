# ST-GCN++ hand-gesture model for `pyskl gesture` (PYSKL's real-time gesture demo config, as facts).
# Weights: PYSKL's hagrid.pth (trained by PYSKL's authors on mediapipe Hands keypoints: 21 joints,
# layout 'handmp', 2D, no score channel). Classes: 27 Jester dynamic gestures + 13 HaGRID static ones;
# the names are in pyskl/commands/gesture.py (GESTURE_CLASSES).
# Input: one hand, the last up to 10 frames of mediapipe's normalised landmark coordinates (x, y in [0, 1]).
# PreNormalize2D in 'auto' mode only rescales when the keypoint range exceeds 10, so [0, 1] coordinates
# pass through unchanged, as the model expects.
model = dict(
    type='RecognizerGCN',
    backbone=dict(
        type='STGCN',
        in_channels=2,
        gcn_adaptive='init',
        gcn_with_res=True,
        tcn_type='mstcn',
        num_stages=6,
        down_stages=[6],
        inflate_stages=[6],
        graph_cfg=dict(layout='handmp', mode='spatial')),
    cls_head=dict(type='GCNHead', num_classes=40, in_channels=128))

test_pipeline = [
    dict(type='PreNormalize2D', threshold=0, mode='auto'),
    dict(type='GenSkeFeat', dataset='handmp', feats=['j']),
    dict(type='UniformSample', clip_len=10, num_clips=1),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=1),
    dict(type='Collect', keys=['keypoint'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint'])
]
data = dict(test=dict(type='PoseDataset', ann_file='', pipeline=test_pipeline))
