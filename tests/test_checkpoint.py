"""Checkpoint loading (safe unpickling, PYSKL layouts, mismatch reports) and atomic saving."""
from __future__ import annotations

import collections
import json
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from conftest import require_shared
from pyskl.checkpoint import (CheckpointError, load_checkpoint, load_state_dict, read_checkpoint,
                              save_checkpoint)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Linear(3, 4))


def test_mmcv_style_checkpoint_with_numpy_meta(tmp_path):
    src = _net()
    sd = collections.OrderedDict(("module." + k, v) for k, v in src.state_dict().items()
                                 if not k.endswith("num_batches_tracked"))
    meta = dict(epoch=3, config="model = dict()", hook_msgs=dict(best_score=np.float64(0.75)),
                arr=np.arange(4, dtype=np.int32), dtype=np.dtype("float32"), n=np.int64(2))
    path = save_checkpoint(dict(meta=meta, state_dict=sd, optimizer=dict(state={})), tmp_path / "a" / "e.pth")
    dst = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Linear(3, 4))
    ckpt = load_checkpoint(dst, path)
    assert ckpt["meta"]["hook_msgs"]["best_score"] == 0.75 and ckpt["meta"]["epoch"] == 3
    np.testing.assert_array_equal(ckpt["meta"]["arr"], np.arange(4))
    for key, value in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[key], value)


def test_numpy1_pickled_metadata_loads(tmp_path):
    """Files written under numpy 1.x name numpy.core.multiarray.*; they load under numpy 2."""
    path = tmp_path / "np2.pth"
    torch.save(dict(state_dict=dict(w=torch.ones(2)), meta=dict(s=np.float64(2.5), a=np.arange(3))), path)
    old = tmp_path / "np1.pth"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(old, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            zout.writestr(info.filename, data)
    ckpt = read_checkpoint(old)
    assert ckpt["meta"]["s"] == 2.5
    np.testing.assert_array_equal(ckpt["meta"]["a"], np.arange(3))


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_arbitrary_code_refused(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save(dict(state_dict=_net().state_dict(), meta=_Evil()), path)
    with pytest.raises(CheckpointError, match=r"refusing to load .*evil\.pth.*builtins\.print"):
        load_checkpoint(_net(), path)
    assert "must never run" not in capsys.readouterr().out


def test_mismatches_listed_by_key_and_shape(tmp_path):
    sd = dict(_net().state_dict())
    sd["0.weight"] = torch.zeros(5, 2, 1, 1)
    sd["extra.bias"] = torch.zeros(7)
    del sd["2.bias"]
    path = save_checkpoint(sd, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(_net(), path)
    text = str(err.value)
    assert "bad.pth" in text
    assert "missing in checkpoint: 2.bias (4,)" in text
    assert "unexpected in checkpoint: extra.bias (7,)" in text
    assert "shape mismatch: 0.weight checkpoint (5, 2, 1, 1) vs model (3, 2, 1, 1)" in text
    net = _net()
    with pytest.warns(UserWarning, match="shape mismatch"):
        report = load_checkpoint(net, path, strict=False)
    assert report["state_dict"]["1.weight"].shape == (3,)
    rep = load_state_dict(_net(), {k: v for k, v in _net().state_dict().items()
                                   if not k.endswith("num_batches_tracked")})
    assert rep == {"missing": [], "unexpected": [], "shape_mismatch": []}


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(_net(), tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="junk.pth"):
        read_checkpoint(junk)
    path = save_checkpoint(dict(meta=dict(a=1)), tmp_path / "nosd.pth")
    with pytest.raises(CheckpointError, match="no state_dict"):
        load_checkpoint(_net(), path)


def test_save_checkpoint_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pth"
    save_checkpoint(dict(a=torch.ones(1)), path)

    def boom(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(dict(a=torch.zeros(1)), path)
    monkeypatch.undo()
    assert read_checkpoint(path)["a"].item() == 1.0  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]  # no temp left behind


def test_hagrid_real_checkpoint_loads_strict():
    path = require_shared("checkpoints", "hagrid.pth")
    info = json.loads(require_shared("checkpoints", "hagrid.json").read_text())
    from pyskl.models import build_model

    model = build_model(dict(
        type="RecognizerGCN",
        backbone=dict(type="STGCN", in_channels=2, gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn",
                      num_stages=6, down_stages=[6], inflate_stages=[6],
                      graph_cfg=dict(layout="handmp", mode="spatial")),
        cls_head=dict(type="GCNHead", num_classes=40, in_channels=128)))
    ckpt = load_checkpoint(model, path)
    assert len(ckpt["state_dict"]) == 418
    assert isinstance(info, dict)


def test_text_file_as_checkpoint_names_the_file(tmp_path):
    notes = tmp_path / "notes.pth"
    notes.write_text("epoch 12: top1 0.81\n")
    with pytest.raises(CheckpointError, match=r"notes\.pth is not a torch checkpoint: a text file "
                                              r"\(it starts with 'epoch 12: top1 0.81'\)"):
        load_checkpoint(_net(), notes)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pth is empty"):
        read_checkpoint(empty)


def test_another_models_checkpoint_is_summarised(tmp_path):
    from pyskl.models import build_model

    gcn = dict(type="RecognizerGCN",
               backbone=dict(type="STGCN", graph_cfg=dict(layout="coco", mode="stgcn_spatial")),
               cls_head=dict(type="GCNHead", num_classes=60, in_channels=256))
    c3d = dict(type="Recognizer3D", backbone=dict(type="C3D", in_channels=17, base_channels=16, num_stages=3,
                                                  temporal_downsample=False),
               cls_head=dict(type="I3DHead", in_channels=256, num_classes=7))
    path = save_checkpoint({"state_dict": build_model(c3d).state_dict()}, tmp_path / "c3d.pth")
    model = build_model(gcn)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, path)
    text = str(err.value)
    lines = text.splitlines()
    assert len(lines) <= 5, text
    own, theirs = model.state_dict(), torch.load(path)["state_dict"]
    n_missing = sum(1 for k in own if k not in theirs and not k.endswith("num_batches_tracked"))
    n_unexpected = sum(1 for k in theirs if k not in own)
    assert f"{n_missing} missing, {n_unexpected} unexpected" in lines[0]
    assert "backbone like C3D" in text and "7 classes (cls_head.fc_cls.weight)" in text
    assert "(+" in lines[1]  # only the first few keys are listed
