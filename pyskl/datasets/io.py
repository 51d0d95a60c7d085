"""Reading and writing PYSKL annotation pickles safely.

PYSKL annotation files are plain pickles (``{'split': {...}, 'annotations': [...]}`` or a bare list of
annotation dicts). ``pickle.load`` would run any callable the file names, so files are read through a
restricted unpickler that resolves only builtin containers/scalars and numpy arrays/dtypes/scalars;
anything else is refused before it is called.
"""
from __future__ import annotations

import _compat_pickle
import codecs
import collections
import importlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

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


def _resolve_global(module: str, name: str) -> Any:
    """Return the object a pickle refers to, or ``None`` when it is not on the allow-list."""
    if module in ("builtins", "__builtin__"):
        return _BUILTINS.get(name)
    if module == "collections" and name in ("OrderedDict", "defaultdict", "deque"):
        return getattr(collections, name)
    if module == "_codecs" and name == "encode":
        return _latin1_encode
    if module == "numpy":
        import numpy as np

        if name in ("ndarray", "dtype"):
            return getattr(np, name)
        if name == "memmap":  # arrays pickled from np.load(mmap_mode=...) come back as plain in-memory arrays
            return np.ndarray
        return None
    if module == "numpy.dtypes":
        import numpy as np

        value = getattr(getattr(np, "dtypes", None), name, None)
        # numpy 2 dtype classes (``numpy.dtypes.Float32DType``) are dtype subclasses, nothing else.
        return value if isinstance(value, type) and issubclass(value, np.dtype) else None
    for prefix in ("numpy._core.", "numpy.core."):
        if module.startswith(prefix) and (module[len(prefix):], name) in _NUMPY_CORE_NAMES:
            return _numpy_core_attr(module[len(prefix):], name)
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file)
        self._source = source

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


def _unpickle(stream: Any, source: str) -> Any:
    try:
        return _RestrictedUnpickler(stream, source).load()
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
                      num_classes: int | None = None, multi_class: bool = False) -> Any:
    """Like :func:`load_annotations`, from the bytes of a pickle; ``source`` names it in errors."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{source}: expected bytes, got {type(data).__name__}")
    obj = _unpickle(io.BytesIO(data), source)
    if validate:
        validate_annotations(obj, source, split=split, num_classes=num_classes, multi_class=multi_class)
    return obj


def load_annotations(path: str | os.PathLike, *, validate: bool = True, split: str | None = None,
                     num_classes: int | None = None, multi_class: bool = False) -> Any:
    """Load a PYSKL annotation pickle without executing anything it names.

    Args:
        path: the ``.pkl`` file.
        validate: check every annotation (keys, shapes, dtypes, finite values, labels, splits); see
            :func:`pyskl.datasets.validation.validate_annotations`.
        split: a split name that must exist in the file's ``split`` dict (checked when validating).
        num_classes: labels must be ``< num_classes`` when given (checked when validating).
        multi_class: labels may be lists of class indices.

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
        obj = _unpickle(stream, source)
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
