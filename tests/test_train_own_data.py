"""``pyskl train CONFIG --ann-file my.pkl``: every split reads the file, the head gets the data's class
count; the ETA covers the whole run; ``--resume auto`` of a finished run says it is finished."""

from __future__ import annotations

import importlib

import pytest
import torch

from pyskl.cli import main
from pyskl.engine import logging as run_logging
from tests.engine_tiny import write_tiny_config, write_tiny_data


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_ann_file_sets_every_split_and_sizes_the_head(tmp_path, capsys, monkeypatch):
    config_data = write_tiny_data(tmp_path / "config_data.pkl")  # 3 classes, named by the config
    cfg = write_tiny_config(tmp_path, config_data, num_classes=3, epochs=2)
    mine = write_tiny_data(tmp_path / "mine.pkl", samples_per_class=3, num_classes=4)
    config_data.unlink()  # only --ann-file may be read

    engine_train = importlib.import_module("pyskl.engine.train")  # the module (pyskl.engine.train is also a function)
    calls = []

    def recording_run_eta(elapsed, done, left):
        calls.append((done, left))
        return run_logging.run_eta(elapsed, done, left)

    monkeypatch.setattr(engine_train, "run_eta", recording_run_eta)
    wd = tmp_path / "wd"
    argv = ["train", str(cfg), "--ann-file", str(mine), "--work-dir", str(wd), "--device", "cpu", "--seed", "0"]
    assert main(argv + ["--validate"]) == 0
    out = capsys.readouterr().out
    assert f"annotation file {mine} for data.train.ann_file, data.val.ann_file, data.test.ann_file" in out
    assert "model.cls_head.num_classes 3 -> 4 (labels of" in out
    state = torch.load(wd / "latest.pth", weights_only=False)["state_dict"]
    assert state["cls_head.fc_cls.weight"].shape[0] == 4
    # 8 training samples, batch 4 -> 2 iterations an epoch; the ETA counts the rest of the run
    assert calls[:4] == [(1, 3), (2, 2), (1, 1), (2, 0)]

    assert main(argv + ["--resume", "auto"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "latest.pth: this run is finished (2 of 2 epochs trained)" in err[0]


def test_num_classes_below_the_labels_is_refused_before_training(tmp_path, capsys):
    mine = write_tiny_data(tmp_path / "mine.pkl", samples_per_class=2, num_classes=4)
    cfg = write_tiny_config(tmp_path, mine, num_classes=4)
    assert main(["train", str(cfg), "--ann-file", str(mine), "--num-classes", "3", "--work-dir",
                 str(tmp_path / "wd")]) == 2
    assert "--num-classes 3: " in capsys.readouterr().err and not (tmp_path / "wd").exists()


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (59.6, "1m00s"), (185, "3m05s"), (7620, "2h07m")])
def test_format_duration(seconds, text):
    assert run_logging.format_duration(seconds) == text


def test_run_eta_is_the_pace_times_what_is_left():
    assert run_logging.run_eta(10.0, 5, 45) == pytest.approx(90.0)
    assert run_logging.run_eta(10.0, 5, 0) == 0.0


@pytest.mark.parametrize("name, advice, wrong", [
    ("my_dataset.pkl", "pass the file with --ann-file FILE; `pyskl extract VIDEOS OUT.pkl`", "pyskl data synth"),
    ("ntu60_3danno.pkl", "`pyskl data ntu`", "pyskl data synth"),
    ("coco2d_synthetic.pkl", "make it with `pyskl data synth`", "pyskl extract"),
])
def test_missing_annotation_file_advice_fits_the_file(tmp_path, capsys, name, advice, wrong):
    cfg = write_tiny_config(tmp_path, tmp_path / name)
    assert main(["train", str(cfg), "--work-dir", str(tmp_path / "wd"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"annotation file '{tmp_path / name}' does not exist" in err and advice in err and wrong not in err
