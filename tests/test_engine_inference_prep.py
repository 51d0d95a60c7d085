"""`prepare_for_inference`: BN folding and a compiled backbone give the scores of the plain model."""
from __future__ import annotations

import copy

import pytest
import torch
from gcn_backbone_checks import randomize_norms

from pyskl.engine.test import prepare_for_inference
from pyskl.models import build_model

TINY_STGCNPP = dict(
    type="RecognizerGCN",
    backbone=dict(type="STGCN", graph_cfg=dict(layout="coco", mode="spatial"), gcn_adaptive="init",
                  gcn_with_res=True, tcn_type="mstcn", base_channels=16, num_stages=4, inflate_stages=[3],
                  down_stages=[3]),
    cls_head=dict(type="GCNHead", num_classes=5, in_channels=32),
)


def _trained_looking_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize_norms(build_model(TINY_STGCNPP)).eval()  # non-trivial BNs: folding has work to do


def test_folded_model_gives_the_same_scores():
    model = _trained_looking_model()
    x = torch.randn(3, 2, 2, 16, 17, 3)
    with torch.no_grad():
        want = model.predict(x)
        folded = prepare_for_inference(copy.deepcopy(model))
        got = folded.predict(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert len(folded.state_dict()) < len(model.state_dict())  # the BNs are gone
    unfolded = prepare_for_inference(copy.deepcopy(model), fuse_bn=False)
    assert unfolded.state_dict().keys() == model.state_dict().keys()


@pytest.mark.slow
def test_compiled_backbone_is_used_by_predict():
    model = _trained_looking_model()
    x = torch.randn(2, 1, 2, 16, 17, 3)
    with torch.no_grad():
        want = model.predict(x)
        compiled = prepare_for_inference(copy.deepcopy(model), compile_=True)
        got = compiled.predict(x)
    # GCN inference calls the backbone's forward_persons directly: that is what gets compiled
    assert hasattr(compiled.backbone.forward_persons, "_torchdynamo_orig_callable")
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
