"""Matplotlib plots: training curves from ``log.jsonl`` and a confusion matrix from ``pyskl test --out``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["confusion_matrix", "plot_confusion_matrix", "plot_training_curves", "read_log"]


def read_log(path: str | os.PathLike) -> list[dict]:
    """Records of a ``log.jsonl`` (one JSON object per line; blank or torn last lines are skipped)."""
    records = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not records:
        raise ValueError(f"{path}: no JSON records")
    return records


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(
    log_path: str | os.PathLike, out: str | os.PathLike, keys: Sequence[str] | None = None
) -> Path:
    """Train losses / lr per iteration and validation metrics per epoch, one panel each, as a PNG."""
    plt = _figure()
    records = read_log(log_path)
    train = [r for r in records if r.get("mode") == "train"]
    val = [r for r in records if r.get("mode") == "val"]
    skip = {"mode", "epoch", "iter", "memory", "time", "data_time", "lr"}
    train_keys = (
        list(keys)
        if keys
        else sorted({k for r in train for k, v in r.items() if k not in skip and isinstance(v, (int, float))})
    )
    val_keys = sorted({k for r in val for k, v in r.items() if k not in skip and isinstance(v, (int, float))})
    panels = (
        [("train", k) for k in train_keys]
        + ([("lr", "lr")] if any("lr" in r for r in train) else [])
        + [("val", k) for k in val_keys]
    )
    if not panels:
        raise ValueError(f"{log_path}: no numeric train/val values to plot")
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (mode, key) in zip(axes.flat, panels):
        src = val if mode == "val" else train
        pts = [
            (r.get("epoch" if mode == "val" else "iter", i), r[key]) for i, r in enumerate(src) if key in r
        ]
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o" if mode == "val" else None, markersize=3)
        ax.set_title(f"{'val ' if mode == 'val' else ''}{key}")
        ax.set_xlabel("epoch" if mode == "val" else "iteration")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def confusion_matrix(scores: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Counts ``[K, K]``: row = true label, column = predicted (argmax) label."""
    scores, labels = np.asarray(scores), np.asarray(labels, dtype=np.int64)
    k = num_classes or scores.shape[1]
    pred = scores.argmax(axis=1)
    return np.bincount(labels * k + pred, minlength=k * k).reshape(k, k)


def plot_confusion_matrix(
    results: str | os.PathLike | dict,
    out: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
) -> Path:
    """Confusion matrix PNG from a ``pyskl test --out`` file (or its loaded dict); rows normalised."""
    plt = _figure()
    if not isinstance(results, dict):
        from ..core.results import load_results

        results = load_results(results)
    cm = confusion_matrix(results["scores"], results["labels"]).astype(np.float64)
    k = cm.shape[0]
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}-class result")
    side = min(24.0, 3 + 0.35 * k)
    fig, ax = plt.subplots(figsize=(side, side))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046)
    if k <= 40:
        ax.set_xticks(range(k), names, rotation=90, fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if cm[i, j] > 0.5 * cm.max() else "black",
                )
    acc = float(np.mean(np.asarray(results["scores"]).argmax(1) == np.asarray(results["labels"])))
    ax.set_title(f"confusion matrix (top-1 {acc:.3f})")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
