"""Per-stream configs (GenSkeFeat feats) and the printed per-stream commands of ``pyskl train-streams``."""

import json

import pytest

from pyskl.cli import main
from pyskl.config import ConfigError, load_config
from pyskl.engine.streams import StreamsOptions, stream_commands, stream_config

QUICK = "configs/quickstart/stgcnpp_synthetic.py"


def _feats(cfg):
    out = []
    for split in ("train", "val", "test"):
        ds = cfg["data"][split]
        while "pipeline" not in ds:
            ds = ds["dataset"]
        out += [op["feats"] for op in ds["pipeline"] if op["type"] == "GenSkeFeat"]
    return out


@pytest.mark.parametrize("stream", ["j", "b", "jm", "bm"])
def test_every_pipeline_gets_the_stream(stream, tmp_path):
    cfg = load_config(QUICK)
    out = stream_config(cfg, stream, tmp_path / stream)
    assert _feats(out) == [[stream]] * 3  # train (inside RepeatDataset), val, test
    assert out["work_dir"] == str(tmp_path / stream)
    assert _feats(cfg) == [["j"]] * 3  # the input config is untouched
    assert out["model"] == cfg["model"]  # same channels: one 3-channel feature per stream


@pytest.mark.parametrize("stream", ["k", "km"])
def test_protogcn_kbone_streams(stream, tmp_path):
    cfg = load_config("configs/protogcn/protogcn_finegym/j.py")
    out = stream_config(cfg, stream, tmp_path)
    assert _feats(out) == [[stream]] * 3 and out["test_pipeline"][3]["feats"] == [stream]
    coco = load_config("configs/stgcn++/stgcn++_ntu60_xsub_hrnet/j.py")
    msg = "data.train pipeline: stream 'k' \\(K-Bone\\) needs GenSkeFeat dataset in 'nturgb\\+d', "
    with pytest.raises(ConfigError, match=msg + "'coco_new', the config has 'coco'"):
        stream_config(coco, "k")


def test_unusable_configs_are_refused():
    cfg = load_config(QUICK)
    with pytest.raises(ConfigError, match="unknown stream 'kb'"):
        stream_config(cfg, "kb")
    multi = load_config(QUICK)
    multi["data"]["val"]["pipeline"][1]["feats"] = ["j", "b"]
    with pytest.raises(ConfigError, match="combines feats=\\['j', 'b'\\]"):
        stream_config(multi, "b")
    none = load_config(QUICK)
    for split in ("val", "test"):
        none["data"][split]["pipeline"] = [
            op for op in none["data"][split]["pipeline"] if op["type"] != "GenSkeFeat"
        ]
    none["data"]["train"]["dataset"]["pipeline"] = none["data"]["val"]["pipeline"]
    with pytest.raises(ConfigError, match="no GenSkeFeat"):
        stream_config(none, "j")


def test_print_commands_writes_configs_and_torchrun_lines(tmp_path, capsys):
    assert (
        main(
            [
                "train-streams",
                QUICK,
                "--streams",
                "j",
                "b",
                "--work-dir",
                str(tmp_path),
                "--print-commands",
                "--nproc",
                "4",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5  # train + test per stream, then fuse
    assert lines[0].startswith("torchrun --nproc_per_node=4 -m pyskl train ") and "--seed 0" in lines[0]
    assert lines[1].startswith("torchrun --nproc_per_node=4 -m pyskl test ") and lines[1].endswith(
        f"--out {tmp_path}/j/test_results.pkl"
    )
    assert lines[-1].startswith("python -m pyskl fuse ") and "--names j b" in lines[-1]
    written = json.loads((tmp_path / "b" / "stream_config.json").read_text())
    assert _feats(written) == [["b"]] * 3
    assert load_config(str(tmp_path / "b" / "stream_config.json"))["work_dir"] == str(tmp_path / "b")


def test_cli_refuses_bad_weights(capsys):
    assert main(["train-streams", QUICK, "--streams", "j", "b", "--weights", "1", "--print-commands"]) == 2
    assert "1 weights for 2 streams" in capsys.readouterr().err


def test_stream_commands_default_weights_flag(tmp_path):
    cmds = stream_commands(
        load_config(QUICK),
        StreamsOptions(streams=("j", "b", "jm", "bm"), work_dir=str(tmp_path), weights=[2, 2, 1, 1]),
    )
    assert cmds[-1].split("--weights ")[1].startswith("2 2 1 1")


def test_search_uses_data_val_as_the_test_set():
    from pyskl.engine.streams import _val_as_test

    cfg = load_config(QUICK)
    out = _val_as_test(cfg)
    assert out["data"]["test"] == cfg["data"]["val"] and cfg["data"]["test"] != cfg["data"]["val"]
    del cfg["data"]["val"]
    with pytest.raises(ConfigError, match="--search needs data.val"):
        _val_as_test(cfg)
