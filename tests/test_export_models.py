"""Export parity: every registered GCN and PoseC3D model -> ONNX (onnxruntime) and TorchScript.

Tiny channel configs keep it fast; outputs must match PyTorch within 1e-4 on random inputs, at the
export shape and at a second shape varying batch, clips and frames (dynamic axes).
"""

import numpy as np
import pytest
import torch

from pyskl.analysis.inputs import InputSpec
from pyskl.export import ExportWrapper, export_model, export_onnx, max_abs_diff, onnx_runner
from pyskl.models import build_model, list_models
from pyskl.registry import MODELS

NTU = dict(layout="nturgb+d", mode="spatial")
# backbone cfgs, shrunk (channels, stages, blocks) but exercising each family's code paths
GCN_CASES = {
    "STGCN": dict(
        type="STGCN",
        graph_cfg=dict(layout="coco", mode="stgcn_spatial"),
        base_channels=8,
        num_stages=3,
        inflate_stages=[3],
        down_stages=[3],
        gcn_adaptive="importance",
    ),
    "STGCN++": dict(
        type="STGCN",
        graph_cfg=NTU,
        base_channels=8,
        num_stages=3,
        inflate_stages=[3],
        down_stages=[3],
        gcn_adaptive="init",
        gcn_with_res=True,
        tcn_type="mstcn",
    ),
    "AAGCN": dict(
        type="AAGCN", graph_cfg=NTU, base_channels=8, num_stages=3, inflate_stages=[3], down_stages=[3]
    ),
    "CTRGCN": dict(
        type="CTRGCN", graph_cfg=NTU, base_channels=8, num_stages=3, inflate_stages=[3], down_stages=[3]
    ),
    "MSG3D": dict(
        type="MSG3D",
        graph_cfg=dict(layout="nturgb+d", mode="binary_adj"),
        base_channels=12,
        num_gcn_scales=3,
        num_g3d_scales=2,
    ),
    "DGSTGCN": dict(
        type="DGSTGCN",
        graph_cfg=dict(layout="nturgb+d", mode="random", num_filter=8, init_off=0.04, init_std=0.02),
        base_channels=8,
        num_stages=3,
        inflate_stages=[3],
        down_stages=[3],
        gcn_ratio=0.125,
        gcn_ctr="T",
        gcn_ada="T",
        tcn_ms_cfg=[(3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"],
    ),
    "SGN": dict(type="SGN", in_channels=3, base_channels=8, num_joints=25, T=12),
    "ProtoGCN": dict(
        type="ProtoGCN",
        graph_cfg=dict(layout="nturgb+d", mode="random", num_filter=8, init_off=0.04, init_std=0.02),
        base_channels=16,
        num_stages=3,
        inflate_stages=[3],
        down_stages=[3],
        num_prototype=8,
    ),
}
CNN_CASES = {
    "ResNet3dSlowOnly": dict(
        type="ResNet3dSlowOnly",
        in_channels=17,
        base_channels=8,
        num_stages=3,
        out_indices=(2,),
        stage_blocks=(1, 1, 1),
        conv1_stride=(1, 1),
        pool1_stride=(1, 1),
        inflate=(0, 1, 1),
        spatial_strides=(2, 2, 2),
        temporal_strides=(1, 1, 2),
    ),
    "ResNet3d": dict(
        type="ResNet3d",
        depth=18,
        in_channels=17,
        base_channels=8,
        num_stages=2,
        out_indices=(1,),
        stage_blocks=(1, 1),
        spatial_strides=(1, 2),
        temporal_strides=(1, 2),
        inflate_style="3x3x3",
    ),
    "C3D": dict(type="C3D", in_channels=17, base_channels=8, num_stages=3, temporal_downsample=False),
    "X3D": dict(
        type="X3D",
        gamma_d=1,
        in_channels=17,
        base_channels=8,
        num_stages=3,
        stage_blocks=(1, 1, 1),
        spatial_strides=(2, 2, 2),
    ),
}
CASES = {**{k: ("gcn", v) for k, v in GCN_CASES.items()}, **{k: ("3d", v) for k, v in CNN_CASES.items()}}
SPEC = {
    "gcn": InputSpec("gcn", (1, 1, 2, 12, 25, 3), {0: "batch", 1: "clips", 3: "frames"}),
    "3d": InputSpec(
        "3d", (1, 1, 17, 8, 24, 24), {0: "batch", 1: "clips", 3: "frames", 4: "height", 5: "width"}
    ),
}
TOL = 1e-4


def _spec(name):
    kind, bb = CASES[name]
    spec = SPEC[kind]
    if bb["type"] == "SGN":  # frames fixed at construction
        return InputSpec("gcn", (1, 1, 2, bb["T"], 25, 3), {0: "batch", 1: "clips"})
    if bb.get("graph_cfg", {}).get("layout") == "coco":
        return InputSpec("gcn", (1, 1, 2, 12, 17, 3), spec.dynamic)
    return spec


def _randomise(model):
    """Non-trivial BN statistics/affine so every path shows in the outputs."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2, generator=g)
            m.running_var.uniform_(0.7, 1.4, generator=g)
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.3, 0.3, generator=g)
    return model.eval()


def build_case(name):
    kind, bb = CASES[name]
    torch.manual_seed(0)
    np.random.seed(0)
    spec = _spec(name)
    backbone = build_model(bb).eval()
    with torch.no_grad():
        feat = backbone(torch.zeros(spec.shape[1:]))  # one clip as the batch
    if isinstance(feat, tuple):  # ProtoGCN: (features, reconstructed graph for its training loss)
        feat = feat[0]
    channels = feat.shape[2] if kind == "gcn" else feat.shape[1]
    head = dict(type="GCNHead" if kind == "gcn" else "I3DHead", num_classes=5, in_channels=int(channels))
    rec = dict(type="RecognizerGCN" if kind == "gcn" else "Recognizer3D", backbone=bb, cls_head=head)
    torch.manual_seed(0)
    np.random.seed(0)
    return _randomise(build_model(rec)), spec


def test_every_registered_backbone_has_a_case():
    backbones = {
        n
        for n in list_models()
        if MODELS.get(n).__module__.startswith(("pyskl.models.gcns", "pyskl.models.cnns"))
    }
    covered = {bb["type"] for _, bb in CASES.values()} | {"RGBPoseConv3D"}
    assert backbones <= covered, f"add an export case for {sorted(backbones - covered)}"


def test_wrapper_matches_predict():
    model, spec = build_case("STGCN++")
    x = torch.randn(2, 3, *spec.shape[2:])
    with torch.no_grad():
        np.testing.assert_allclose(ExportWrapper(model)(x).numpy(), model.predict(x).numpy(), atol=1e-6)
        np.testing.assert_allclose(ExportWrapper(model, None)(x).numpy(), model(x).numpy(), atol=1e-6)


SLOW = {"MSG3D", "DGSTGCN", "X3D", "AAGCN", "STGCN", "ResNet3d"}  # the default run keeps one per code family


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CASES])
def test_onnx_parity(name, tmp_path):
    pytest.importorskip("onnxruntime")
    model, spec = build_case(name)
    res = export_model(model, spec, "onnx", tmp_path / f"{name}.onnx", average=None)
    assert len(res.diffs) == 2 and not res.note  # export shape + a shape varying every dynamic axis
    ref = max(1.0, _max_logit(model, spec))
    assert res.max_diff <= TOL * ref, res.diffs


def test_onnx_parity_of_clip_averaged_probabilities(tmp_path):
    pytest.importorskip("onnxruntime")
    model, spec = build_case("STGCN++")
    res = export_model(model, spec, "onnx", tmp_path / "prob.onnx", average="prob")
    assert res.max_diff <= TOL and res.output == "scores" and res.diffs[1][0][:2] == (3, 2)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CASES])
def test_torchscript_parity(name, tmp_path):
    model, spec = build_case(name)
    res = export_model(model, spec, "torchscript", tmp_path / f"{name}.pt", average=None)
    ref = max(1.0, _max_logit(model, spec))
    assert res.max_diff <= TOL * ref, res.diffs
    assert len(res.diffs) == 2


def _max_logit(model, spec):
    with torch.no_grad():
        return float(model(torch.randn(2, 1, *spec.shape[2:])).abs().max())


def test_window_max_pool_equals_adaptive_max_pool():
    from pyskl.export.rewrite import WindowMaxPool2d

    x = torch.randn(3, 4, 13, 5)
    for out in [(20, 1), (4, 3), (13, 5), (1, 2)]:
        ref = torch.nn.AdaptiveMaxPool2d(out)(x)
        torch.testing.assert_close(WindowMaxPool2d((13, 5), out)(x), ref, rtol=0, atol=0)


@pytest.mark.slow
def test_rgbpose_backbone_onnx_parity(tmp_path):
    pytest.importorskip("onnxruntime")
    rgb = dict(
        num_stages=4,
        lateral=True,
        lateral_infl=1,
        lateral_activate=(0, 0, 1, 1),
        base_channels=8,
        stage_blocks=(1, 1, 1, 1),
        conv1_kernel=(1, 7, 7),
        inflate=(0, 0, 1, 1),
    )
    pose = dict(
        num_stages=3,
        stage_blocks=(1, 1, 1),
        lateral=True,
        lateral_inv=True,
        lateral_infl=16,
        lateral_activate=(0, 1, 1),
        in_channels=17,
        base_channels=4,
        out_indices=(2,),
        conv1_kernel=(1, 7, 7),
        conv1_stride=(1, 1),
        pool1_stride=(1, 1),
        inflate=(0, 1, 1),
        spatial_strides=(2, 2, 2),
        temporal_strides=(1, 1, 1),
    )
    torch.manual_seed(0)
    net = _randomise(build_model(dict(type="RGBPoseConv3D", rgb_pathway=rgb, pose_pathway=pose)))
    rng = np.random.default_rng(0)
    imgs = rng.random((1, 3, 8, 64, 64), dtype=np.float32)
    heat = rng.random((1, 17, 32, 16, 16), dtype=np.float32)
    path = export_onnx(
        net,
        [torch.as_tensor(imgs), torch.as_tensor(heat)],
        tmp_path / "rgbpose.onnx",
        ["imgs", "heatmap_imgs"],
        ["rgb_feat", "pose_feat"],
        {"imgs": {0: "batch"}, "heatmap_imgs": {0: "batch"}},
    )
    run = onnx_runner(path)
    assert max_abs_diff(net, run, [imgs, heat]) <= TOL * 10
    imgs2, heat2 = np.concatenate([imgs, imgs[:, :, ::-1]]), np.concatenate([heat, heat * 0.5])
    assert max_abs_diff(net, run, [imgs2, heat2]) <= TOL * 10
