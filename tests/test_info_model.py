"""Parameter/FLOP counting (hand-checked MACs), per-clip input from configs, ``pyskl info model``."""

import json

import pytest
import torch
from torch import nn

from pyskl.analysis import count_flops, count_parameters, input_spec, measure_speed
from pyskl.cli import main
from pyskl.models import build_model

QUICK = "configs/quickstart/stgcnpp_synthetic.py"
STGCNPP_NTU60 = dict(
    type="RecognizerGCN",
    backbone=dict(
        type="STGCN",
        gcn_adaptive="init",
        gcn_with_res=True,
        tcn_type="mstcn",
        graph_cfg=dict(layout="nturgb+d", mode="spatial"),
    ),
    cls_head=dict(type="GCNHead", num_classes=60, in_channels=256),
)


class _Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.bn(self.conv(x)).relu()  # 2, 8, 8, 8
        a = torch.einsum("nctv,ncuv->ntu", y, y)  # 2 x (8x8 @ 8x... ) : 2*8*8*(8*8) MACs
        return self.fc(y.mean((2, 3))) + a.mean()


def test_macs_are_counted_once_per_multiply_add():
    flops = count_flops(_Toy(), torch.randn(2, 3, 10, 10))
    conv = 2 * 8 * 8 * 8 * 3 * 3 * 3  # N * C_out * H_out * W_out * C_in * k * k
    einsum = 2 * 8 * 8 * 8 * 8  # n, t, u, summed over (c, v)
    fc = 2 * 8 * 5
    assert flops.macs == conv + einsum + fc
    assert flops.by_op["convolution"] == conv and flops.flops_2x == 2 * flops.macs
    assert flops.gflops == pytest.approx(flops.macs / 1e9)


def test_stgcnpp_params_match_pyskl_and_flops_split_by_module():
    model = build_model(STGCNPP_NTU60)
    params = count_parameters(model)
    assert (params.total, params.backbone, params.head) == (1_403_144, 1_387_724, 15_420)  # PYSKL's listing
    flops = count_flops(model, torch.zeros(1, 1, 2, 100, 25, 3))
    assert flops.by_module["cls_head"] == 256 * 60
    assert flops.by_module["backbone"] + flops.by_module["cls_head"] == flops.macs
    assert 2.0e9 < flops.macs < 4.0e9  # a few 10^9 MACs per 100-frame, 2-person clip
    # FLOPs per clip scale linearly with the frame count (no per-frame graph work outside convs/matmuls)
    half = count_flops(model, torch.zeros(1, 1, 2, 52, 25, 3)).macs
    assert half < 0.55 * flops.macs


def test_input_spec_reads_the_test_pipeline():
    from pyskl.config import load_config

    spec = input_spec(load_config(QUICK))
    assert spec.kind == "gcn" and spec.shape == (1, 1, 2, 32, 25, 3) and spec.dynamic[3] == "frames"
    assert input_spec(load_config(QUICK), clip_len=100, num_person=1).shape == (1, 1, 1, 100, 25, 3)
    spec3d = input_spec(load_config("configs/posec3d/slowonly_r50_ntu60_xsub/joint.py"))
    assert spec3d.kind == "3d" and spec3d.shape == (1, 1, 17, 48, 64, 64)
    sgn = input_spec({"model": dict(type="RecognizerGCN", backbone=dict(type="SGN", T=30), cls_head={})})
    assert sgn.shape[3] == 30 and 3 not in sgn.dynamic
    with pytest.raises(ValueError, match="don't know the input"):
        input_spec({"model": dict(type="Nope")})


def test_measure_speed_reports_positive_numbers():
    model = build_model(
        dict(
            type="RecognizerGCN",
            backbone=dict(
                type="STGCN",
                graph_cfg=dict(layout="coco", mode="spatial"),
                base_channels=4,
                num_stages=1,
                inflate_stages=[],
                down_stages=[],
            ),
            cls_head=dict(type="GCNHead", num_classes=3, in_channels=4),
        )
    )
    s = measure_speed(model, (1, 8, 17, 3), batch=2, warmup=0, iters=1, device="cpu")
    assert s.latency_ms > 0 and s.throughput > 0 and s.device == "cpu" and s.threads >= 1


def test_info_cli_prints_facts_and_json(tmp_path, capsys):
    from pyskl.config import load_config

    p = count_parameters(build_model(load_config(QUICK)["model"]))
    out = tmp_path / "info.json"
    assert main(["info", "model", QUICK, "--no-speed", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"parameters: {p.total:,} (backbone {p.backbone:,}, head {p.head:,})" in text
    assert "10^9 multiply-accumulates" in text and "2^30" in text
    info = json.loads(out.read_text())
    assert info["input_shape"] == [1, 1, 2, 32, 25, 3] and info["params"] == p.total
    assert info["gflops_pyskl_2pow30"] == pytest.approx(info["gflops"] * 1e9 / 2**30)
    assert main(["info", "model", QUICK, "--no-speed", "--markdown"]) == 0
    assert f"| {QUICK} | STGCN | 2x32x25x3 | {p.total / 1e6:.3f} |" in capsys.readouterr().out


def test_flops_of_a_module_taking_a_parameter_argument():
    """CTR-GCN passes Parameters (A, alpha) to submodules: counting must not trip autograd hooks."""

    class Inner(nn.Module):
        def forward(self, x, a):
            return x @ a

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.randn(4, 4))
            self.inner = Inner()

        def forward(self, x):
            return self.inner(x, self.a)

    model = Outer()
    assert count_flops(model, torch.randn(3, 4)).macs == 3 * 4 * 4
    assert model.a.requires_grad  # restored


def test_input_spec_uses_the_last_fixed_resize_without_a_center_crop():
    from pyskl.config import load_config

    cfg = load_config("configs/quickstart/posec3d_synthetic.py")
    spec = input_spec(cfg)  # Resize(-1, 36) ... Resize((32, 32), keep_ratio=False)
    assert spec.shape[3:] == (16, 32, 32)
