"""ProtoGCN's train step on a CUDA device gives the CPU's loss and gradients (run with ``-m gpu``)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from pyskl.models import build_model

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CFG = dict(
    type="RecognizerGCN",
    backbone=dict(type="ProtoGCN", num_prototype=40, graph_cfg=dict(layout="nturgb+d", mode="random",
                                                                   num_filter=8)),
    cls_head=dict(type="SimpleHead", joint_cfg="nturgb+d", num_classes=10, in_channels=384, weight=0.2))


def _step(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor) -> tuple[float, dict]:
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.eval()
    losses = model.loss(model(x), label)
    losses["loss_cls"].backward()
    grads = {k: p.grad.detach().double().cpu() for k, p in model.named_parameters() if p.grad is not None}
    return float(losses["loss_cls"].detach()), grads


@pytest.fixture
def no_tf32():
    """Full float32 on the GPU (cuDNN convs default to TF32, a 10-bit mantissa)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_train_step_on_cuda_matches_cpu_float64(no_tf32):
    torch.manual_seed(0)
    np.random.seed(0)
    model = build_model(CFG)
    with torch.no_grad():  # away from the zero init so the topology terms carry gradient
        for name, p in model.named_parameters():
            if name.endswith(("alpha", "beta", "add_coeff")):
                p.uniform_(-0.1, 0.1)
    x = torch.randn(4, 1, 2, 32, 25, 3)
    label = torch.tensor([1, 2, 3, 4])
    loss64, g64 = _step(copy.deepcopy(model).double(), x.double(), label)
    loss32, g32 = _step(copy.deepcopy(model), x, label)
    loss_cuda, g_cuda = _step(copy.deepcopy(model).cuda(), x.cuda(), label.cuda())
    # the CUDA result is as close to float64 as the CPU's float32 one, within 4x (plus a floor). Gradients
    # compare as one vector: single cancellation-prone entries (conv biases before a train-mode BN) change
    # with the summation order even between CPU thread counts.
    assert abs(loss_cuda - loss64) <= 4 * abs(loss32 - loss64) + 1e-5
    ref = torch.cat([g.flatten() for g in g64.values()])
    cpu = torch.cat([g32[k].flatten() for k in g64])
    cuda = torch.cat([g_cuda[k].flatten() for k in g64])
    assert float((cuda - ref).norm()) <= 4 * float((cpu - ref).norm()) + 1e-5 * float(ref.norm())
