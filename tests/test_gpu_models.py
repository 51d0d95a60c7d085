"""On a CUDA device the GCN and PoseC3D models, ``deploy.prepare`` (BN folding), mixed precision and the
training engine give the CPU's results (run with ``-m gpu``; skipped without CUDA)."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine_tiny import write_tiny_config, write_tiny_data
from pyskl.config import load_config
from pyskl.engine import TrainOptions, load_results, train
from pyskl.engine.test import prepare_for_inference
from pyskl.models import build_model

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

ROOT = Path(__file__).resolve().parents[1]
NTU = dict(layout="nturgb+d", mode="spatial")
BACKBONES = {
    "stgcn": dict(type="STGCN", graph_cfg=dict(layout="nturgb+d", mode="stgcn_spatial")),
    "stgcnpp": dict(type="STGCN", gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn", graph_cfg=NTU),
    "aagcn": dict(type="AAGCN", graph_cfg=NTU),
    "ctrgcn": dict(type="CTRGCN", graph_cfg=NTU),
    "msg3d": dict(type="MSG3D", graph_cfg=dict(layout="nturgb+d", mode="binary_adj")),
    "dgstgcn": dict(type="DGSTGCN", graph_cfg=dict(layout="nturgb+d", mode="random", num_filter=8,
                                                   init_off=0.04, init_std=0.02)),
}
HEAD_CHANNELS = {"msg3d": 384}
# small PoseC3D backbones on 17-channel keypoint heatmaps [N, clips, 17, T, H, W]
CNN_BACKBONES = {
    "slowonly": dict(type="ResNet3dSlowOnly", in_channels=17, base_channels=16, num_stages=3,
                     out_indices=(2,), stage_blocks=(2, 2, 2), conv1_stride=(1, 1), pool1_stride=(1, 1),
                     inflate=(0, 1, 1), spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 2)),
    "c3d": dict(type="C3D", in_channels=17, base_channels=16, num_stages=3, temporal_downsample=False),
    "x3d": dict(type="X3D", gamma_d=1, in_channels=17, base_channels=16, num_stages=3, se_ratio=0.0625,
                stage_blocks=(1, 2, 1), spatial_strides=(2, 2, 2)),
}
# float32 on both devices with TF32 off; CUDA kernels sum in other orders than oneDNN/MKL.
RTOL, ATOL = 1e-4, 1e-4
GRAD_RTOL, GRAD_ATOL = 1e-6, 1e-9  # float64


@pytest.fixture(autouse=True)
def _no_tf32():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(dict(type="RecognizerGCN", backbone=BACKBONES[name],
                            cls_head=dict(type="GCNHead", num_classes=10,
                                          in_channels=HEAD_CHANNELS.get(name, 256))))


def _randomize_norms(model: torch.nn.Module) -> None:
    """Non-trivial BN statistics, so folding them is actually checked."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def _input(batch: int = 2, frames: int = 32) -> torch.Tensor:
    return torch.randn(batch, 1, 2, frames, 25, 3, generator=torch.Generator().manual_seed(2))


def _assert_cuda_scores_equal_cpu(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """CPU scores of eval-mode ``model`` on ``x``, checked against a CUDA copy's."""
    with torch.no_grad():
        want = model.predict(x)
        got = copy.deepcopy(model).cuda().predict(x.cuda()).cpu()
    torch.testing.assert_close(got, want, rtol=RTOL, atol=ATOL)
    return want


def _assert_cuda_grads_equal_cpu(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor) -> None:
    """One float64 training loss's gradients on the CPU and on a CUDA copy.

    float64 on both devices: train-mode BN backward cancels terms, so float32 rounding alone moves the
    deepest gradients by more than any useful tolerance; in float64 only a formulation bug shows.
    """
    model, x = model.double().train(), x.double()
    gpu = copy.deepcopy(model).cuda()
    loss_cpu = model.loss(model(x), label)["loss_cls"]
    loss_cpu.backward()
    loss_gpu = gpu.loss(gpu(x.cuda()), label.cuda())["loss_cls"]
    loss_gpu.backward()
    torch.testing.assert_close(loss_gpu.cpu(), loss_cpu, rtol=1e-9, atol=1e-9)
    grads_gpu = dict(gpu.named_parameters())
    for key, param in model.named_parameters():
        if param.grad is None:
            assert grads_gpu[key].grad is None, key
            continue
        torch.testing.assert_close(grads_gpu[key].grad.cpu(), param.grad, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                                   msg=lambda m, key=key: f"{key}: {m}")


@pytest.mark.parametrize("name", list(BACKBONES))
def test_eval_scores_on_cuda_equal_cpu_plain_and_folded(name):
    model = _build(name).eval()
    _randomize_norms(model)
    x = _input()
    want = _assert_cuda_scores_equal_cpu(model, x)
    with torch.no_grad():
        folded = prepare_for_inference(copy.deepcopy(model).cuda()).predict(x.cuda()).cpu()
    torch.testing.assert_close(folded, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_train_step_gradients_on_cuda_equal_cpu(name):
    _assert_cuda_grads_equal_cpu(_build(name), _input(batch=4), torch.tensor([[1], [3], [5], [7]]))


@pytest.mark.parametrize("amp", ["fp16", "bf16"])
@pytest.mark.parametrize("name", ["stgcnpp", "ctrgcn", "msg3d"])
def test_mixed_precision_train_step_runs_and_tracks_fp32(name, amp):
    model = _build(name).cuda().train()
    x, label = _input(batch=4).cuda(), torch.tensor([[1], [3], [5], [7]]).cuda()
    want = model.loss(model(x), label)["loss_cls"].item()
    dtype = torch.float16 if amp == "fp16" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    with torch.autocast("cuda", dtype=dtype):  # the forward under autocast, the loss in fp32 (as the engine)
        logits = model(x)
    assert logits.dtype == dtype
    loss = model.loss(logits.float(), label)["loss_cls"]
    scaler.scale(loss).backward()
    assert torch.isfinite(loss) and abs(loss.item() - want) < 0.05 * max(abs(want), 1.0)
    for key, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), key


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_gpu")
    return folder, write_tiny_data(folder / "tiny.pkl")


@pytest.mark.parametrize("amp", [None, "fp16"])
def test_engine_trains_and_tests_on_cuda_like_cpu(tiny, tmp_path, amp):
    _, ann = tiny
    cfg = write_tiny_config(tmp_path, ann, train_extra=", test_mode=True")
    runs = {}
    for device in ("cpu", "cuda"):
        wd = tmp_path / f"wd_{device}"
        runs[device] = train(load_config(cfg), TrainOptions(
            work_dir=str(wd), seed=0, device=device, test_last=True, amp=amp if device == "cuda" else None))
    assert set(runs["cuda"]["test_last"]) == set(runs["cpu"]["test_last"])
    ckpt = torch.load(tmp_path / "wd_cuda" / "latest.pth", map_location="cpu", weights_only=True)
    assert all(v.device.type == "cpu" for v in ckpt["state_dict"].values())
    if amp is None:  # same data, same seed, fp32 on both: the same weights up to rounding
        want = torch.load(tmp_path / "wd_cpu" / "latest.pth", weights_only=True)["state_dict"]
        for key, value in want.items():
            if value.is_floating_point():
                torch.testing.assert_close(ckpt["state_dict"][key], value, rtol=1e-3, atol=1e-4, msg=key)


def test_torchrun_one_process_trains_and_tests_on_cuda(tiny, tmp_path):
    _, ann = tiny
    cfg = write_tiny_config(tmp_path, ann)
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "--master_addr=127.0.0.1",
              "--master_port=29533", "-m", "pyskl"]
    wd = tmp_path / "wd"
    train_args = ["train", str(cfg), "--work-dir", str(wd), "--seed", "0", "--device", "cuda"]
    proc = subprocess.run(launch + train_args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "device: cuda" in (wd / "train.log").read_text()
    out = tmp_path / "res.pkl"
    proc = subprocess.run(launch + ["test", str(cfg), str(wd / "latest.pth"), "--device", "cuda",
                                    "--out", str(out)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert load_results(out)["scores"].shape[1] == 3


def _build_cnn(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(dict(type="Recognizer3D", backbone=CNN_BACKBONES[name],
                             cls_head=dict(type="I3DHead", in_channels=1, num_classes=10)))
    feat = model.backbone(torch.zeros(1, 17, 8, 32, 32)).shape[1]
    torch.manual_seed(0)
    return build_model(dict(type="Recognizer3D", backbone=CNN_BACKBONES[name],
                            cls_head=dict(type="I3DHead", in_channels=feat, num_classes=10, dropout=0.0)))


def _heatmaps(batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, 1, 17, 8, 32, 32, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name", list(CNN_BACKBONES))
def test_posec3d_eval_scores_on_cuda_equal_cpu(name):
    model = _build_cnn(name).eval()
    _randomize_norms(model)
    _assert_cuda_scores_equal_cpu(model, _heatmaps())


@pytest.mark.parametrize("name", list(CNN_BACKBONES))
def test_posec3d_train_gradients_on_cuda_equal_cpu(name):
    _assert_cuda_grads_equal_cpu(_build_cnn(name), _heatmaps(batch=3), torch.tensor([[1], [4], [7]]))
