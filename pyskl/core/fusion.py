"""Late fusion of several streams' test scores (joint, bone, joint motion, bone motion, ...).

PYSKL's convention: each stream is tested on its own (``--out``, clip-averaged probabilities) and the
per-sample scores are summed with weights joint:bone:joint-motion:bone-motion = 2:2:1:1 (two streams
1:1). Fused scores here are the weighted *mean* (weights normalised to sum 1): the arg-max, hence
top-k and mean-class accuracy, is that of PYSKL's weighted sum, and prob inputs stay probabilities.

Everything works on numpy arrays; ``StreamScores`` holds one stream (scores, labels, sample names).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .evaluation import mean_class_accuracy, top_k_accuracy

__all__ = [
    "DEFAULT_GRID",
    "FusionError",
    "StreamScores",
    "check_aligned",
    "default_weights",
    "format_report",
    "fuse_scores",
    "fusion_report",
    "load_stream",
    "search_weights",
    "stream_metrics",
]

# PYSKL's published ensembles: 2 streams (j + b) 1:1, 4 streams (j, b, jm, bm) 2:2:1:1. ProtoGCN's six
# (j, b, k, jm, bm, km): equal, as its released weights are not known to us (see docs/model_zoo.md).
_PYSKL_WEIGHTS = {1: (1.0,), 2: (1.0, 1.0), 4: (2.0, 2.0, 1.0, 1.0), 6: (1.0,) * 6}

#: per-stream weights tried by :func:`search_weights`
DEFAULT_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


class FusionError(ValueError):
    """Result sets that cannot be fused (different samples, labels, class counts), or bad weights."""


@dataclass
class StreamScores:
    """One stream's test results.

    Attributes:
        name: stream name used in reports (e.g. ``'j'`` or the file name).
        scores: ``[N, K]`` float scores (clip-averaged).
        labels: ``[N]`` int labels, or None when the file had none.
        frame_dir: ``N`` sample names in the order of ``scores``, or None.
    """

    name: str
    scores: np.ndarray
    labels: np.ndarray | None = None
    frame_dir: list[str] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float32)
        if self.scores.ndim != 2:
            raise FusionError(f"{self.name}: scores must be [N, num_classes], got shape {self.scores.shape}")
        if self.labels is not None:
            self.labels = np.asarray(self.labels).reshape(-1).astype(np.int64)
            if len(self.labels) != len(self.scores):
                raise FusionError(f"{self.name}: {len(self.scores)} score rows but {len(self.labels)} labels")
        if self.frame_dir is not None:
            self.frame_dir = [str(f) for f in self.frame_dir]
            if len(self.frame_dir) != len(self.scores):
                raise FusionError(
                    f"{self.name}: {len(self.scores)} score rows but {len(self.frame_dir)} frame_dir"
                )


def default_weights(num_streams: int) -> list[float]:
    """PYSKL's weights for ``num_streams`` streams (2:2:1:1 for four, 1:1 for two; equal otherwise)."""
    if num_streams < 1:
        raise FusionError("need at least one stream to fuse")
    return list(_PYSKL_WEIGHTS.get(num_streams, (1.0,) * num_streams))


def check_aligned(streams: Sequence[StreamScores]) -> None:
    """Refuse streams whose samples, order, labels or class counts differ.

    Raises:
        FusionError: naming the stream and the first mismatching sample (index, frame_dir, label).
    """
    if not streams:
        raise FusionError("no result sets given")
    ref = streams[0]
    for s in streams[1:]:
        if s.scores.shape[0] != ref.scores.shape[0]:
            raise FusionError(
                f"{s.name} has {s.scores.shape[0]} samples but {ref.name} has {ref.scores.shape[0]}"
            )
        if s.scores.shape[1] != ref.scores.shape[1]:
            raise FusionError(
                f"{s.name} has {s.scores.shape[1]} classes but {ref.name} has {ref.scores.shape[1]}"
            )
        if ref.frame_dir is not None and s.frame_dir is not None and s.frame_dir != ref.frame_dir:
            i = next(i for i, (a, b) in enumerate(zip(ref.frame_dir, s.frame_dir)) if a != b)
            where = ref.frame_dir.index(s.frame_dir[i]) if s.frame_dir[i] in ref.frame_dir else None
            hint = (
                f" ({s.frame_dir[i]!r} is sample {where} in {ref.name}: same samples, other order?)"
                if where is not None
                else ""
            )
            raise FusionError(
                f"sample order differs: sample {i} is {ref.frame_dir[i]!r} in {ref.name} but "
                f"{s.frame_dir[i]!r} in {s.name}{hint}"
            )
        if ref.labels is not None and s.labels is not None and not np.array_equal(ref.labels, s.labels):
            i = int(np.flatnonzero(ref.labels != s.labels)[0])
            name = f" ({ref.frame_dir[i]!r})" if ref.frame_dir is not None else ""
            raise FusionError(
                f"labels differ: sample {i}{name} has label {int(ref.labels[i])} in {ref.name} but "
                f"{int(s.labels[i])} in {s.name}"
            )


def _check_weights(weights: Sequence[float], n: int) -> np.ndarray:
    w = np.asarray(list(weights), dtype=np.float64)
    if w.shape != (n,):
        raise FusionError(f"{len(w)} weights for {n} streams")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise FusionError(f"weights must be finite, non-negative and not all zero, got {list(w)}")
    return w


def fuse_scores(scores: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted mean of ``[N, K]`` score arrays (weights normalised to sum 1; default PYSKL's)."""
    arrs = [np.asarray(s, dtype=np.float64) for s in scores]
    if not arrs:
        raise FusionError("no scores to fuse")
    if any(a.shape != arrs[0].shape for a in arrs):
        raise FusionError(f"score arrays differ in shape: {[a.shape for a in arrs]}")
    w = _check_weights(default_weights(len(arrs)) if weights is None else weights, len(arrs))
    w = w / w.sum()
    return np.tensordot(w, np.stack(arrs), axes=1).astype(np.float32)


def stream_metrics(scores: np.ndarray, labels: np.ndarray, topk: Sequence[int] = (1, 5)) -> dict[str, float]:
    """``top{k}_acc`` for each k (k capped at the class count) and ``mean_class_accuracy``."""
    ks = sorted({min(int(k), scores.shape[1]) for k in topk})
    out = {f"top{k}_acc": acc for k, acc in zip(ks, top_k_accuracy(scores, labels, ks))}
    out["mean_class_accuracy"] = mean_class_accuracy(scores, labels)
    return out


def search_weights(
    scores: Sequence[np.ndarray],
    labels: np.ndarray,
    grid: Sequence[float] = DEFAULT_GRID,
    prefer: Sequence[float] | None = None,
) -> tuple[list[float], dict[str, float]]:
    """Grid search of per-stream weights maximising top-1 on (validation) results.

    Every combination of ``grid`` values (all-zero skipped; proportional duplicates kept once) is scored
    by top-1 accuracy; ties go to higher mean-class accuracy, then to the weights closest (L1, after
    normalising) to ``prefer`` (default PYSKL's), so the search never moves off the convention for nothing.

    Returns:
        ``(weights, {'top1_acc', 'mean_class_accuracy'})`` of the chosen combination.
    """
    stack = np.stack([np.asarray(s, dtype=np.float32) for s in scores])  # S, N, K
    n_streams, n, k = stack.shape
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(labels) != n:
        raise FusionError(f"{n} score rows but {len(labels)} labels")
    ref = _check_weights(default_weights(n_streams) if prefer is None else prefer, n_streams)
    ref = ref / ref.sum()
    combos, seen = [], set()
    for c in itertools.product(sorted({float(g) for g in grid}), repeat=n_streams):
        c = np.asarray(c)
        if c.sum() <= 0 or np.any(c < 0):
            continue
        key = tuple(np.round(c / c.sum(), 9))
        if key not in seen:
            seen.add(key)
            combos.append(c)
    if not combos:
        raise FusionError(f"the grid {list(grid)} gives no usable weights")
    weights = np.stack(combos).astype(np.float32)  # C, S
    flat = stack.reshape(n_streams, n * k)
    chunk = max(1, int(2e7 // max(1, n * k)))
    top1 = np.empty(len(weights))
    for lo in range(0, len(weights), chunk):
        fused = (weights[lo : lo + chunk] @ flat).reshape(-1, n, k)  # chunk, N, K
        top1[lo : lo + chunk] = (fused.argmax(-1) == labels).mean(-1)
    best = np.flatnonzero(top1 >= top1.max() - 1e-12)
    ranked = []
    for i in best:
        w = weights[i].astype(np.float64)
        mca = mean_class_accuracy(np.tensordot(w, stack, axes=1), labels)
        ranked.append((-mca, float(np.abs(w / w.sum() - ref).sum()), int(i)))
    neg_mca, _, i = min(ranked)
    return [float(v) for v in weights[i]], {"top1_acc": float(top1[i]), "mean_class_accuracy": -neg_mca}


def load_stream(
    path: str, name: str | None = None, ann_file: str | None = None, split: str | None = None
) -> StreamScores:
    """Read one stream's results file (see :mod:`pyskl.core.results` for the formats).

    PYSKL's list results carry no labels or sample names: they come from ``ann_file`` / ``split``, in the
    annotation file's order, as PYSKL's test does. Given with labelled results, ``ann_file`` must agree.
    """
    from pathlib import Path

    from .results import load_results

    rec = load_results(path)
    name = name or Path(path).stem
    scores, labels, frame_dir = rec["scores"], rec["labels"], rec["frame_dir"]
    meta = {k: rec[k] for k in ("metrics", "average_clips", "format")}
    if ann_file is not None:
        ann_labels, ann_dirs = _annotation_labels(ann_file, split)
        if len(ann_labels) != len(scores):
            raise FusionError(
                f"{path}: {len(scores)} results but {ann_file} split {split!r} has {len(ann_labels)} samples"
            )
        if labels is not None and not np.array_equal(labels, ann_labels):
            raise FusionError(f"{path}: labels disagree with {ann_file} split {split!r}")
        labels, frame_dir = ann_labels, frame_dir if frame_dir is not None else ann_dirs
    return StreamScores(name=name, scores=scores, labels=labels, frame_dir=frame_dir, meta=meta)


def _annotation_labels(ann_file: str, split: str | None) -> tuple[np.ndarray, list[str]]:
    """Labels and frame_dirs of ``split`` of an annotation file, in the file's order."""
    from ..datasets.io import load_annotations  # restricted unpickler: runs nothing it names

    anns = load_annotations(ann_file, validate=False)
    if isinstance(anns, dict):
        items = anns.get("annotations", [])
        if split is not None:
            if split not in anns.get("split", {}):
                raise FusionError(f"{ann_file}: no split {split!r} (has {sorted(anns.get('split', {}))})")
            keep = set(anns["split"][split])
            items = [a for a in items if a["frame_dir"] in keep]
    else:
        items = anns
    labels = np.asarray([int(np.asarray(a["label"]).reshape(-1)[0]) for a in items], dtype=np.int64)
    return labels, [str(a["frame_dir"]) for a in items]


def fusion_report(
    streams: Sequence[StreamScores], weights: Sequence[float] | None = None, topk: Sequence[int] = (1, 5)
) -> dict:
    """Check alignment, fuse, and score every stream and the fusion.

    Returns:
        ``{'weights': {name: w}, 'streams': {name: metrics}, 'fused': metrics, 'num_samples': N,
        'fused_scores': [N, K] array}`` (metrics as :func:`stream_metrics`).
    """
    check_aligned(streams)
    labels = streams[0].labels
    if labels is None:
        raise FusionError(f"{streams[0].name} has no labels: pass the annotation file (--ann-file, --split)")
    w = default_weights(len(streams)) if weights is None else [float(v) for v in weights]
    fused = fuse_scores([s.scores for s in streams], w)
    return {
        "weights": {s.name: wi for s, wi in zip(streams, w)},
        "streams": {s.name: stream_metrics(s.scores, labels, topk) for s in streams},
        "fused": stream_metrics(fused, labels, topk),
        "num_samples": len(labels),
        "fused_scores": fused,
    }


def format_report(report: dict) -> str:
    """A Markdown table of :func:`fusion_report`'s metrics (percent), fused row last."""
    rows = list(report["streams"].items()) + [("fused", report["fused"])]
    keys = list(report["fused"])
    lines = ["| stream | weight | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for name, metrics in rows:
        weight = (
            ":".join(f"{w:g}" for w in report["weights"].values())
            if name == "fused"
            else f"{report['weights'][name]:g}"
        )
        lines.append(f"| {name} | {weight} | " + " | ".join(f"{100 * metrics[k]:.2f}" for k in keys) + " |")
    return "\n".join(lines)
