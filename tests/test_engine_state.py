"""Training-checkpoint plumbing: RNG capture/restore, atomic rotation, corruption detection, config diff."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from pyskl.checkpoint import CheckpointError
from pyskl.engine.state import (capture_rng_state, config_differences, epoch_checkpoints, find_resume_checkpoint,
                                load_training_checkpoint, restore_rng_state, save_best_checkpoint,
                                save_training_checkpoint, weights_checksum)


def _payload(epoch: int) -> dict:
    torch.manual_seed(epoch)
    model = torch.nn.Linear(8, 4)
    return {"state_dict": model.state_dict(), "optimizer": {}, "scheduler": {}, "epoch": epoch, "iter": 10 * epoch,
            "meta": {"config": {"a": 1}, "seed": 0, "rng": [capture_rng_state()]}}


def test_rng_round_trip_through_checkpoint(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    payload = _payload(1)
    payload["meta"]["rng"] = [capture_rng_state()]
    want = (random.random(), np.random.rand(3), torch.rand(3))
    save_training_checkpoint(tmp_path, payload, 1)
    np.random.seed(99), random.seed(99), torch.manual_seed(99)
    ckpt = load_training_checkpoint(tmp_path / "latest.pth")  # loads with weights_only=True
    restore_rng_state(ckpt["meta"]["rng"][0])
    got = (random.random(), np.random.rand(3), torch.rand(3))
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    assert torch.equal(got[2], want[2])


def test_rotation_latest_and_best(tmp_path):
    for epoch in (1, 2, 3):
        path = save_training_checkpoint(tmp_path, _payload(epoch), epoch, max_keep=2)
    assert [p.name for p in epoch_checkpoints(tmp_path)] == ["epoch_3.pth", "epoch_2.pth"]
    assert find_resume_checkpoint(tmp_path) == tmp_path / "latest.pth"
    assert load_training_checkpoint(tmp_path / "latest.pth")["epoch"] == 3
    save_best_checkpoint(tmp_path, tmp_path / "epoch_2.pth", "top1_acc", 2)
    save_best_checkpoint(tmp_path, path, "top1_acc", 3)
    assert [p.name for p in tmp_path.glob("best_*")] == ["best_top1_acc_epoch_3.pth"]
    assert find_resume_checkpoint(tmp_path / "nothing") is None


def test_truncated_checkpoint_is_refused_and_previous_named(tmp_path):
    save_training_checkpoint(tmp_path, _payload(1), 1)
    save_training_checkpoint(tmp_path, _payload(2), 2)
    latest = tmp_path / "latest.pth"
    data = latest.read_bytes()
    (tmp_path / "epoch_2.pth").unlink()
    latest.unlink()  # break the hard link, then write a truncated copy
    latest.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"truncated or corrupt.*epoch_1\.pth is intact"):
        load_training_checkpoint(latest)
    assert load_training_checkpoint(tmp_path / "epoch_1.pth")["epoch"] == 1


def test_flipped_weight_bytes_fail_the_checksum(tmp_path):
    save_training_checkpoint(tmp_path, _payload(1), 1)
    payload = _payload(2)
    payload["meta"]["checksum"] = weights_checksum(payload["state_dict"])
    payload["state_dict"]["weight"][0, 0] += 1.0  # weights changed after the checksum was taken
    torch.save(payload, tmp_path / "epoch_2.pth")
    with pytest.raises(CheckpointError, match=r"checksum.*epoch_1\.pth is intact"):
        load_training_checkpoint(tmp_path / "epoch_2.pth")


def test_not_a_training_checkpoint(tmp_path):
    torch.save({"state_dict": torch.nn.Linear(2, 2).state_dict()}, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="not a pyskl training checkpoint"):
        load_training_checkpoint(tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_training_checkpoint(tmp_path / "missing.pth")


def test_config_differences():
    old = {"optimizer": {"lr": 0.1, "type": "SGD"}, "data": {"train": {"pipeline": [{"clip_len": 100}]}}, "x": 1}
    new = {"optimizer": {"lr": 0.2, "type": "SGD"}, "data": {"train": {"pipeline": [{"clip_len": 50}]}}, "y": 1}
    assert config_differences(old, new) == ["data.train.pipeline.0.clip_len", "optimizer.lr", "x", "y"]
    assert config_differences(old, old) == []


def test_best_checkpoint_is_never_missing(tmp_path, monkeypatch):
    import pyskl.engine.state as state

    for epoch in (1, 2):
        save_training_checkpoint(tmp_path, _payload(epoch), epoch)
    old = save_best_checkpoint(tmp_path, tmp_path / "epoch_1.pth", "top1_acc", 1)
    real = state._link_or_copy

    def link_while_checking(src, dst):
        assert old.exists(), "the previous best was deleted before the new one was in place"
        real(src, dst)

    monkeypatch.setattr(state, "_link_or_copy", link_while_checking)
    new = save_best_checkpoint(tmp_path, tmp_path / "epoch_2.pth", "top1_acc", 2)
    assert [p.name for p in tmp_path.glob("best_*")] == [new.name]
    assert os.path.samefile(new, tmp_path / "epoch_2.pth")


def test_disk_full_names_the_checkpoint_and_the_intact_one(tmp_path):
    code = f"""
        import resource, signal, torch
        from pathlib import Path
        from pyskl.engine.state import save_training_checkpoint
        payload = {{"state_dict": torch.nn.Linear(64, 64).state_dict(), "optimizer": {{}}, "epoch": 1, "iter": 1,
                    "meta": {{}}}}
        save_training_checkpoint({str(tmp_path)!r}, payload, 1)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit stands in for a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            save_training_checkpoint({str(tmp_path)!r}, payload, 2)
        except OSError as err:
            print(type(err).__name__, err)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    assert proc.stdout.startswith(f"DiskFullError cannot write {tmp_path / 'epoch_2.pth'}: no space left"), \
        proc.stdout + proc.stderr
    assert f"the previous checkpoint {tmp_path / 'epoch_1.pth'} is intact" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_1.pth", "latest.pth"]
    assert load_training_checkpoint(tmp_path / "latest.pth")["epoch"] == 1
