"""On a CUDA device the device pipeline gives the numpy ops' clips, and a bf16 compiled run trains (``-m gpu``)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine_tiny import write_tiny_config, write_tiny_data
from pyskl.config import load_config
from test_device_pipeline import check_clips_against_numpy

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture(scope="module")
def tiny_ann(tmp_path_factory):
    return write_tiny_data(tmp_path_factory.mktemp("gdp") / "tiny.pkl", samples_per_class=4)


@pytest.mark.parametrize("storage,tol", [(torch.float32, 1e-5), (torch.float16, 2e-3)])
def test_cuda_clips_equal_the_numpy_pipeline(tiny_ann, storage, tol):
    check_clips_against_numpy(tiny_ann, storage, tol, torch.device("cuda"))


@pytest.mark.parametrize("amp,compile_", [("bf16", False), ("fp16", False)])
def test_cuda_training_on_the_device_pipeline(tmp_path, tiny_ann, amp, compile_):
    from pyskl.engine import TrainOptions, train

    cfg_path = write_tiny_config(tmp_path, tiny_ann, epochs=2)
    cfg = load_config(str(cfg_path), ["data.device_pipeline={'storage': 'float16'}"])
    work = tmp_path / "work"
    results = train(cfg, TrainOptions(work_dir=str(work), seed=0, validate=True, device="cuda", amp=amp,
                                      compile=compile_, config_path=str(cfg_path)))
    assert "top1_acc" in results["val"]
    lines = [json.loads(x) for x in (work / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(x["loss"]) for x in lines if x["mode"] == "train")
