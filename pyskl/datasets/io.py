"""Reading and writing PYSKL annotation pickles safely.

PYSKL annotation files are plain pickles (``{'split': {...}, 'annotations': [...]}`` or a bare list of
annotation dicts). ``pickle.load`` would run any callable the file names, so files are read through a
restricted unpickler that resolves only builtin containers/scalars and numpy arrays/dtypes/scalars;
anything else is refused before it is called. What those may allocate is charged to a budget
proportional to the file's size, so a small crafted file cannot claim gigabytes.
"""
from __future__ import annotations

import _compat_pickle
import codecs
import collections
import functools
import importlib
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.atomic import atomic_write
from .validation import AnnotationError, validate_annotations

__all__ = [
    "AnnotationError",
    "AnnotationFileNotFoundError",
    "load_annotations",
    "loads_annotations",
    "save_annotations",
]


class AnnotationFileNotFoundError(AnnotationError, FileNotFoundError):
    """The annotation file does not exist (both an ``AnnotationError`` and a ``FileNotFoundError``)."""


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    # Protocol 0-2 pickles store ``bytes`` (e.g. ndarray buffers) as ``_codecs.encode(str, 'latin1')``.
    # Only that use is admitted: other codecs are not needed to rebuild arrays.
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1" or errors != "strict":
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed as latin1 text->bytes, got {encoding!r}")
    return text.encode("latin1")


_BUILTINS: dict[str, Any] = {
    name: getattr(__import__("builtins"), name)
    # what pickle itself references for builtin values (set/frozenset/bytearray/bytes/complex/slice in old
    # protocols) plus the containers a defaultdict may name as its factory; nothing that computes
    for name in ("set", "frozenset", "bytearray", "bytes", "complex", "slice", "list", "dict", "tuple")
}

# (module, name) -> how to resolve it. numpy paths are given without the ``core``/``_core`` prefix choice:
# numpy 1.x pickles say ``numpy.core.multiarray``, numpy 2.x pickles say ``numpy._core.multiarray``.
_NUMPY_CORE_NAMES = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
}


def _numpy_core_attr(submodule: str, name: str) -> Any:
    last_error: Exception | None = None
    for package in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{package}.{submodule}"), name)
        except (ImportError, AttributeError) as err:  # pragma: no cover - depends on numpy version
            last_error = err
    raise pickle.UnpicklingError(f"numpy has no {submodule}.{name}: {last_error}")


@functools.cache
def _reconstruct() -> Any:
    return _numpy_core_attr("multiarray", "_reconstruct")


def _resolve_global(module: str, name: str) -> Any:
    """Return the object a pickle refers to, or ``None`` when it is not on the allow-list."""
    if module in ("builtins", "__builtin__"):
        return _BUILTINS.get(name)
    if module == "collections" and name in ("OrderedDict", "defaultdict", "deque"):
        return getattr(collections, name)
    if module == "_codecs" and name == "encode":
        return _latin1_encode
    if module == "numpy":
        if name in ("ndarray", "dtype"):
            return getattr(np, name)
        if name == "memmap":  # arrays pickled from np.load(mmap_mode=...) come back as plain in-memory arrays
            return np.ndarray
        return None
    if module == "numpy.dtypes":
        value = getattr(getattr(np, "dtypes", None), name, None)
        # numpy 2 dtype classes (``numpy.dtypes.Float32DType``) are dtype subclasses, nothing else.
        return value if isinstance(value, type) and issubclass(value, np.dtype) else None
    for prefix in ("numpy._core.", "numpy.core."):
        if module.startswith(prefix) and (module[len(prefix):], name) in _NUMPY_CORE_NAMES:
            return _numpy_core_attr(module[len(prefix):], name)
    return None


# Allocation budget of one load: legitimate files allocate about their own size (array data, strings).
# PYSKL_MAX_UNPICKLE_BYTES (an absolute number of bytes) replaces the default for every load.
ALLOCATION_FACTOR = 4
ALLOCATION_SLACK = 16 * 2**20
BUDGET_ENV = "PYSKL_MAX_UNPICKLE_BYTES"
_POINTER = 8  # bytes per element of a list/tuple/set/dict built from an iterable


def _default_budget(size: int, source: str) -> tuple[int, str]:
    """The allocation budget for a file of ``size`` bytes, and how it was set (for messages)."""
    override = os.environ.get(BUDGET_ENV)
    if override is None:
        return (ALLOCATION_FACTOR * size + ALLOCATION_SLACK,
                f"{ALLOCATION_FACTOR}x the file size + {ALLOCATION_SLACK // 2**20} MiB; set {BUDGET_ENV} to change it")
    try:
        return int(override), f"{BUDGET_ENV}={override}"
    except ValueError:
        raise AnnotationError(f"{source}: {BUDGET_ENV}={override!r} is not a number of bytes") from None


def _sized(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


class _RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """Pickle's Python unpickler, with globals from an allow-list and every allocation charged to a budget.

    The Python implementation is used because the C one grows its memo table to any index a file names
    (a 9-byte pickle can take gigabytes) and allocates counted byte strings before reading them. It reads
    from memory (``io.BytesIO``), which never allocates past the end of the data whatever length a
    corrupt file claims.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, data: bytes, source: str, max_bytes: int | None = None) -> None:
        self._data = io.BytesIO(data)
        super().__init__(self._data)
        size = self._size = len(data)
        self._source = source
        self._budget, self._budget_rule = ((max_bytes, f"max_bytes={max_bytes}") if max_bytes is not None
                                           else _default_budget(size, source))

    def load(self) -> Any:
        """Pickle's own loop, reading straight from memory: frames need no buffering when all data is there."""
        self.read, self.readinto, self.readline = self._data.read, self._data.readinto, self._data.readline
        self.metastack = []
        self.stack: list = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch = self.read, self.dispatch
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                dispatch[key[0]](self)
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            return stop.value

    def load_frame(self) -> None:
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self._size - self._data.tell():
            raise pickle.UnpicklingError(f"a frame of {size} bytes runs past the end of the data")

    def refuse(self, what: str) -> AnnotationError:
        return AnnotationError(f"{self._source}: refused {what} in annotation pickle")

    def charge(self, nbytes: int, what: str) -> None:
        if nbytes > self._budget:
            raise AnnotationError(
                f"{self._source}: refused {what}: it asks for {nbytes} more bytes than this file may use "
                f"({self._budget} left of a budget of {self._budget_rule}); the file is corrupt or crafted")
        self._budget -= nbytes

    def find_class(self, module: str, name: str) -> Any:
        # Protocol <= 2 pickles use Python 2 names (__builtin__, commands, ...); map them as pickle does.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        value = _resolve_global(module, name)
        if value is None:
            raise AnnotationError(
                f"{self._source}: refused to load global '{module}.{name}': annotation pickles may only contain "
                "builtin containers/scalars and numpy arrays (the file is corrupt or was not written by PYSKL)")
        return value

    def persistent_load(self, pid: Any) -> Any:
        raise AnnotationError(f"{self._source}: refused persistent id {pid!r} in annotation pickle")

    def call(self, func: Any, args: tuple) -> Any:
        """``func(*args)`` for an allowed global, after charging what it will allocate."""
        name = "_codecs.encode" if func is _latin1_encode else getattr(func, "__name__", repr(func))
        if func is np.ndarray:
            raise self.refuse("a direct call of numpy.ndarray (arrays are rebuilt with _reconstruct)")
        if func in (bytes, bytearray) and args and isinstance(args[0], int):
            self.charge(args[0], f"{name}({args[0]})")
        elif func is _reconstruct():
            if len(args) != 3 or args[0] is not np.ndarray:
                raise self.refuse(f"_reconstruct{_short_args(args)}")
            count = np.dtype(args[2]).itemsize
            for dim in args[1] if isinstance(args[1], tuple) else (args[1],):
                count *= int(dim)
            self.charge(max(count, 0), f"an array of shape {_short_args(args[1])}")
        elif func is _latin1_encode or func in (bytes, bytearray):
            self.charge(sum(_sized(a) for a in args[:1]), f"{name} of a {type(args[0]).__name__}" if args else name)
        elif func in (list, tuple, set, frozenset, dict, collections.OrderedDict, collections.deque):
            items = _sized(args[0]) if args else 0
            self.charge(_POINTER * items, f"{name} of {items} items")
        value = func(*args)
        if isinstance(value, np.dtype) and value.hasobject:
            raise self.refuse(f"numpy dtype {value} (arrays of Python objects are not annotation data)")
        return value

    def load_reduce(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = self.call(self.stack[-1], args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self.call(cls, args))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if kwargs:
            raise self.refuse(f"keyword arguments for {getattr(cls, '__name__', cls)}")
        self.append(self.call(cls, args))

    def _instantiate(self, klass: Any, args: tuple) -> None:
        self.append(self.call(klass, tuple(args)))

    def load_build(self) -> None:
        inst = self.stack[-1]
        super().load_build()
        if isinstance(inst, np.dtype) and inst.hasobject:
            raise self.refuse(f"numpy dtype {inst} (arrays of Python objects are not annotation data)")

    def load_bytearray8(self) -> None:
        (size,) = struct.unpack("<Q", self.read(8))
        self.charge(size, f"a bytearray of {size} bytes")
        buffer = bytearray(size)
        self.readinto(buffer)
        self.append(buffer)

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8
    dispatch[pickle.FRAME[0]] = load_frame


def _short_args(args: tuple) -> str:
    text = repr(args)
    return text if len(text) <= 80 else text[:77] + "..."


def _unpickle(data: bytes, source: str, max_bytes: int | None = None) -> Any:
    try:
        return _RestrictedUnpickler(data, source, max_bytes).load()
    except AnnotationError:
        raise
    except EOFError:
        raise AnnotationError(f"{source}: the pickle is empty or truncated (unexpected end of data)") from None
    except RecursionError:
        raise AnnotationError(f"{source}: the pickle nests too deeply to be an annotation file") from None
    except MemoryError:
        raise AnnotationError(f"{source}: the pickle asks for more memory than available (corrupt?)") from None
    except Exception as err:  # any failure inside pickle/numpy means the bytes are not a valid annotation file
        raise AnnotationError(
            f"{source}: not a readable annotation pickle (corrupt or truncated): {type(err).__name__}: {err}"
        ) from None


def loads_annotations(data: bytes, source: str = "<bytes>", *, validate: bool = True, split: str | None = None,
                      num_classes: int | None = None, multi_class: bool = False,
                      max_bytes: int | None = None) -> Any:
    """Like :func:`load_annotations`, from the bytes of a pickle; ``source`` names it in errors."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{source}: expected bytes, got {type(data).__name__}")
    obj = _unpickle(bytes(data), source, max_bytes)
    if validate:
        validate_annotations(obj, source, split=split, num_classes=num_classes, multi_class=multi_class)
    return obj


def load_annotations(path: str | os.PathLike, *, validate: bool = True, split: str | None = None,
                     num_classes: int | None = None, multi_class: bool = False,
                     max_bytes: int | None = None) -> Any:
    """Load a PYSKL annotation pickle without executing anything it names.

    Args:
        path: the ``.pkl`` file.
        validate: check every annotation (keys, shapes, dtypes, finite values, labels, splits); see
            :func:`pyskl.datasets.validation.validate_annotations`.
        split: a split name that must exist in the file's ``split`` dict (checked when validating).
        num_classes: labels must be ``< num_classes`` when given (checked when validating).
        multi_class: labels may be lists of class indices.
        max_bytes: the most the unpickler may allocate beyond the data it reads (default
            ``ALLOCATION_FACTOR`` x the file size + ``ALLOCATION_SLACK``, or the ``PYSKL_MAX_UNPICKLE_BYTES``
            environment variable); a file asking for more is refused.

    Returns:
        What the pickle holds: ``{'split': ..., 'annotations': [...]}`` or a list of annotation dicts.

    Raises:
        AnnotationError: the file is missing, not a pickle, truncated, refers to a disallowed global, or fails
            validation. The message names the file, and for sample errors the ``frame_dir`` and field.
    """
    source = os.fspath(path)
    try:
        stream = open(source, "rb")
    except FileNotFoundError:
        raise AnnotationFileNotFoundError(f"{source}: annotation file not found") from None
    except IsADirectoryError:
        raise AnnotationError(f"{source}: is a directory, not an annotation pickle") from None
    except OSError as err:
        raise AnnotationError(f"{source}: cannot open annotation file: {err}") from None
    with stream:
        data = stream.read()
    obj = _unpickle(data, source, max_bytes)
    del data
    if validate:
        validate_annotations(obj, source, split=split, num_classes=num_classes, multi_class=multi_class)
    return obj


def save_annotations(obj: Any, path: str | os.PathLike, *, validate: bool = True,
                     protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    """Write annotations as a pickle atomically (temp file in the same folder, then ``os.replace``).

    Args:
        obj: ``{'split': ..., 'annotations': [...]}`` or a list of annotation dicts.
        path: destination ``.pkl``; its folder is created if missing.
        validate: validate ``obj`` first, so a bad file is never written.
        protocol: pickle protocol (PYSKL/mmcv wrote protocol 2; any protocol loads back).

    Returns:
        The destination path.
    """
    dest = Path(path)
    if validate:
        validate_annotations(obj, os.fspath(dest))
    return atomic_write(dest, lambda stream: pickle.dump(obj, stream, protocol=protocol))



def resolve_safe_global(module: str, name: str) -> Any:
    """The object an annotation pickle may name (builtin containers, numpy arrays), else ``None``.

    Python 2 names (``__builtin__``, ...) are mapped as pickle does. Other restricted readers (results
    files) start from this allow-list.
    """
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return _resolve_global(module, name)
