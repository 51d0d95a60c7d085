"""``pyskl train-streams`` end to end on the synthetic set (slow): trains, tests, fuses, reports."""

import json

import pytest

from pyskl.cli import main

QUICK = "configs/quickstart/stgcnpp_synthetic.py"


@pytest.mark.slow
def test_train_streams_on_synthetic_data(tmp_path, capsys):
    ann = tmp_path / "syn.pkl"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(ann),
                "--num-classes",
                "4",
                "--num-subjects",
                "6",
                "--samples-per-class",
                "16",
                "--frames",
                "40",
                "60",
                "--second-person",
                "0",
            ]
        )
        == 0
    )
    wd = tmp_path / "wd"
    opts = [
        f"data.train.dataset.ann_file={ann}",
        f"data.val.ann_file={ann}",
        f"data.test.ann_file={ann}",
        "model.cls_head.num_classes=4",
        "total_epochs=6",
        "data.videos_per_gpu=8",
        "data.workers_per_gpu=0",
        "data.test_dataloader.videos_per_gpu=8",
    ]
    assert (
        main(["train-streams", QUICK, "--streams", "j", "b", "--work-dir", str(wd), "--cfg-options", *opts])
        == 0
    )
    assert "| fused | 1:1 |" in capsys.readouterr().out
    report = json.loads((wd / "report.json").read_text())
    assert set(report["streams"]) == {"j", "b"} and report["weights"] == {"j": 1.0, "b": 1.0}
    for stream in ("j", "b"):
        assert (wd / stream / "latest.pth").exists() and (wd / stream / "test_results.pkl").exists()
    best = max(m["top1_acc"] for m in report["streams"].values())
    assert best > 0.5  # the streams learned something (4 classes: chance 0.25)
    assert report["fused"]["top1_acc"] >= best
    assert "| fused | 1:1 |" in (wd / "report.md").read_text()
