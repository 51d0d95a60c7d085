"""2-process torchrun (gloo, CPU) equals 1 process with the same global batch; exact test-result gathering."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine_tiny import write_tiny_config, write_tiny_data
from pyskl.config import load_config
from pyskl.engine import TrainOptions, load_results, train

ROOT = Path(__file__).resolve().parents[1]
# float32 sums over the batch are split across processes in another order: rounding differs slightly.
ATOL, RTOL = 1e-5, 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "pyskl"] + args
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _losses(work_dir: Path) -> list[float]:
    lines = (work_dir / "log.jsonl").read_text().splitlines()
    return [r["loss"] for r in map(json.loads, lines) if r["mode"] == "train"]


@pytest.mark.dist  # two torchrun launches: ~25 s on 2 idle cores (deselect with -m "not dist")
def test_two_process_gloo_equals_one_process_same_global_batch(tmp_path):
    torch_threads = torch.get_num_threads()
    ann = write_tiny_data(tmp_path / "tiny.pkl", samples_per_class=6)  # 12 training samples
    # Same global batch (4 = 1 x 4 = 2 x 2); deterministic train sampling (test_mode) so both see the same
    # clips; sync_bn so batch statistics span both processes.
    common = dict(ann_file=ann, epochs=2, train_extra=", test_mode=True", extra="sync_bn = True")
    one = write_tiny_config(tmp_path, name="one.py", batch=4, **common)
    two = write_tiny_config(tmp_path, name="two.py", batch=2, **common)
    try:
        torch.set_num_threads(1)
        train(load_config(one), TrainOptions(work_dir=str(tmp_path / "wd1"), seed=0, device="cpu"))
    finally:
        torch.set_num_threads(torch_threads)
    proc = _torchrun(["train", str(two), "--work-dir", str(tmp_path / "wd2"), "--seed", "0", "--device", "cpu"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    l1, l2 = _losses(tmp_path / "wd1"), _losses(tmp_path / "wd2")
    assert len(l1) == len(l2) == 6
    np.testing.assert_allclose(l2, l1, rtol=RTOL, atol=ATOL)
    w1 = torch.load(tmp_path / "wd1" / "latest.pth", weights_only=True)["state_dict"]
    w2 = torch.load(tmp_path / "wd2" / "latest.pth", weights_only=True)["state_dict"]
    assert w1.keys() == w2.keys()
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], rtol=RTOL, atol=ATOL, msg=key)

    # Testing under torchrun: 2 processes over an odd-sized test set gather every sample exactly once.
    out1, out2 = tmp_path / "r1.pkl", tmp_path / "r2.pkl"
    from pyskl.cli import main

    odd = ["--cfg-options", "data.test.split='xview_val'"]  # 9 samples
    ckpt = str(tmp_path / "wd1" / "latest.pth")
    assert main(["test", str(one), ckpt, "--device", "cpu", "--out", str(out1)] + odd) == 0
    proc = _torchrun(["test", str(one), ckpt, "--device", "cpu", "--out", str(out2)] + odd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r1, r2 = load_results(out1), load_results(out2)
    assert len(r1["labels"]) % 2 == 1
    assert r1["frame_dir"] == r2["frame_dir"] and np.array_equal(r1["labels"], r2["labels"])
    np.testing.assert_allclose(r2["scores"], r1["scores"], atol=1e-6)
