"""Load PYSKL / mmcv checkpoints safely and save ours atomically.

PYSKL checkpoints are ``torch.save``d dicts ``{'meta': ..., 'state_dict': ..., 'optimizer': ...}``
or a bare state dict (``hagrid.pth``). They are read with ``torch.load(weights_only=True)``: only
tensors, containers and an explicit allow-list of the plain metadata types such files hold (numpy
scalars/arrays/dtypes, ``collections.OrderedDict``) can be unpickled. A file that needs anything else
(i.e. would run arbitrary code) is refused with an error naming the file and the offending global.
"""
from __future__ import annotations

import collections
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .utils.atomic import atomic_write

__all__ = ["CheckpointError", "load_checkpoint", "load_state_dict", "read_checkpoint",
           "save_checkpoint", "safe_globals_allowlist"]

# Buffers PYSKL checkpoints may lack (older torch did not save them); the model's value is kept.
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read safely or does not fit the model."""


def safe_globals_allowlist() -> list[Any]:
    """Non-tensor globals allowed in a checkpoint: the metadata types mmcv/PYSKL checkpoints hold.

    Entries are objects or ``(object, 'module.name')`` pairs so that files written with numpy 1.x
    (``numpy.core.*``) load under numpy 2 (``numpy._core.*``) and vice versa.
    """
    import codecs

    import numpy as np

    allowed: list[Any] = [collections.OrderedDict, collections.defaultdict, np.ndarray, np.dtype,
                          (codecs.encode, "_codecs.encode")]
    try:
        from numpy._core import multiarray as _ma  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray as _ma  # type: ignore[no-redef]
    for fn in ("_reconstruct", "scalar"):
        obj = getattr(_ma, fn)
        allowed += [(obj, f"numpy.core.multiarray.{fn}"), (obj, f"numpy._core.multiarray.{fn}")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    for name in ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "complex64", "complex128", "str_", "bytes_"):
        allowed.append(getattr(np, name))
    return allowed


def _unsafe_globals(path: Path) -> list[str]:
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # noqa: BLE001 - only used to improve an error message
        return []


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load`` a checkpoint with ``weights_only=True`` and the metadata allow-list.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file needs globals outside the allow-list, or is not a torch file.
    """
    path = Path(path)
    if str(path).startswith(("http://", "https://")):
        raise CheckpointError(f"{path}: remote checkpoints are not fetched; download the file and "
                              f"pass its local path")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(safe_globals_allowlist()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        offending = _unsafe_globals(path) or sorted(set(re.findall(r"GLOBAL ([\w.]+)", str(err))))
        raise CheckpointError(
            f"refusing to load {path}: it needs global(s) {', '.join(offending) or '(unknown)'} "
            f"that are not plain weights or allow-listed metadata; unpickling them could run "
            f"arbitrary code. If you trust the file, load it yourself and pass its state_dict.") from err
    except (RuntimeError, EOFError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {err}") from err


def _extract_state_dict(ckpt: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(ckpt, Mapping):
        for key in ("state_dict", "model"):
            if key in ckpt and isinstance(ckpt[key], Mapping):
                ckpt = ckpt[key]
                break
    if not isinstance(ckpt, Mapping) or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise CheckpointError(f"{path}: no state_dict found (expected a dict of tensors or a dict "
                              f"with a 'state_dict' entry)")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in ckpt.items()}


def load_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True,
                    source: str = "state_dict") -> dict[str, list]:
    """Copy ``state_dict`` into ``model``, listing every mismatch by key and shape.

    Missing ``num_batches_tracked`` entries are tolerated. With ``strict=True`` any other missing,
    unexpected or wrongly shaped key raises :class:`CheckpointError`; otherwise the matching entries
    are loaded and the rest reported in a warning.

    Returns:
        ``{'missing': [...], 'unexpected': [...], 'shape_mismatch': [(key, ckpt_shape, model_shape)]}``
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state_dict if k not in own]
    mismatch = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in state_dict.items()
                if k in own and tuple(v.shape) != tuple(own[k].shape)]
    report = {"missing": missing, "unexpected": unexpected, "shape_mismatch": mismatch}
    if missing or unexpected or mismatch:
        lines = [f"{source} does not match {type(model).__name__}:"]
        lines += [f"  missing in checkpoint: {k} {tuple(own[k].shape)}" for k in missing]
        lines += [f"  unexpected in checkpoint: {k} {tuple(state_dict[k].shape)}" for k in unexpected]
        lines += [f"  shape mismatch: {k} checkpoint {a} vs model {b}" for k, a, b in mismatch]
        message = "\n".join(lines)
        if strict:
            raise CheckpointError(message)
        warnings.warn(message, stacklevel=2)
    bad = {k for k, _, _ in mismatch}
    usable = {k: v for k, v in state_dict.items() if k in own and k not in bad}
    model.load_state_dict(usable, strict=False)
    return report


def load_checkpoint(model: nn.Module, path: str | os.PathLike, map_location: Any = "cpu",
                    strict: bool = True) -> dict[str, Any]:
    """Load a PYSKL/mmcv checkpoint (or a bare state dict) into ``model``.

    Leading ``module.`` prefixes (DataParallel/DDP) are stripped.

    Returns:
        The whole checkpoint as a dict (``meta``, ``optimizer`` ... when present; a bare state dict
        comes back as ``{'state_dict': ...}``).
    """
    path = Path(path)
    ckpt = read_checkpoint(path, map_location)
    state_dict = _extract_state_dict(ckpt, path)
    load_state_dict(model, state_dict, strict=strict, source=str(path))
    if isinstance(ckpt, Mapping) and ("state_dict" in ckpt or "model" in ckpt):
        return dict(ckpt)
    return {"state_dict": state_dict}


def save_checkpoint(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` atomically: write a temp file beside ``path``, then ``os.replace``.

    A crash mid-write never leaves a truncated checkpoint at ``path``. Parent folders are created.
    """
    return atomic_write(path, lambda stream: torch.save(obj, stream))
