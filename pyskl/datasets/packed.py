"""Packed annotation format: every sample's arrays in contiguous memory-mapped ``.npy`` files.

A PYSKL pickle keeps one Python object per array per sample; every DataLoader worker that
touches them un-shares their pages (reference counts live beside the data), so memory grows
with workers x dataset size. A packed directory instead holds, per array field and dtype, one
flat ``.npy`` file that all processes map read-only, plus a small index::

    OUT_DIR/
      index.json                     format version, split, per-sample scalar columns, key orders
      <field>.<dtype>.npy            1-D concatenation of that field's arrays (memory-mapped)
      <field>.layout.npy             int64 [N, 2 + ndim]: dtype slot (-1 = absent), offset, shape

``open_packed(path)`` returns ``(split, annotations)`` where ``annotations`` is a lazy
``Sequence`` of dicts equal to the pickle's (same keys in the same order, same dtypes and values;
arrays are fresh copies so pipelines may modify them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "PackedAnnotations", "PackedFormatError", "is_packed", "open_packed", "write_packed"]

FORMAT = "pyskl-packed"
VERSION = 1
INDEX = "index.json"
_MISSING = {"__missing__": True}


class PackedFormatError(ValueError):
    """A packed directory is malformed, or a sample holds a value the format cannot store."""


# ----------------------------------------------------------------------------- JSON value codec
def _encode(value: Any, where: str) -> Any:
    """JSON form of a non-array field value that decodes back to an equal value of the same type."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, np.integer):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        if value.dtype.kind == "O":
            raise PackedFormatError(f"{where}: object scalars cannot be packed")
        return {
            "__np__": value.dtype.str,
            "v": value.item() if value.dtype.kind not in "fc" else repr(value.item()),
        }
    if isinstance(value, np.ndarray):  # only nested inside containers; top-level arrays go to files
        if value.dtype.kind == "O":
            raise PackedFormatError(f"{where}: object arrays cannot be packed")
        return {"__nd__": value.dtype.str, "shape": list(value.shape), "b": value.tobytes().hex()}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not any(k.startswith("__") for k in value):
            return {k: _encode(v, where) for k, v in value.items()}
        return {"__dict__": [[_encode(k, where), _encode(v, where)] for k, v in value.items()]}
    raise PackedFormatError(f"{where}: values of type {type(value).__name__} cannot be packed")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__np__" in value:
        dtype = np.dtype(value["__np__"])
        raw = value["v"]
        return dtype.type(complex(raw) if dtype.kind == "c" else float(raw) if dtype.kind == "f" else raw)
    if "__nd__" in value:
        return np.frombuffer(bytes.fromhex(value["b"]), dtype=value["__nd__"]).reshape(value["shape"]).copy()
    if "__float__" in value:
        return float(value["__float__"])
    if "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    return {k: _decode(v) for k, v in value.items()}


# ----------------------------------------------------------------------------- writer
def _unpack_input(data: Any) -> tuple[dict, list[dict]]:
    if isinstance(data, dict) and "annotations" in data:
        return dict(data.get("split") or {}), list(data["annotations"])
    if isinstance(data, (list, tuple, Sequence)):
        return {}, list(data)
    raise PackedFormatError("expected {'split': ..., 'annotations': [...]} or a list of annotation dicts")


def _array_fields(annotations: list[dict]) -> dict[str, tuple[list[np.dtype], int]]:
    """Fields stored as flat files: every present value is a non-object ndarray of one ndim."""
    candidates: dict[str, tuple[list[np.dtype], int]] = {}
    rejected: set[str] = set()
    for sample in annotations:
        for key, value in sample.items():
            if key in rejected:
                continue
            if not isinstance(value, np.ndarray) or value.dtype.kind == "O" or value.dtype.names:
                rejected.add(key)
                candidates.pop(key, None)
                continue
            dtypes, ndim = candidates.setdefault(key, ([], value.ndim))
            if value.ndim != ndim:
                rejected.add(key)
                candidates.pop(key, None)
                continue
            if value.dtype not in dtypes:
                dtypes.append(value.dtype)
    return candidates


def write_packed(data: Any, out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write annotations (a PYSKL annotation dict or a list of samples) as a packed directory.

    The directory is assembled beside ``out_dir`` and renamed into place, so a reader never sees
    a half-written one.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False.
        PackedFormatError: a sample holds a value the format cannot store (named in the message).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists (pass overwrite=True / --overwrite)")
    split, annotations = _unpack_input(data)
    for i, sample in enumerate(annotations):
        if not isinstance(sample, dict):
            raise PackedFormatError(f"sample {i}: expected a dict, got {type(sample).__name__}")
    num = len(annotations)
    arrays = _array_fields(annotations)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        array_meta = {}
        for field, (dtypes, ndim) in arrays.items():
            layout = np.full((num, 2 + ndim), -1, dtype=np.int64)
            totals = [0] * len(dtypes)
            for i, sample in enumerate(annotations):
                if field in sample:
                    value = sample[field]
                    slot = dtypes.index(value.dtype)
                    layout[i, 0] = slot
                    layout[i, 1] = totals[slot]
                    layout[i, 2:] = value.shape
                    totals[slot] += value.size
            files = []
            for slot, dtype in enumerate(dtypes):
                name = f"{field}.{dtype.str.replace('<', 'le').replace('>', 'be').replace('|', '')}.npy"
                flat = np.lib.format.open_memmap(tmp / name, mode="w+", dtype=dtype, shape=(totals[slot],))
                for i in np.flatnonzero(layout[:, 0] == slot):
                    value = annotations[i][field]
                    flat[layout[i, 1] : layout[i, 1] + value.size] = value.reshape(-1)
                flat.flush()
                del flat
                files.append(name)
            np.save(tmp / f"{field}.layout.npy", layout)
            array_meta[field] = {"files": files, "ndim": ndim}

        key_orders: list[list[str]] = []
        order_ids = []
        columns: dict[str, list] = {}
        for i, sample in enumerate(annotations):
            keys = list(sample)
            if keys not in key_orders:
                key_orders.append(keys)
            order_ids.append(key_orders.index(keys))
            for key, value in sample.items():
                if key in arrays:
                    continue
                col = columns.setdefault(key, [_MISSING] * i)
                col.append(_encode(value, f"sample {sample.get('frame_dir', i)!r} (index {i}) field {key!r}"))
            for col in columns.values():
                if len(col) == i:
                    col.append(_MISSING)
        index = {
            "format": FORMAT,
            "version": VERSION,
            "num_samples": num,
            "split": {str(k): [str(x) for x in v] for k, v in split.items()},
            "key_orders": key_orders,
            "key_order_ids": order_ids,
            "columns": columns,
            "arrays": array_meta,
        }
        with open(tmp / INDEX, "w", encoding="utf-8") as f:
            json.dump(index, f, separators=(",", ":"))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


# ----------------------------------------------------------------------------- reader
def is_packed(path: str | os.PathLike) -> bool:
    """True if ``path`` is a directory holding a packed index."""
    return (Path(path) / INDEX).is_file()


class PackedAnnotations(Sequence):
    """Lazy, read-only sequence of annotation dicts backed by memory-mapped arrays.

    Pickles as its path only, so DataLoader workers (fork or spawn) re-map the same files
    instead of copying samples.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).resolve()  # absolute: workers may run elsewhere
        index_file = self.path / INDEX
        try:
            with open(index_file, encoding="utf-8") as f:
                index = json.load(f)
        except FileNotFoundError:
            raise PackedFormatError(f"{self.path}: not a packed annotation directory (no {INDEX})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise PackedFormatError(f"{index_file}: corrupt index ({err})") from None
        if index.get("format") != FORMAT or index.get("version") != VERSION:
            raise PackedFormatError(
                f"{index_file}: format {index.get('format')!r} version "
                f"{index.get('version')!r}, expected {FORMAT!r} version {VERSION}"
            )
        self.split: dict[str, list[str]] = index["split"]
        self._num = int(index["num_samples"])
        self._key_orders: list[list[str]] = index["key_orders"]
        self._order_ids: list[int] = index["key_order_ids"]
        self._columns: dict[str, list] = index["columns"]
        self._arrays: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
        for field, meta in index["arrays"].items():
            try:
                layout = np.load(self.path / f"{field}.layout.npy")
                flats = [np.load(self.path / name, mmap_mode="r") for name in meta["files"]]
            except (OSError, ValueError) as err:
                raise PackedFormatError(f"{self.path}: cannot map array field {field!r}: {err}") from None
            if layout.shape != (self._num, 2 + meta["ndim"]):
                raise PackedFormatError(
                    f"{self.path}: {field}.layout.npy has shape {layout.shape}, "
                    f"expected {(self._num, 2 + meta['ndim'])}"
                )
            self._arrays[field] = (layout, flats)

    def __len__(self) -> int:
        return self._num

    def _array(self, field: str, i: int) -> np.ndarray | None:
        layout, flats = self._arrays[field]
        row = layout[i]
        if row[0] < 0:
            return None
        shape = tuple(int(s) for s in row[2:])
        size = int(np.prod(shape, dtype=np.int64))
        start = int(row[1])
        return np.array(flats[row[0]][start : start + size]).reshape(shape)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._num))]
        i = int(index)
        if i < 0:
            i += self._num
        if not 0 <= i < self._num:
            raise IndexError(f"sample index {index} out of range for {self._num} samples")
        sample = {}
        for key in self._key_orders[self._order_ids[i]]:
            if key in self._arrays:
                sample[key] = self._array(key, i)
            else:
                sample[key] = _decode(self._columns[key][i])
        return sample

    def column(self, key: str) -> list:
        """One scalar field for every sample (``None`` where absent), without touching arrays."""
        if key not in self._columns:
            raise KeyError(f"{self.path}: no scalar field {key!r} (fields: {', '.join(self._columns)})")
        return [None if v == _MISSING else _decode(v) for v in self._columns[key]]

    def scalar_fields(self) -> list[str]:
        """Names of the fields stored in the index (not as arrays)."""
        return list(self._columns)

    def array_nbytes(self) -> int:
        """Bytes held in the memory-mapped array files."""
        return sum(int(f.nbytes) for _, flats in self._arrays.values() for f in flats)

    def __reduce__(self):
        return (type(self), (str(self.path),))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {self._num} samples)"


def open_packed(path: str | os.PathLike) -> tuple[dict[str, list[str]], PackedAnnotations]:
    """Open a packed directory: ``(split dict, lazy sequence of annotation dicts)``."""
    annotations = PackedAnnotations(path)
    return {k: list(v) for k, v in annotations.split.items()}, annotations


def pack_samples(
    samples: Iterable[dict], out_dir: str | os.PathLike, split: dict | None = None, overwrite: bool = False
) -> Path:
    """Convenience wrapper: pack an iterable of samples with an optional split dict."""
    return write_packed({"split": split or {}, "annotations": list(samples)}, out_dir, overwrite=overwrite)
