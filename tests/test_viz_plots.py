"""Training curves from log.jsonl and confusion matrices from ``pyskl test --out``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from pyskl.viz import confusion_matrix, plot_confusion_matrix, plot_training_curves, read_log


def _out(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PYSKL_VIZ_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_log(path: Path) -> Path:
    lines = []
    for it in range(1, 21):
        lines.append(
            {
                "mode": "train",
                "epoch": (it - 1) // 5 + 1,
                "iter": it,
                "lr": 0.1 * (1 - it / 21),
                "memory": 0,
                "loss": 2.3 * np.exp(-it / 8),
                "top1_acc": min(1.0, it / 15),
            }
        )
    for ep in range(1, 5):
        lines.append(
            {
                "mode": "val",
                "epoch": ep,
                "iter": ep * 5,
                "top1_acc": 0.2 * ep,
                "mean_class_accuracy": 0.19 * ep,
            }
        )
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n{torn")
    return path


def test_training_curves_png(tmp_path):
    log = _write_log(tmp_path / "log.jsonl")
    assert len(read_log(log)) == 24  # the torn last line is skipped
    png = plot_training_curves(log, _out(tmp_path) / "viz_curves.png")
    from PIL import Image

    with Image.open(png) as im:
        assert im.size[0] > 600 and im.size[1] > 250
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no JSON records"):
        read_log(tmp_path / "empty.jsonl")


def test_confusion_matrix_counts_and_png(tmp_path):
    scores = np.eye(4)[[0, 1, 2, 3, 3, 1]]
    labels = np.array([0, 1, 2, 3, 2, 0])
    cm = confusion_matrix(scores, labels)
    assert cm.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]]
    from pyskl.engine.test import save_results

    res = save_results(tmp_path / "res.pkl", scores, labels, [f"s{i}" for i in range(6)])
    png = plot_confusion_matrix(res, _out(tmp_path) / "viz_confusion.png", ["wave", "clap", "jump", "kick"])
    assert png.stat().st_size > 5000
    with pytest.raises(ValueError, match="3 class names"):
        plot_confusion_matrix(res, tmp_path / "x.png", ["a", "b", "c"])


def test_vis_cli_curves_and_confusion(tmp_path, capsys):
    from pyskl.cli import main
    from pyskl.engine.test import save_results

    _write_log(tmp_path / "log.jsonl")
    assert main(["vis", "curves", str(tmp_path), str(tmp_path / "c.png")]) == 0
    res = save_results(tmp_path / "r.json", np.eye(3), np.arange(3), ["a", "b", "c"])
    labels = tmp_path / "names.txt"
    labels.write_text("x\ny\nz\n")
    assert main(["vis", "confusion", str(res), str(tmp_path / "m.png"), "--label-map", str(labels)]) == 0
    assert (tmp_path / "c.png").exists() and (tmp_path / "m.png").exists()
