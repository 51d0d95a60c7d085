"""fast_step: device-side meters, the fused optimizer switch, channels-last conversion, the quick GPU bench."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pyskl.engine.fast_step import DeviceMeter, TrainStep, to_channels_last
from pyskl.engine.optim import build_optimizer
from pyskl.models import build_model

ROOT = Path(__file__).resolve().parents[1]


def test_device_meter_means():
    meter = DeviceMeter()
    for value in (1.0, 2.0, 4.5):
        meter.add({"loss": torch.tensor(value), "acc": torch.tensor(value * 2)})
    assert meter.means() == pytest.approx({"loss": 2.5, "acc": 5.0}, rel=1e-12)
    assert DeviceMeter().means() == {}


def test_fused_only_where_asked_and_not_overridden():
    net = torch.nn.Linear(3, 2)
    cfg = dict(type="SGD", lr=0.1, momentum=0.9)
    assert build_optimizer(net, cfg).defaults.get("fused") in (None, False)
    assert build_optimizer(net, cfg, fused=True).defaults["fused"] is True
    assert build_optimizer(net, dict(cfg, fused=False), fused=True).defaults["fused"] is False
    assert "fused" not in build_optimizer(net, dict(type="RMSprop", lr=0.1), fused=True).defaults or \
        not build_optimizer(net, dict(type="RMSprop", lr=0.1), fused=True).defaults.get("fused")


def test_channels_last_gives_the_same_step():
    cfg = dict(type="Recognizer3D", backbone=dict(type="C3D", in_channels=4, base_channels=4, num_stages=3,
                                                   temporal_downsample=False),
               cls_head=dict(type="I3DHead", in_channels=32, num_classes=3, dropout=0.0))
    torch.manual_seed(0)
    plain = build_model(cfg).double()
    fast = to_channels_last(build_model(cfg).double())
    fast.load_state_dict(plain.state_dict())
    assert any(p.dim() == 5 and p.is_contiguous(memory_format=torch.channels_last_3d) and not p.is_contiguous()
               for p in fast.parameters())
    x = torch.randn(2, 1, 4, 4, 16, 16, dtype=torch.float64)
    label = torch.tensor([0, 2])
    values = []
    for net in (plain, fast):
        step = TrainStep(net, net, torch.optim.SGD(net.parameters(), lr=0.1), grad_clip=dict(max_norm=1.0))
        values.append({k: float(v) for k, v in step(x, label).items()})
    assert values[0] == pytest.approx(values[1], rel=1e-10)
    for a, b in zip(plain.parameters(), fast.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_bench_train_gpu_runs_quick_on_cpu(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_train_gpu.py"), "--device", "cpu",
                           "--quick", "--models", "stgcnpp", "--json", str(out)],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    report = json.loads(out.read_text())
    entry = report["models"]["stgcnpp"]
    assert entry["current"]["clips_per_s"] > 0 and entry["fast"]["clips_per_s"] > 0
    assert entry["recipe_clips"] == 16 * 5 * 40_091
    assert "speedup" in entry and "recipe min (fast)" in proc.stdout


@pytest.mark.slow
def test_compiled_step_matches_eager_on_cpu():
    from pyskl.engine.fast_step import compile_model

    cfg = dict(type="RecognizerGCN",
               backbone=dict(type="STGCN", gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn", base_channels=8,
                             num_stages=2, inflate_stages=[], down_stages=[],
                             graph_cfg=dict(layout="nturgb+d", mode="spatial")),
               cls_head=dict(type="GCNHead", num_classes=3, in_channels=8))
    torch.manual_seed(0)
    eager = build_model(cfg)
    compiled_net = build_model(cfg)
    compiled_net.load_state_dict(eager.state_dict())
    x = torch.randn(4, 1, 2, 8, 25, 3)
    label = torch.tensor([0, 1, 2, 1])
    losses = []
    for net, model in ((eager, eager), (compiled_net, compile_model(compiled_net))):
        step = TrainStep(model, net, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9))
        losses.append([float(step(x, label)["loss"]) for _ in range(2)])
    # float32 with Inductor's fused kernels summing in other orders: agreement to ~1e-6 relative per op
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    for a, b in zip(eager.parameters(), compiled_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
