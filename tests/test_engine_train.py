"""End-to-end `pyskl train` / `pyskl test` on a tiny synthetic set (CPU, one process)."""
from __future__ import annotations

import json

import pytest
import torch

from engine_tiny import write_tiny_config, write_tiny_data
from pyskl.cli import main
from pyskl.config import ConfigError, load_config
from pyskl.engine import TrainOptions, load_results, train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return folder, write_tiny_data(folder / "tiny.pkl")


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(False)


def test_train_validate_test_last_then_pyskl_test_reproduces(tiny, tmp_path, capsys):
    folder, ann = tiny
    cfg_path = write_tiny_config(tmp_path, ann)
    wd = tmp_path / "wd"
    results = train(load_config(cfg_path), TrainOptions(work_dir=str(wd), validate=True, test_last=True, seed=0,
                                                        test_best=True, device="cpu", config_path=str(cfg_path)))
    assert set(results["test_best"]) == {"top1_acc", "top2_acc", "mean_class_accuracy"}
    names = sorted(p.name for p in wd.iterdir())
    assert {"config.json", "log.jsonl", "train.log", "latest.pth", "epoch_1.pth", "epoch_2.pth"} <= set(names)
    assert any(n.startswith("best_top1_acc_epoch_") for n in names)
    records = [json.loads(line) for line in (wd / "log.jsonl").read_text().splitlines()]
    train_recs = [r for r in records if r["mode"] == "train"]
    assert len(train_recs) == 6 and {"loss", "lr", "time", "data_time", "memory", "epoch", "iter"} <= set(train_recs[0])
    assert [r["epoch"] for r in records if r["mode"] == "val"] == [1, 2]
    printed = capsys.readouterr().out
    assert "Test (last checkpoint): top1_acc:" in printed

    out = tmp_path / "res.pkl"
    assert main(["test", str(cfg_path), str(wd / "latest.pth"), "--device", "cpu", "--out", str(out),
                 "--eval", "top_k_accuracy", "mean_class_accuracy"]) == 0
    printed = capsys.readouterr().out
    want = results["test_last"]
    assert f"top1_acc: {want['top1_acc']:.4f}" in printed
    assert f"mean_class_accuracy: {want['mean_class_accuracy']:.4f}" in printed
    rec = load_results(out)
    assert rec["metrics"]["top1_acc"] == want["top1_acc"]
    assert rec["metrics"]["mean_class_accuracy"] == want["mean_class_accuracy"]
    assert rec["scores"].shape == (len(rec["labels"]), 3) and len(rec["frame_dir"]) == len(rec["labels"])
    assert all(d.startswith("S") for d in rec["frame_dir"])
    js = tmp_path / "res.json"
    assert main(["test", str(cfg_path), str(wd / "latest.pth"), "--device", "cpu", "--out", str(js),
                 "--average-clips", "score"]) == 0
    assert load_results(js)["average_clips"] == "score"


def test_resume_with_a_different_config_is_refused(tiny, tmp_path):
    _, ann = tiny
    cfg_path = write_tiny_config(tmp_path, ann, epochs=1)
    wd = str(tmp_path / "wd")
    train(load_config(cfg_path), TrainOptions(work_dir=wd, seed=0, device="cpu"))
    changed = load_config(cfg_path, ["optimizer.lr=0.2", "total_epochs=3"])
    with pytest.raises(ConfigError, match=r"differs .* at optimizer\.lr, total_epochs"):
        train(changed, TrainOptions(work_dir=wd, seed=0, device="cpu", resume="auto"))


@pytest.mark.parametrize("edit, match", [
    (["total_epochs='2'"], r"'total_epochs' must be int, got str"),
    (["data.videos_per_gpu=2.5"], r"'data.videos_per_gpu' must be int"),
    (["data.train.ann_file='/nonexistent/x.pkl'"], r"data.train: annotation file '/nonexistent/x.pkl' does not exist"),
    (["model.cls_head.num_classes=2"], r"data.train: sample '.*' \(index \d+\) has label 2, outside \[0, 2\)"),
    (["data.train.split='empty'"], r"data.train: no samples"),
])
def test_bad_input_is_refused_before_training(tiny, tmp_path, edit, match):
    _, ann = tiny
    import pickle

    empty_ann = tmp_path / "with_empty.pkl"
    obj = pickle.loads(ann.read_bytes())
    obj["split"]["empty"] = []
    empty_ann.write_bytes(pickle.dumps(obj))
    cfg_path = write_tiny_config(tmp_path, empty_ann if "empty" in edit[0] else ann)
    wd = tmp_path / "wd"
    with pytest.raises((ConfigError, ValueError), match=match):
        train(load_config(cfg_path, edit), TrainOptions(work_dir=str(wd), seed=0, device="cpu"))
    assert not list(wd.glob("*.pth"))


def test_unused_keys_warn_once_each(tiny, tmp_path, caplog):
    _, ann = tiny
    cfg_path = write_tiny_config(tmp_path, ann, epochs=1, extra="gpu_ids = [0]\nomnisource = False\nmystery = 'abc'")
    from pyskl.engine.runtime import read_runtime

    warnings = read_runtime(load_config(cfg_path)).warnings
    assert len([w for w in warnings if "'gpu_ids'" in w]) == 1
    assert len([w for w in warnings if "'omnisource'" in w]) == 1
    assert len([w for w in warnings if "'mystery'" in w]) == 1
    assert not [w for w in warnings if "'ann_file'" in w or "train_pipeline" in w]


def test_truncated_latest_checkpoint_is_refused_and_previous_still_resumes(tiny, tmp_path):
    from pyskl.checkpoint import CheckpointError

    _, ann = tiny
    cfg_path = write_tiny_config(tmp_path, ann, epochs=2)
    wd = tmp_path / "wd"
    train(load_config(cfg_path), TrainOptions(work_dir=str(wd), seed=0, device="cpu"))
    latest = wd / "latest.pth"
    data = latest.read_bytes()
    latest.unlink()
    (wd / "epoch_2.pth").unlink()
    latest.write_bytes(data[: len(data) * 2 // 3])  # a crash of a non-atomic writer, or a bad disk
    more = load_config(cfg_path)
    message = r"latest\.pth cannot be read; it is truncated or corrupt.*epoch_1\.pth is intact"
    with pytest.raises(CheckpointError, match=message):
        train(more, TrainOptions(work_dir=str(wd), device="cpu", resume="auto"))
    results = train(load_config(cfg_path), TrainOptions(work_dir=str(wd), device="cpu", resume=str(wd / "epoch_1.pth"),
                                                        test_last=True))
    assert torch.load(latest, weights_only=True)["epoch"] == 2 and "test_last" in results


def test_bf16_autocast_on_cpu_trains_and_tests(tiny, tmp_path):
    _, ann = tiny
    cfg_path = write_tiny_config(tmp_path, ann, epochs=1)
    results = train(load_config(cfg_path), TrainOptions(work_dir=str(tmp_path / "wd"), seed=0, device="cpu",
                                                        amp="bf16", test_last=True))
    assert 0.0 <= results["test_last"]["top1_acc"] <= 1.0
    weights = torch.load(tmp_path / "wd" / "latest.pth", weights_only=True)["state_dict"]
    assert all(v.dtype != torch.bfloat16 for v in weights.values())  # autocast keeps fp32 master weights
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        train(load_config(cfg_path), TrainOptions(work_dir=str(tmp_path / "wd2"), device="cpu", amp="fp16"))


@pytest.mark.slow
def test_compile_trains(tiny, tmp_path):
    _, ann = tiny
    cfg_path = write_tiny_config(tmp_path, ann, epochs=1)
    results = train(load_config(cfg_path), TrainOptions(work_dir=str(tmp_path / "wd"), seed=0, device="cpu",
                                                        compile=True, test_last=True))
    assert "test_last" in results
    assert not any(k.startswith("_orig_mod") for k in torch.load(tmp_path / "wd" / "latest.pth",
                                                                  weights_only=True)["state_dict"])
