"""SIGKILL in the middle of training, then `--resume auto`: the same final weights as an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine_tiny import write_tiny_config, write_tiny_data
from pyskl.config import load_config
from pyskl.engine import TrainOptions, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore_torch_flags():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(False)


@pytest.mark.resume
@pytest.mark.parametrize("workers, validate", [(0, False), pytest.param(1, True, marks=pytest.mark.slow)])
def test_sigkill_then_resume_auto_matches_uninterrupted(tmp_path, workers, validate):
    # Without validation the global RNG at the start of epoch 2 depends on epoch 1's draws (PYSKL's test-mode
    # sampler reseeds it with 255), so this also checks that the checkpoint restores the RNG streams.
    ann = write_tiny_data(tmp_path / "tiny.pkl")
    cfg_path = write_tiny_config(tmp_path, ann, epochs=3, workers=workers)
    torch.set_num_threads(1)
    ref_dir = tmp_path / "ref"
    train(load_config(cfg_path), TrainOptions(work_dir=str(ref_dir), seed=3, deterministic=True, device="cpu",
                                              validate=validate))

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "pyskl", "train", str(cfg_path), "--work-dir", str(run_dir), "--seed", "3",
           "--deterministic", "--device", "cpu"] + (["--validate"] if validate else [])
    env = dict(os.environ, PYSKL_FAULT_KILL_AT_ITER="5", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr  # killed in epoch 2 (3 iters/epoch)
    assert (run_dir / "epoch_1.pth").exists() and not (run_dir / "epoch_2.pth").exists()

    train(load_config(cfg_path), TrainOptions(work_dir=str(run_dir), seed=None, deterministic=True, device="cpu",
                                              validate=validate, resume="auto"))
    ref = torch.load(ref_dir / "latest.pth", weights_only=True)
    got = torch.load(run_dir / "latest.pth", weights_only=True)
    assert got["epoch"] == ref["epoch"] == 3 and got["iter"] == ref["iter"]
    for key, value in ref["state_dict"].items():
        assert torch.equal(value, got["state_dict"][key]), key
    assert got["meta"]["best"] == ref["meta"]["best"]
