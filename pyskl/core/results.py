"""The per-sample results file: written by ``pyskl test --out`` and ``pyskl fuse --out``, read by
``pyskl fuse``, ``pyskl vis confusion`` and ``pyskl train-streams``.

Three formats are read:

* pyskl's own (``.pkl`` or ``.json``)::

      {"scores": float32 [N, K], "labels": int64 [N], "frame_dir": [str] * N,
       "metrics": {name: value}, "average_clips": str | None}

* PYSKL's ``tools/test.py --out``: a pickled list of per-sample score arrays (no labels; they come from
  the annotation file the results were tested on).
* MMAction2 1.x's ``tools/test.py --dump``: a pickled list of dicts with ``pred_score`` and ``gt_label``
  torch tensors.

Pickles are read through a restricted unpickler: builtin containers/scalars and numpy arrays, and for
MMAction2's files the functions that rebuild a torch tensor from its storage, nothing else. Our own
and PYSKL's formats never import torch.
"""
from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.atomic import atomic_write

__all__ = ["ResultsError", "save_results", "load_results", "RESULT_SUFFIXES"]

#: file endings :func:`save_results` writes
RESULT_SUFFIXES = (".pkl", ".pickle", ".json")

# Bound what one results file may make the reader allocate (a results file has N x K floats).
_MAX_JSON_BYTES = 2 * 1024**3


class ResultsError(ValueError):
    """A results file that is missing, corrupt, or not in a format pyskl reads (the message names it)."""


def save_results(path: str | os.PathLike, scores: np.ndarray, labels: np.ndarray, frame_dirs: list[str],
                 metrics: dict[str, float] | None = None, average_clips: str | None = "prob") -> Path:
    """Write per-sample scores, labels and sample names as ``.pkl`` or ``.json`` (by suffix), atomically.

    Args:
        path: destination; its suffix chooses the format (``.pkl``/``.pickle`` or ``.json``).
        scores: ``[N, K]`` clip-averaged scores.
        labels: ``[N]`` ground-truth labels.
        frame_dirs: ``N`` sample names.
        metrics: metric name -> value, stored alongside.
        average_clips: how the clip scores were averaged (``'prob'``, ``'score'``, ``None``, ``'fused'``).

    Returns:
        The destination path.
    """
    path = Path(path)
    if path.suffix not in RESULT_SUFFIXES:
        raise ResultsError(f"{path}: a results file must end in .pkl or .json")
    record = {"scores": np.asarray(scores, dtype=np.float32), "labels": np.asarray(labels, dtype=np.int64),
              "frame_dir": [str(f) for f in frame_dirs], "metrics": {k: float(v) for k, v in (metrics or {}).items()},
              "average_clips": average_clips}
    if len(record["frame_dir"]) != len(record["scores"]) or len(record["labels"]) != len(record["scores"]):
        raise ResultsError(f"{path}: {len(record['scores'])} score rows, {len(record['labels'])} labels and "
                           f"{len(record['frame_dir'])} sample names must agree")
    if path.suffix == ".json":
        text = json.dumps(dict(record, scores=record["scores"].tolist(), labels=record["labels"].tolist()))
        return atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))
    return atomic_write(path, lambda stream: pickle.dump(record, stream, protocol=4))


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results file in any of the three formats.

    Returns:
        ``{"scores": float32 [N, K], "labels": int64 [N] or None, "frame_dir": [str] or None,
        "metrics": dict, "average_clips": str | None, "format": "pyskl" | "pyskl-list" | "mmaction2"}``.

    Raises:
        ResultsError: the file is missing, unreadable, refers to anything but arrays and tensors, or
            holds something other than results; the message names the file.
    """
    source = os.fspath(path)
    p = Path(source)
    if not p.exists():
        raise ResultsError(f"{source}: results file not found")
    if p.is_dir():
        raise ResultsError(f"{source}: is a folder, not a results file")
    if p.suffix == ".json":
        if p.stat().st_size > _MAX_JSON_BYTES:
            raise ResultsError(f"{source}: {p.stat().st_size} bytes is too large for a results file")
        try:
            record = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ResultsError(f"{source}: not a JSON results file ({err})") from None
    else:
        record = _unpickle(p, source)
    return _interpret(record, source)


def _interpret(record: Any, source: str) -> dict[str, Any]:
    if isinstance(record, dict) and "scores" in record:
        scores = _score_matrix(record["scores"], source)
        labels = record.get("labels")
        labels = None if labels is None else _label_vector(labels, len(scores), source)
        frame_dir = record.get("frame_dir")
        frame_dir = None if frame_dir is None else [str(f) for f in frame_dir]
        return {"scores": scores, "labels": labels, "frame_dir": frame_dir,
                "metrics": dict(record.get("metrics") or {}),
                "average_clips": record.get("average_clips"), "format": "pyskl"}
    if isinstance(record, (list, tuple)) and record and all(isinstance(r, dict) and "pred_score" in r for r in record):
        scores = _score_matrix([_to_numpy(r["pred_score"]).reshape(-1) for r in record], source)
        has_labels = all("gt_label" in r for r in record)
        labels = (_label_vector([_to_numpy(r["gt_label"]).reshape(-1)[:1] for r in record], len(scores), source)
                  if has_labels else None)
        names = [r.get("frame_dir") for r in record]
        frame_dir = [str(n) for n in names] if all(n is not None for n in names) else None
        return {"scores": scores, "labels": labels, "frame_dir": frame_dir, "metrics": {},
                "average_clips": None, "format": "mmaction2"}
    if isinstance(record, (list, tuple)) and record and all(np.ndim(r) == 1 for r in record):
        return {"scores": _score_matrix(list(record), source), "labels": None, "frame_dir": None, "metrics": {},
                "average_clips": None, "format": "pyskl-list"}
    what = f"a {type(record).__name__}"
    if isinstance(record, dict):
        what += f" with keys {sorted(map(str, record))[:8]}"
    if isinstance(record, dict) and "annotations" in record:
        what += " (an annotation file, not test results)"
    raise ResultsError(f"{source}: not a results file: it holds {what}; expected pyskl test --out's "
                       "{'scores', 'labels', 'frame_dir'} dict, PYSKL's list of score arrays, or MMAction2's "
                       "list of {'pred_score', 'gt_label'} dicts")


def _score_matrix(rows: Any, source: str) -> np.ndarray:
    try:
        scores = np.asarray(rows if not isinstance(rows, list) else np.stack(rows), dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise ResultsError(f"{source}: scores are not a [N, num_classes] array of numbers ({err})") from None
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ResultsError(f"{source}: scores must be a non-empty [N, num_classes] array, got shape {scores.shape}")
    return scores


def _label_vector(labels: Any, n: int, source: str) -> np.ndarray:
    try:
        out = np.asarray(labels).reshape(-1).astype(np.int64)
    except (ValueError, TypeError) as err:
        raise ResultsError(f"{source}: labels are not integers ({err})") from None
    if len(out) != n:
        raise ResultsError(f"{source}: {n} score rows but {len(out)} labels")
    return out


def _to_numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


# -------------------------------------------------------------------------------- restricted unpickler
def _load_tensor_storage(data: bytes) -> Any:
    """What ``torch.storage._load_from_bytes`` does, with torch's weights-only loader (runs nothing)."""
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)


def _torch_global(module: str, name: str) -> Any:
    """The torch functions a pickled tensor names (rebuild a tensor from its storage), else None."""
    if (module, name) == ("torch.storage", "_load_from_bytes"):
        return _load_tensor_storage
    if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
        import torch._utils

        return getattr(torch._utils, name)
    return None


class _ResultsUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        from ..datasets.io import resolve_safe_global

        value = resolve_safe_global(module, name)
        if value is None:
            value = _torch_global(module, name)
        if value is None:
            raise ResultsError(f"{self._source}: refused to load '{module}.{name}': a results file may only hold "
                               "numbers, lists, dicts, numpy arrays and torch tensors")
        return value

    def persistent_load(self, pid: Any) -> Any:
        raise ResultsError(f"{self._source}: refused persistent id {pid!r} in a results pickle")


def _unpickle(path: Path, source: str) -> Any:
    try:
        with open(path, "rb") as stream:
            return _ResultsUnpickler(stream, source).load()
    except ResultsError:
        raise
    except OSError as err:
        raise ResultsError(f"{source}: cannot read the results file: {err.strerror or err}") from None
    except EOFError:
        raise ResultsError(f"{source}: the results pickle is empty or truncated") from None
    except (RecursionError, MemoryError):
        raise ResultsError(f"{source}: the results pickle is corrupt (too deep or too large)") from None
    except Exception as err:  # any failure inside pickle/numpy/torch means the bytes are not a results file
        raise ResultsError(f"{source}: not a readable results pickle (corrupt or truncated): "
                           f"{type(err).__name__}: {err}") from None
