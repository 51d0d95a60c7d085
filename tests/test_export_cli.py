"""``pyskl export``: a config + checkpoint -> ONNX / TorchScript file, parity printed by the command."""

import numpy as np
import pytest
import torch

from pyskl.cli import main
from pyskl.config import load_config
from pyskl.models import build_model

CONFIG = "configs/quickstart/stgcnpp_synthetic.py"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(load_config(CONFIG)["model"])
    for m in model.modules():  # trained-looking BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.running_mean.uniform_(-0.5, 0.5)
    path = tmp_path_factory.mktemp("ckpt") / "stgcnpp.pth"
    torch.save({"meta": {}, "state_dict": model.state_dict()}, path)
    return path, model


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_prints_parity_and_matches_the_checkpoint(fmt, checkpoint, tmp_path, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    ckpt, model = checkpoint
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'pt'}"
    assert main(["export", CONFIG, str(ckpt), "--format", fmt, "--out", str(out), "--clip-len", "16"]) == 0
    text = capsys.readouterr().out
    assert "dynamic axes: batch (axis 0), clips (axis 1), frames (axis 3)" in text
    assert "parity vs PyTorch on input [3, 2, 2, 12, 25, 3]" in text and "within tolerance 0.0001" in text
    # the file holds the checkpoint's weights: compare with model.predict on a fresh input
    x = np.random.default_rng(5).standard_normal((4, 3, 2, 20, 25, 3)).astype(np.float32)
    if fmt == "onnx":
        from pyskl.export import onnx_runner

        got = onnx_runner(out)(x)[0]
    else:
        from pyskl.export import torchscript_runner

        got = torchscript_runner(out)(x)[0]
    with torch.no_grad():
        ref = model.eval().predict(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_export_refuses_an_unknown_recognizer(tmp_path, capsys):
    cfg = tmp_path / "cfg.py"
    cfg.write_text("model = dict(type='MMRecognizer3D', backbone=dict(type='RGBPoseConv3D'))\n")
    assert main(["export", str(cfg), "none", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "don't know the input of a 'MMRecognizer3D' model" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_pyskl_gesture_checkpoint_reproduces_pyskl(fmt, tmp_path, capsys):
    """PYSKL's trained HaGRID ST-GCN++ -> file -> PYSKL's recorded scores (2 clips averaged)."""
    from conftest import require_shared

    ckpt = require_shared("checkpoints", "hagrid.pth")
    io = np.load(require_shared("oracle", "models", "public", "stgcnpp_gesture_hagrid.io.npz"))
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    out = tmp_path / ("hagrid.onnx" if fmt == "onnx" else "hagrid.pt")
    assert (
        main(["export", "configs/gesture/stgcnpp_hagrid.py", str(ckpt), "--format", fmt, "--out", str(out)])
        == 0
    )
    assert "within tolerance" in capsys.readouterr().out
    from pyskl.export import onnx_runner, torchscript_runner

    run = onnx_runner(out) if fmt == "onnx" else torchscript_runner(out)
    np.testing.assert_allclose(run(io["input"])[0], io["nc2_scores"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(run(io["input"][:, :1])[0], io["nc1_scores"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("config, checkpoint, fmt, expected", [
    ("configs/quickstart/stgcnpp_synthetic.py", "work_dirs/run/latest.pth", "onnx",
     "work_dirs/run/stgcnpp_synthetic.onnx"),
    ("configs/stgcn/stgcn_pyskl_ntu60_xsub_hrnet/j.py", "/ckpts/latest.pth", "torchscript",
     "/ckpts/stgcn_pyskl_ntu60_xsub_hrnet_j.pt"),
    ("work_dirs/my_run/config.json", "work_dirs/my_run/latest.pth", "onnx", "work_dirs/my_run/my_run.onnx"),
    ("configs/quickstart/stgcnpp_synthetic.py", "none", "onnx", "stgcnpp_synthetic.onnx"),
])
def test_default_output_is_beside_the_checkpoint_named_after_the_config(config, checkpoint, fmt, expected):
    from pyskl.commands.export import default_output

    assert default_output(config, checkpoint, fmt).as_posix() == expected
