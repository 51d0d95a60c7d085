"""Classification metrics with PYSKL's semantics (``pyskl/core/evaluation.py`` of PYSKL).

All functions take per-sample class scores (an ``[N, K]`` array or a list of ``[K]`` arrays) and
integer labels, and return plain Python floats / numpy arrays.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

__all__ = ["top_k_accuracy", "mean_class_accuracy", "confusion_matrix", "mean_average_precision",
           "binary_precision_recall_curve", "average_clip", "evaluate", "SUPPORTED_METRICS"]

SUPPORTED_METRICS = ("top_k_accuracy", "mean_class_accuracy", "mean_average_precision")


def _scores_array(scores: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    arr = np.asarray(scores) if isinstance(scores, np.ndarray) else np.stack([np.asarray(s) for s in scores])
    if arr.ndim != 2:
        raise ValueError(f"scores must be [N, num_classes]; got shape {arr.shape}")
    return arr


def _labels_array(labels: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    arr = np.asarray(labels).reshape(-1).astype(np.int64)
    if arr.shape[0] != n:
        raise ValueError(f"{n} score rows but {arr.shape[0]} labels")
    return arr


def top_k_accuracy(scores: np.ndarray | Sequence[np.ndarray], labels: np.ndarray | Sequence[int],
                   topk: int | Iterable[int] = (1,)) -> list[float]:
    """Fraction of samples whose label is among the k highest scores, for each k.

    Uses ``np.argsort(scores, 1)[:, -k:]`` as PYSKL does, so ties resolve the same way.

    Returns:
        One float per k, in the order of ``topk``.
    """
    ks = (topk,) if isinstance(topk, int) else tuple(topk)
    scores_arr = _scores_array(scores)
    labels_arr = _labels_array(labels, scores_arr.shape[0])
    order = np.argsort(scores_arr, axis=1)
    out = []
    for k in ks:
        top = order[:, -k:]
        out.append(float(np.any(top == labels_arr[:, None], axis=1).mean()))
    return out


def confusion_matrix(y_pred: np.ndarray | Sequence[int], y_real: np.ndarray | Sequence[int],
                     normalize: str | None = None) -> np.ndarray:
    """Confusion matrix over the sorted union of predicted and real labels.

    Rows are real labels, columns predictions; labels absent from both are dropped (PYSKL).

    Args:
        normalize: None (counts), 'true' (rows sum to 1), 'pred' (columns) or 'all'.
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    pred = np.asarray(y_pred).reshape(-1).astype(np.int64)
    real = np.asarray(y_real).reshape(-1).astype(np.int64)
    if pred.shape != real.shape:
        raise ValueError(f"{pred.shape[0]} predictions but {real.shape[0]} labels")
    if pred.size and min(pred.min(), real.min()) < 0:
        raise ValueError("labels and predictions must be non-negative integers")
    label_set = np.unique(np.concatenate([pred, real]))
    n = len(label_set)
    pred_i = np.searchsorted(label_set, pred)
    real_i = np.searchsorted(label_set, real)
    mat = np.bincount(n * real_i + pred_i, minlength=n * n).reshape(n, n)
    if normalize is None:
        return mat
    with np.errstate(all="ignore"):
        if normalize == "true":
            out = mat / mat.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            out = mat / mat.sum(axis=0, keepdims=True)
        else:
            out = mat / mat.sum()
    return np.nan_to_num(out)


def mean_class_accuracy(scores: np.ndarray | Sequence[np.ndarray],
                        labels: np.ndarray | Sequence[int]) -> float:
    """Mean over classes of per-class top-1 accuracy.

    PYSKL quirk kept on purpose (published numbers use it): the classes are the union of predicted
    and real labels, so a class that is only ever predicted counts as accuracy 0.
    """
    scores_arr = _scores_array(scores)
    labels_arr = _labels_array(labels, scores_arr.shape[0])
    pred = np.argmax(scores_arr, axis=1)
    mat = confusion_matrix(pred, labels_arr).astype(np.float64)
    counts = mat.sum(axis=1)
    hits = np.diag(mat)
    per_class = np.divide(hits, counts, out=np.zeros_like(hits), where=counts > 0)
    return float(per_class.mean())


def binary_precision_recall_curve(y_score: np.ndarray, y_true: np.ndarray
                                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and thresholds for one class (sklearn's convention, as PYSKL)."""
    y_score = np.asarray(y_score)
    y_true = np.asarray(y_true, dtype=np.float64)  # counts in float64 whatever the label dtype
    desc = np.argsort(y_score, kind="mergesort")[::-1]
    y_score, y_true = y_score[desc], y_true[desc]
    distinct = np.where(np.diff(y_score))[0]
    thr_idx = np.r_[distinct, y_true.size - 1]
    tps = np.cumsum(y_true)[thr_idx]
    fps = 1 + thr_idx - tps
    thresholds = y_score[thr_idx]
    with np.errstate(all="ignore"):
        precision = tps / (tps + fps)
    precision[np.isnan(precision)] = 0
    with np.errstate(all="ignore"):
        recall = tps / tps[-1]
    last = tps.searchsorted(tps[-1])
    rev = slice(last, None, -1)
    return np.r_[precision[rev], 1], np.r_[recall[rev], 0], thresholds[rev]


def mean_average_precision(scores: np.ndarray | Sequence[np.ndarray],
                           labels: np.ndarray | Sequence[np.ndarray]) -> float:
    """Mean over classes of average precision; ``labels`` is a multi-hot ``[N, K]`` array.

    Classes without positives (NaN AP) are left out of the mean; NaN when none is left.
    """
    scores_arr = _scores_array(scores)
    labels_arr = np.asarray(labels) if isinstance(labels, np.ndarray) else np.stack(labels)
    if labels_arr.shape != scores_arr.shape:
        raise ValueError(f"labels must be multi-hot of shape {scores_arr.shape}, got {labels_arr.shape}")
    aps = []
    for score, label in zip(scores_arr.T, labels_arr.T):
        precision, recall, _ = binary_precision_recall_curve(score, label)
        aps.append(-np.sum(np.diff(recall) * np.asarray(precision)[:-1]))
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else float("nan")


def average_clip(clip_scores: np.ndarray, mode: str | None = "prob") -> np.ndarray:
    """Average ``[N, clips, K]`` per-clip scores: 'prob' (softmax then mean), 'score' (mean), None."""
    x = np.asarray(clip_scores, dtype=np.float64)
    if mode is None:
        return clip_scores
    if mode == "prob":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).mean(axis=1)
    if mode == "score":
        return x.mean(axis=1)
    raise ValueError(f"average_clips must be 'prob', 'score' or None, got {mode!r}")


def evaluate(scores: np.ndarray | Sequence[np.ndarray], labels: np.ndarray | Sequence[int],
             metrics: str | Sequence[str] = "top_k_accuracy", topk: int | Sequence[int] = (1, 5)
             ) -> dict[str, float]:
    """PYSKL's ``BaseDataset.evaluate``: keys ``top{k}_acc``, ``mean_class_accuracy``.

    ``mean_average_precision`` turns the integer labels into one-hot rows.
    """
    metric_list = [metrics] if isinstance(metrics, str) else list(metrics)
    for m in metric_list:
        if m not in SUPPORTED_METRICS:
            raise KeyError(f"metric {m!r} is not supported (choose from {', '.join(SUPPORTED_METRICS)})")
    ks = (topk,) if isinstance(topk, int) else tuple(topk)
    scores_arr = _scores_array(scores)
    labels_arr = _labels_array(labels, scores_arr.shape[0])
    out: dict[str, float] = {}
    for m in metric_list:
        if m == "top_k_accuracy":
            for k, acc in zip(ks, top_k_accuracy(scores_arr, labels_arr, ks)):
                out[f"top{k}_acc"] = acc
        elif m == "mean_class_accuracy":
            out["mean_class_accuracy"] = mean_class_accuracy(scores_arr, labels_arr)
        else:
            onehot = np.zeros_like(scores_arr)
            onehot[np.arange(len(labels_arr)), labels_arr] = 1
            out["mean_average_precision"] = mean_average_precision(scores_arr, onehot)
    return out
