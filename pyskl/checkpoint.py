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

__all__ = ["CheckpointError", "describe_state_dict", "load_checkpoint", "load_state_dict", "read_checkpoint",
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


def _sniff(path: Path) -> None:
    """Refuse a file that is neither of torch's formats (a zip archive, or a legacy pickle stream)."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return
    if not head:
        raise CheckpointError(f"{path} is empty, not a torch checkpoint")
    text = head.decode("utf-8", "replace").splitlines()[0][:40] if head.isascii() else None
    what = f"a text file (it starts with {text!r})" if text is not None else "not a zip or pickle file"
    raise CheckpointError(f"{path} is not a torch checkpoint: {what}; pass the .pth file that "
                          f"torch.save / pyskl train wrote")


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load`` a checkpoint with ``weights_only=True`` and the metadata allow-list.

    ``path`` may also be an ``http(s)://`` URL or a zoo name (see :func:`pyskl.zoo.resolve_checkpoint`).

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file needs globals outside the allow-list, or is not a torch file.
    """
    path = _resolve(path)
    _sniff(path)
    try:
        with torch.serialization.safe_globals(safe_globals_allowlist()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        offending = _unsafe_globals(path) or sorted(set(re.findall(r"GLOBAL ([\w.]+)", str(err))))
        raise CheckpointError(
            f"refusing to load {path}: it needs global(s) {', '.join(offending) or '(unknown)'} "
            f"that are not plain weights or allow-listed metadata; unpickling them could run "
            f"arbitrary code. If you trust the file, load it yourself and pass its state_dict.") from err
    except (RuntimeError, EOFError, ValueError, KeyError) as err:
        raise CheckpointError(
            f"{path} is not a readable torch checkpoint: {type(err).__name__}: {err}") from err


def _resolve(spec: str | os.PathLike, model: nn.Module | None = None) -> Path:
    """A local path for a checkpoint spec: a file, or a URL / zoo name fetched into the cache."""
    from .zoo import resolve_checkpoint
    from .zoo.resolve import is_remote

    text = os.fspath(spec)
    if Path(text).is_file():
        return Path(text)
    if is_remote(text) or ("/" not in text and not Path(text).suffix):
        return resolve_checkpoint(text, model=model)
    raise FileNotFoundError(f"checkpoint {text} does not exist")


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
        message = _mismatch_summary(model, state_dict, source, missing, unexpected, mismatch)
        if strict:
            raise CheckpointError(message)
        warnings.warn(message, stacklevel=2)
    bad = {k for k, _, _ in mismatch}
    usable = {k: v for k, v in state_dict.items() if k in own and k not in bad}
    model.load_state_dict(usable, strict=False)
    return report


_SHOWN = 3  # keys listed per kind of mismatch


def describe_state_dict(state_dict: Mapping[str, torch.Tensor]) -> str:
    """What a state dict looks like: its backbone family (from key patterns) and number of classes."""
    keys = list(state_dict)
    families = (("MS-G3D", "gcn3d"), ("CTR-GCN", "conv3c"), ("CTR-GCN", ".gcn1.convs."),
                ("DG-STGCN", ".gcn.beta"), ("AAGCN", "conv_sa"), ("SGN", "joint_embed"),
                ("ST-GCN / ST-GCN++", ".gcn.A"), ("ST-GCN / ST-GCN++", ".gcn.PA"),
                ("X3D", "conv1_s"), ("C3D", "conv1a"), ("3D ResNet (SlowOnly)", "layer1.0.conv1.conv"),
                ("3D ResNet (SlowOnly)", "layer1.0.conv1.weight"))
    kind = next((name for name, pattern in families if any(pattern in k for k in keys)), None)
    parts = [f"{len(keys)} tensors"]
    if kind is not None:
        parts.append(f"backbone like {kind}")
    head = [k for k in keys
            if k.startswith("cls_head.") and k.endswith(".weight") and state_dict[k].ndim == 2]
    if head:
        parts.append(f"{state_dict[head[-1]].shape[0]} classes ({head[-1]})")
    prefixes = sorted({k.split(".", 1)[0] for k in keys})
    parts.append(f"top-level keys {', '.join(prefixes[:4])}{', ...' if len(prefixes) > 4 else ''}")
    return ", ".join(parts)


def _mismatch_summary(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str,
                      missing: list[str], unexpected: list[str], mismatch: list[tuple]) -> str:
    """A few lines a person can act on: counts, the first keys of each kind, what the checkpoint holds."""
    own = model.state_dict()

    def first(items: list[str]) -> str:
        more = f", ... (+{len(items) - _SHOWN})" if len(items) > _SHOWN else ""
        return ", ".join(items[:_SHOWN]) + more

    lines = [f"{source} does not fit {type(model).__name__} ({len(own)} tensors): {len(missing)} missing, "
             f"{len(unexpected)} unexpected, {len(mismatch)} with another shape"]
    if missing:
        lines.append(f"  missing in checkpoint: {first([f'{k} {tuple(own[k].shape)}' for k in missing])}")
    if unexpected:
        shown = first([f"{k} {tuple(state_dict[k].shape)}" for k in unexpected])
        lines.append(f"  unexpected in checkpoint: {shown}")
    if mismatch:
        shown = first([f"{k} checkpoint {a} vs model {b}" for k, a, b in mismatch])
        lines.append(f"  shape mismatch: {shown}")
    lines.append(f"  the checkpoint holds: {describe_state_dict(state_dict)}; is it for another config?")
    return "\n".join(lines)


def load_checkpoint(model: nn.Module, path: str | os.PathLike, map_location: Any = "cpu",
                    strict: bool = True) -> dict[str, Any]:
    """Load a PYSKL/mmcv checkpoint (or a bare state dict) into ``model``.

    Leading ``module.`` prefixes (DataParallel/DDP) are stripped. ``path`` may be a file, an
    ``http(s)://`` URL or a zoo name (:func:`pyskl.zoo.resolve_checkpoint`: downloaded once into the cache).

    Returns:
        The whole checkpoint as a dict (``meta``, ``optimizer`` ... when present; a bare state dict
        comes back as ``{'state_dict': ...}``).
    """
    path = _resolve(path, model)
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
