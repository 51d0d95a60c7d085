"""Every registered backbone: forward + backward on a tiny input, all parameters get gradients, no NaN.

Backbones are discovered from MODELS (classes defined under ``pyskl.models.gcns`` / ``pyskl.models.cnns``),
so models registered later are picked up automatically. Constructor kwargs are the PYSKL config values
where a model needs some (``SPECS``); an unknown GCN (one taking ``graph_cfg``) gets a COCO graph, an
unknown 3D-CNN ``in_channels=17``.
"""
from __future__ import annotations

import inspect

import pytest
import torch

from pyskl.models import MODELS, build_model

COCO = dict(layout="coco", mode="spatial")
MS_CFG = [(3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"]
# name -> (constructor kwargs, input kind)
SMALL = dict(base_channels=16, num_stages=4, inflate_stages=[3], down_stages=[3])
SPECS: dict[str, tuple[dict, str]] = {
    "STGCN": (dict(graph_cfg=COCO, **SMALL), "gcn"),
    "AAGCN": (dict(graph_cfg=COCO, **SMALL), "gcn"),
    "CTRGCN": (dict(graph_cfg=COCO, **SMALL), "gcn"),
    "MSG3D": (dict(graph_cfg=dict(layout="coco", mode="binary_adj"), base_channels=24), "gcn"),
    "DGSTGCN": (dict(gcn_ratio=0.125, gcn_ctr="T", gcn_ada="T", tcn_ms_cfg=MS_CFG, **SMALL,
                     graph_cfg=dict(layout="coco", mode="random", num_filter=8, init_off=0.04,
                                    init_std=0.02)), "gcn"),
    "SGN": (dict(in_channels=3, num_joints=17, T=8, base_channels=16), "gcn"),
    "ProtoGCN": (dict(graph_cfg=dict(layout="coco", mode="random", num_filter=8), num_prototype=8, **SMALL),
                 "gcn"),
    "ResNet3d": (dict(in_channels=17, base_channels=8, num_stages=3, out_indices=[2], stage_blocks=[1, 1, 1],
                      conv1_kernel=[1, 7, 7], conv1_stride=[1, 1], pool1_stride=[1, 1], inflate=[0, 1, 1],
                      spatial_strides=[2, 2, 2], temporal_strides=[1, 1, 2]), "3d"),
    "ResNet3dSlowOnly": (dict(in_channels=17, base_channels=8, num_stages=3, out_indices=[2],
                              stage_blocks=[1, 1, 1], conv1_stride=[1, 1], pool1_stride=[1, 1],
                              inflate=[0, 1, 1], spatial_strides=[2, 2, 2],
                              temporal_strides=[1, 1, 2]), "3d"),
    "C3D": (dict(in_channels=17, base_channels=8, num_stages=3, temporal_downsample=False), "3d"),
    "X3D": (dict(gamma_d=1, in_channels=17, base_channels=8, num_stages=3, se_ratio=None, use_swish=False,
                 stage_blocks=[1, 1, 1], spatial_strides=[2, 2, 2]), "3d"),
}
SKIP = {"RGBPoseConv3D": "two-stream backbone (RGB + pose inputs); covered by its own tests"}


def _backbones() -> list[str]:
    names = []
    for name in sorted(MODELS):
        obj = MODELS.get(name)
        module = getattr(obj, "__module__", "")
        if inspect.isclass(obj) and module.startswith(("pyskl.models.gcns", "pyskl.models.cnns")):
            names.append(name)
    return names


def _spec(name: str) -> tuple[dict, str]:
    if name in SPECS:
        return SPECS[name]
    params = inspect.signature(MODELS.get(name)).parameters
    if "graph_cfg" in params:
        return dict(graph_cfg=COCO), "gcn"
    if "in_channels" in params:
        return dict(in_channels=17), "3d"
    pytest.skip(f"{name}: no tiny input spec known; add one to SPECS")


def _outputs(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _outputs(item)]


@pytest.mark.parametrize("name", _backbones())
def test_backbone_forward_backward(name):
    if name in SKIP:
        pytest.skip(SKIP[name])
    kwargs, kind = _spec(name)
    torch.manual_seed(0)
    model = build_model(dict(type=name, **kwargs)).train()
    if kind == "gcn":
        x = torch.randn(2, 2, kwargs.get("T", 8), 17, kwargs.get("in_channels", 3))  # N, M, T, V, C
    else:
        x = torch.randn(2, 17, 4, 16, 16)  # N, C, T, H, W
    outs = _outputs(model(x))
    assert outs and all(torch.isfinite(o).all() for o in outs), f"{name}: non-finite output"
    sum(o.float().square().mean() for o in outs).backward()
    no_grad = [k for k, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"{name}: parameters without gradient: {no_grad[:10]}"
    bad = [k for k, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"{name}: non-finite gradients in {bad[:10]}"


def test_registry_has_pyskl_names():
    for name in ("RecognizerGCN", "Recognizer3D", "STGCN", "GCNHead", "I3DHead", "CrossEntropyLoss"):
        assert name in MODELS
    with pytest.raises(KeyError, match="did you mean"):
        MODELS.get("STGNC")
