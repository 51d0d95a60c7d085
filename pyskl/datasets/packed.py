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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "PackedAnnotations", "PackedFormatError", "is_packed", "open_packed", "write_packed"]

FORMAT = "pyskl-packed"
VERSION = 1
INDEX = "index.json"
_MISSING = {"__missing__": True}
_SCALAR_KINDS = "biufcSU"  # what _encode writes; e.g. np.void(n) from an index would allocate n bytes
_MAX_NDIM = 32  # numpy's own limit


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
        if dtype.kind not in _SCALAR_KINDS or not isinstance(raw, (int, float, str, bool)):
            raise ValueError(f"numpy scalar of dtype {dtype} from {type(raw).__name__} is not a packed value")
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
    a half-written one. The output is locked while it is written (a second writer fails at once), and
    temporaries that killed writers of the same output left behind are removed first.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False.
        PackedFormatError: a sample holds a value the format cannot store (named in the message).
        OutputBusyError: another process is writing ``out_dir``.
        DiskFullError: the disk filled up; the partial output is removed.
    """
    from ..utils.atomic import disk_full_error, is_disk_full, temporary_name  # the reader needs neither
    from ..utils.lock import clean_stale_temporaries, lock_output

    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists (pass overwrite=True / --overwrite)")
    split, annotations = _unpack_input(data)
    for i, sample in enumerate(annotations):
        if not isinstance(sample, dict):
            raise PackedFormatError(f"sample {i}: expected a dict, got {type(sample).__name__}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with lock_output(out_dir):
        clean_stale_temporaries(out_dir.parent, out_dir.name)
        tmp = temporary_name(out_dir)
        os.mkdir(tmp)  # not mkdtemp: the umask decides the mode, as for any other output
        try:
            _write_directory(tmp, split, annotations)
            _move_into_place(tmp, out_dir)
        except BaseException as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if is_disk_full(err):
                raise disk_full_error(out_dir, err, "the partial output was removed") from None
            raise
    return out_dir


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    from ..utils.atomic import temporary_name

    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = temporary_name(out_dir)  # a kill between the renames leaves a temporary the next run removes
    os.rename(out_dir, old)
    os.replace(tmp, out_dir)
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def _write_flat(path: Path, dtype: np.dtype, values: Iterable[np.ndarray], total: int) -> None:
    """A 1-D ``.npy`` of ``total`` items written with plain writes (a full disk is an OSError, not SIGBUS)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_2_0(
            f, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (total,)})
        for value in values:
            f.write(np.ascontiguousarray(value, dtype=dtype).tobytes())
        f.flush()
        os.fsync(f.fileno())  # on disk before the directory is renamed into place


def _write_directory(tmp: Path, split: dict, annotations: list[dict]) -> None:
    num = len(annotations)
    arrays = _array_fields(annotations)
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
            rows = np.flatnonzero(layout[:, 0] == slot)
            _write_flat(tmp / name, dtype, (annotations[i][field] for i in rows), totals[slot])
            files.append(name)
        with open(tmp / f"{field}.layout.npy", "wb") as f:
            np.save(f, layout)
            f.flush()
            os.fsync(f.fileno())
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
        f.flush()
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------- reader
def is_packed(path: str | os.PathLike) -> bool:
    """True if ``path`` is a directory holding a packed index."""
    return (Path(path) / INDEX).is_file()


class PackedAnnotations(Sequence):
    """Lazy, read-only sequence of annotation dicts backed by memory-mapped arrays.

    Pickles as its path only, so DataLoader workers (fork or spawn) re-map the same files
    instead of copying samples. Opening checks the whole index against the files it names: every
    file lies inside the directory, every sample's slice lies inside its file, every column has one
    entry per sample; a tampered directory is refused with the entry named.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).resolve()  # absolute: workers may run elsewhere
        index_file = self.path / INDEX
        try:
            with open(index_file, encoding="utf-8") as f:
                index = json.load(f)
        except FileNotFoundError:
            raise PackedFormatError(f"{self.path}: not a packed annotation directory (no {INDEX})") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
            raise PackedFormatError(f"{index_file}: corrupt index ({err})") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT or index.get("version") != VERSION:
            found = index if not isinstance(index, dict) else index.get("format"), index.get("version")
            raise PackedFormatError(f"{index_file}: format {found[0]!r} version {found[1]!r}, "
                                    f"expected {FORMAT!r} version {VERSION}")
        check = _IndexChecker(index_file, index)
        self._num = check.num_samples()
        self.split: dict[str, list[str]] = check.split()
        self._key_orders, self._order_ids = check.key_orders(self._num)
        self._columns: dict[str, list] = check.columns(self._num)
        self._arrays: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
        for field, meta in check.arrays().items():
            layout_name = _inside(self.path, f"{field}.layout.npy", f"{index_file}: arrays key {field!r}")
            files = [_inside(self.path, name, f"{index_file}: arrays.{field}.files[{i}]")
                     for i, name in enumerate(meta["files"])]
            layout = _read_npy(self.path / layout_name, (self._num, 2 + meta["ndim"]))
            flats = [_map_flat(self.path / name) for name in files]
            _check_layout(self.path / layout_name, layout, flats, files)
            self._arrays[field] = (layout, flats)
        missing = {key for keys in self._key_orders for key in keys} - set(self._columns) - set(self._arrays)
        if missing:
            raise PackedFormatError(f"{index_file}: key_orders name field(s) stored nowhere: {sorted(missing)}")

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
                try:
                    sample[key] = _decode(self._columns[key][i])
                except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as err:
                    raise PackedFormatError(f"{self.path / INDEX}: columns.{key}[{i}] is not a packed value: "
                                            f"{err}") from None
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


# ----------------------------------------------------------------------------- index checks
class _IndexChecker:
    """Type and length checks of ``index.json``; each failure names the entry."""

    def __init__(self, index_file: Path, index: dict) -> None:
        self.file = index_file
        self.index = index

    def fail(self, entry: str, what: str) -> PackedFormatError:
        return PackedFormatError(f"{self.file}: {entry} {what}")

    def num_samples(self) -> int:
        num = self.index.get("num_samples")
        if not isinstance(num, int) or isinstance(num, bool) or num < 0:
            raise self.fail("num_samples", f"is {num!r}; expected a count >= 0")
        return num

    def split(self) -> dict[str, list[str]]:
        split = self.index.get("split", {})
        if not isinstance(split, dict) or not all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in split.values()):
            raise self.fail("split", "is not a dict of name -> list of str")
        return split

    def key_orders(self, num: int) -> tuple[list[list[str]], list[int]]:
        orders, ids = self.index.get("key_orders"), self.index.get("key_order_ids")
        if not isinstance(orders, list) or not all(
                isinstance(keys, list) and all(isinstance(k, str) for k in keys) for keys in orders):
            raise self.fail("key_orders", "is not a list of lists of field names")
        if not isinstance(ids, list) or len(ids) != num:
            raise self.fail("key_order_ids", f"is not a list of {num} entries (one per sample)")
        for i, k in enumerate(ids):
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(orders):
                raise self.fail(f"key_order_ids[{i}]", f"is {k!r}; expected an index into key_orders")
        return orders, ids

    def columns(self, num: int) -> dict[str, list]:
        columns = self.index.get("columns")
        if not isinstance(columns, dict):
            raise self.fail("columns", "is not a dict")
        for key, col in columns.items():
            if not isinstance(col, list) or len(col) != num:
                raise self.fail(f"columns.{key}", f"is not a list of {num} entries (one per sample)")
        return columns

    def arrays(self) -> dict[str, dict]:
        arrays = self.index.get("arrays")
        if not isinstance(arrays, dict):
            raise self.fail("arrays", "is not a dict")
        for field, meta in arrays.items():
            if not isinstance(meta, dict) or not isinstance(meta.get("files"), list) or not all(
                    isinstance(name, str) for name in meta["files"]):
                raise self.fail(f"arrays.{field}", "needs 'files': a list of file names")
            ndim = meta.get("ndim")
            if not isinstance(ndim, int) or isinstance(ndim, bool) or not 0 <= ndim <= _MAX_NDIM:
                raise self.fail(f"arrays.{field}.ndim", f"is {ndim!r}; expected 0..{_MAX_NDIM}")
        return arrays


def _inside(directory: Path, name: str, entry: str) -> str:
    """``name`` if it is a plain file name that resolves to a file inside ``directory``."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or os.path.isabs(name) or (directory / name).resolve().parent != directory)
    if bad:
        raise PackedFormatError(f"{entry} is {name!r}: the files of a packed directory must lie inside it "
                                f"({directory}); refusing to read it")
    return name


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` file, checked against the file's size."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
    except (OSError, ValueError, SyntaxError) as err:
        raise PackedFormatError(f"{path}: not a readable .npy file: {err}") from None
    if dtype.hasobject or fortran:
        raise PackedFormatError(f"{path}: holds {'objects' if dtype.hasobject else 'a Fortran-order array'}; "
                                "packed arrays are plain C-order numbers")
    count = 1
    for dim in shape:
        count *= dim
    if offset + count * dtype.itemsize != path.stat().st_size:
        raise PackedFormatError(f"{path}: its header says {shape} of {dtype} ({count * dtype.itemsize} bytes) but "
                                f"the file holds {path.stat().st_size - offset} bytes of data")
    return shape, dtype, offset


def _read_npy(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    found, dtype, _ = _npy_header(path)
    if found != shape or dtype.kind not in "iu":
        raise PackedFormatError(f"{path}: holds {found} of {dtype}, expected integers of shape {shape}")
    return np.load(path).astype(np.int64)


def _map_flat(path: Path) -> np.ndarray:
    shape, _, _ = _npy_header(path)
    if len(shape) != 1:
        raise PackedFormatError(f"{path}: holds shape {shape}; packed array files are 1-D")
    if shape[0] == 0:
        return np.load(path)  # an empty file cannot be mapped
    return np.load(path, mmap_mode="r")


def _check_layout(path: Path, layout: np.ndarray, flats: list[np.ndarray], files: list[str]) -> None:
    """Every present sample's slot names a file and its slice ``[offset, offset + size)`` lies inside it."""
    slots, offsets, shapes = layout[:, 0], layout[:, 1], layout[:, 2:]
    bad = np.flatnonzero((slots < -1) | (slots >= len(flats)))
    if bad.size:
        raise PackedFormatError(f"{path}: row {bad[0]} names file slot {slots[bad[0]]}; the index lists "
                                f"{len(flats)} file(s)")
    present = slots >= 0
    bad = np.flatnonzero(present & ((offsets < 0) | (shapes < 0).any(axis=1)))
    if bad.size:
        raise PackedFormatError(f"{path}: row {bad[0]} has a negative offset or dimension {layout[bad[0]].tolist()}")
    lengths = np.array([len(f) for f in flats] + [0], dtype=np.float64)[slots]  # slot -1 -> 0
    # float64 first: a product of huge dimensions would wrap around in int64
    ends = offsets.astype(np.float64) + np.prod(shapes.astype(np.float64), axis=1)
    bad = np.flatnonzero(present & (ends > lengths))
    if bad.size:
        row = bad[0]
        raise PackedFormatError(f"{path}: row {row} (offset {offsets[row]}, shape {tuple(shapes[row].tolist())}) "
                                f"reaches past the end of {files[slots[row]]} ({int(lengths[row])} items)")



def open_packed(path: str | os.PathLike) -> tuple[dict[str, list[str]], PackedAnnotations]:
    """Open a packed directory: ``(split dict, lazy sequence of annotation dicts)``."""
    annotations = PackedAnnotations(path)
    return {k: list(v) for k, v in annotations.split.items()}, annotations


def pack_samples(
    samples: Iterable[dict], out_dir: str | os.PathLike, split: dict | None = None, overwrite: bool = False
) -> Path:
    """Convenience wrapper: pack an iterable of samples with an optional split dict."""
    return write_packed({"split": split or {}, "annotations": list(samples)}, out_dir, overwrite=overwrite)
