"""Training checkpoints: what goes in them, writing them safely, reading them back, resuming.

A training checkpoint is ``{state_dict, optimizer, scheduler, epoch, iter, meta}`` where ``meta``
holds the resolved ``config``, the ``seed``, library ``versions``, the RNG states of every rank
(python ``random``, numpy's global RNG, torch CPU/CUDA) at the end of the saved epoch, the best
validation score so far, and a sha256 ``checksum`` of the model weights, so a truncated or
corrupted file is refused with a clear error instead of training on from garbage.
Everything is stored as tensors and builtins, so it loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from ..utils.atomic import DiskFullError, disk_full_error, is_disk_full, temporary_name

__all__ = ["CheckpointError", "capture_rng_state", "restore_rng_state", "weights_checksum",
           "save_training_checkpoint", "load_training_checkpoint", "find_resume_checkpoint",
           "config_differences", "jsonable_config", "versions"]

LATEST = "latest.pth"
_EPOCH_RE = re.compile(r"^epoch_(\d+)\.pth$")


# ---------------------------------------------------------------- RNG streams
def capture_rng_state() -> dict[str, Any]:
    """The global RNG streams PYSKL's ops and torch draw from, as tensors and builtins."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state((np_state["name"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------- config / meta
def jsonable_config(cfg: dict) -> dict:
    """The config as JSON types (tuples -> lists, classes -> names), for meta and diffing."""
    def default(obj: Any) -> Any:
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        return getattr(obj, "__name__", repr(obj))

    return json.loads(json.dumps(cfg, default=default))


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two (JSON-normalised) configs differ, e.g. ``['optimizer.lr']``."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                out.append(path)
            else:
                out.extend(config_differences(old[key], new[key], path))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            out.extend(config_differences(a, b, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return [] if old == new else [prefix or "<root>"]


def versions() -> dict[str, str]:
    from .. import __version__

    return {"pyskl": str(__version__), "torch": str(torch.__version__), "numpy": str(np.__version__),
            "python": platform.python_version()}


def weights_checksum(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over the names and raw bytes of every tensor, in order."""
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        digest.update(name.encode())
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(str(t.dtype).encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


# ---------------------------------------------------------------- writing
def _atomic_save(obj: Any, path: Path) -> None:
    save_checkpoint(obj, path)  # temp file + fsync + rename


def _link_or_copy(src: Path, dst: Path) -> None:
    """Point ``dst`` at ``src``'s bytes atomically (hard link; a copy where links are refused)."""
    tmp = temporary_name(dst)
    try:
        try:
            os.link(src, tmp)
        except OSError as err:
            if is_disk_full(err):
                raise
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if is_disk_full(err):
            raise disk_full_error(dst, err) from None
        raise


def save_training_checkpoint(work_dir: str | Path, payload: dict[str, Any], epoch: int,
                             max_keep: int = -1) -> Path:
    """Write ``epoch_{epoch}.pth`` atomically, then make ``latest.pth`` the same file.

    Earlier ``epoch_N.pth`` files stay (the last ``max_keep`` when it is > 0), so a damaged latest
    checkpoint always leaves the previous one usable.
    """
    work_dir = Path(work_dir)
    payload = dict(payload)
    payload["meta"] = dict(payload.get("meta", {}))
    payload["meta"]["checksum"] = weights_checksum(payload["state_dict"])
    path = work_dir / f"epoch_{epoch}.pth"
    previous = [p for p in epoch_checkpoints(work_dir) if p != path]
    try:
        _atomic_save(payload, path)
        _link_or_copy(path, work_dir / LATEST)
    except DiskFullError as err:
        intact = (f"the previous checkpoint {previous[0]} is intact (resume from it with --resume auto)"
                  if previous else "no earlier checkpoint exists")
        raise disk_full_error(path, err, intact) from None
    if max_keep and max_keep > 0:
        for old in epoch_checkpoints(work_dir)[max_keep:]:
            old.unlink(missing_ok=True)
    return path


def save_best_checkpoint(work_dir: str | Path, src: Path, key: str, epoch: int) -> Path:
    """``best_{key}_epoch_{epoch}.pth`` (a link to ``src``), then remove the previous best.

    The new best is in place before the old one goes, so a kill at any moment leaves at least one.
    """
    work_dir = Path(work_dir)
    dst = work_dir / f"best_{key}_epoch_{epoch}.pth"
    _link_or_copy(src, dst)
    for old in work_dir.glob(f"best_{key}_epoch_*.pth"):
        if old.name != dst.name:
            old.unlink(missing_ok=True)
    return dst


def epoch_checkpoints(work_dir: str | Path) -> list[Path]:
    """``epoch_N.pth`` files in ``work_dir``, newest (highest N) first."""
    found = [(int(m.group(1)), p) for p in Path(work_dir).glob("epoch_*.pth") if (m := _EPOCH_RE.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


# ---------------------------------------------------------------- reading
def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and verify a training checkpoint written by ``save_training_checkpoint``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = read_checkpoint(path)
    except Exception as err:  # truncated zip, bad pickle, ... : all mean the same to the user
        raise CheckpointError(f"checkpoint {path} cannot be read; it is truncated or corrupt "
                              f"({type(err).__name__}: {str(err).splitlines()[0][:200]}).{_previous_hint(path)}"
                              ) from err
    required = ("state_dict", "optimizer", "epoch", "iter", "meta")
    missing = [k for k in required if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} is not a pyskl training checkpoint (missing {missing}); "
                              "use it with load_from=... to start from its weights instead of resuming")
    want = ckpt["meta"].get("checksum")
    if want is not None and weights_checksum(ckpt["state_dict"]) != want:
        raise CheckpointError(f"checkpoint {path} is corrupt: its weights do not match the checksum "
                              f"written with them.{_previous_hint(path)}")
    return ckpt


def _previous_hint(path: Path) -> str:
    """Name the newest other epoch checkpoint that reads back, if any."""
    for cand in epoch_checkpoints(path.parent):
        if cand.resolve() == path.resolve() or (path.exists() and cand.exists() and os.path.samefile(cand, path)):
            continue
        try:
            ckpt = read_checkpoint(cand)
            if weights_checksum(ckpt["state_dict"]) == ckpt["meta"].get("checksum"):
                return f" The previous checkpoint {cand} is intact: resume from it with --resume {cand}"
        except Exception:
            continue
    return ""


def find_resume_checkpoint(work_dir: str | Path) -> Path | None:
    """``latest.pth`` in ``work_dir`` (else the newest ``epoch_N.pth``), or None for a fresh run."""
    work_dir = Path(work_dir)
    if (work_dir / LATEST).exists():
        return work_dir / LATEST
    found = epoch_checkpoints(work_dir)
    return found[0] if found else None
