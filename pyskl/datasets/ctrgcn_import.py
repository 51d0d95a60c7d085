"""Import NTU skeletons in CTR-GCN's / 2s-AGCN's array formats into PYSKL annotations.

Two public layouts are read:

* CTR-GCN ``.npz`` (``NTU60_CS.npz``, ``NTU60_CV.npz``, ``NTU120_CSub.npz``, ``NTU120_CSet.npz``): keys
  ``x_train`` / ``x_test`` ``[N, T=300, 150]`` (2 persons x 25 joints x xyz per frame, zero padded at
  the end) and ``y_train`` / ``y_test`` one-hot ``[N, num_classes]``.
* 2s-AGCN / MS-G3D ``.npy`` ``[N, C=3, T=300, V=25, M=2]`` with a label pickle holding
  ``(sample_names, labels)``.

Each sample becomes ``{'frame_dir', 'label', 'total_frames', 'keypoint' [M, T, 25, 3]}`` with the
zero-padded tail frames removed and an all-zero second person dropped. The arrays are CTR-GCN's
already-translated coordinates, not raw camera coordinates.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CTRGCNImportError", "split_prefix_for", "unpad_sample", "import_ctrgcn_npz", "import_agcn_npy"]

_SPLIT_PREFIX = {
    "cs": "xsub",
    "csub": "xsub",
    "xsub": "xsub",
    "cv": "xview",
    "xview": "xview",
    "cset": "xset",
    "xset": "xset",
}


class CTRGCNImportError(ValueError):
    """The input arrays do not have the expected CTR-GCN / 2s-AGCN layout (message names the file)."""


def split_prefix_for(path: str | os.PathLike) -> str:
    """``NTU60_CS.npz`` -> ``'xsub'``, ``NTU60_CV`` -> ``'xview'``, ``NTU120_CSet`` -> ``'xset'``."""
    match = re.search(r"_(CSub|CSet|CS|CV|xsub|xview|xset)(?:[_.]|$)", Path(path).name, re.IGNORECASE)
    return _SPLIT_PREFIX[match.group(1).lower()] if match else "split"


def _npz_member(path: Path, key: str) -> np.ndarray:
    """One array of an ``.npz``; memory-mapped when the member is stored uncompressed."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{key}.npy")
        if info.compress_type == zipfile.ZIP_STORED:
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(member)
                header_len = member.tell()
            with open(path, "rb") as raw:
                raw.seek(info.header_offset)
                local = raw.read(30)
                name_len = int.from_bytes(local[26:28], "little")
                extra_len = int.from_bytes(local[28:30], "little")
            offset = info.header_offset + 30 + name_len + extra_len + header_len
            return np.memmap(
                path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
            )
    with np.load(path) as data:
        return data[key]


def unpad_sample(frames: np.ndarray, dtype: np.dtype | str = np.float16) -> np.ndarray:
    """``[T, M, V, C]`` padded frames -> ``[M', T', V, C]``: zero tail frames and zero persons removed."""
    frames = np.asarray(frames)
    nonzero = np.flatnonzero(frames.reshape(frames.shape[0], -1).any(axis=1))
    length = int(nonzero[-1]) + 1 if len(nonzero) else 0
    kp = np.ascontiguousarray(frames[:length].transpose(1, 0, 2, 3))
    persons = [m for m in range(kp.shape[0]) if kp[m].any()] or [0]
    return kp[persons].astype(dtype)


def _samples(
    x: np.ndarray, labels: np.ndarray, names: list[str], split_name: str, layout: str, dtype: Any, source: str
) -> Iterator[dict]:
    for i in range(len(x)):
        if layout == "ctrgcn":
            frames = np.asarray(x[i]).reshape(x.shape[1], 2, 25, 3)  # [T, M, V, C]
        else:
            frames = np.asarray(x[i]).transpose(1, 3, 2, 0)  # [C, T, V, M] -> [T, M, V, C]
        kp = unpad_sample(frames, dtype)
        if kp.shape[1] == 0:
            raise CTRGCNImportError(f"{source}: {split_name} sample {i} ({names[i]!r}) has no non-zero frame")
        yield {
            "frame_dir": names[i],
            "label": int(labels[i]),
            "total_frames": int(kp.shape[1]),
            "keypoint": kp,
        }


def import_ctrgcn_npz(
    path: str | os.PathLike,
    prefix: str | None = None,
    dtype: Any = np.float16,
    names: dict[str, list[str]] | None = None,
) -> dict:
    """CTR-GCN ``.npz`` -> ``{'split': {prefix_train, prefix_val}, 'annotations': [...]}``.

    Args:
        prefix: split name prefix; inferred from the file name (``_CS`` -> ``xsub``...) by default.
        names: optional ``{'train': [...], 'test': [...]}`` sample names (e.g. ``S001C001P001R001A001``);
            otherwise ``'<prefix>_train_000000'``-style names are made up.
    """
    path = Path(path)
    prefix = prefix or split_prefix_for(path)
    try:
        members = set(np.load(path).files)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise CTRGCNImportError(f"{path}: not a readable .npz ({err})") from None
    needed = {"x_train", "y_train", "x_test", "y_test"}
    if not needed <= members:
        raise CTRGCNImportError(f"{path}: missing arrays {sorted(needed - members)} (has {sorted(members)})")
    annotations, split = [], {}
    for part, split_name in (("train", f"{prefix}_train"), ("test", f"{prefix}_val")):
        x = _npz_member(path, f"x_{part}")
        y = np.asarray(_npz_member(path, f"y_{part}"))
        if x.ndim != 3 or x.shape[2] != 150:
            raise CTRGCNImportError(f"{path}: x_{part} has shape {x.shape}; expected [N, T, 150]")
        labels = y.argmax(axis=1) if y.ndim == 2 else y.reshape(-1)
        if len(labels) != len(x):
            raise CTRGCNImportError(f"{path}: x_{part} has {len(x)} samples but y_{part} has {len(labels)}")
        part_names = (names or {}).get(part) or [f"{prefix}_{part}_{i:06d}" for i in range(len(x))]
        if len(part_names) != len(x):
            raise CTRGCNImportError(f"{path}: {len(part_names)} names given for {len(x)} {part} samples")
        samples = list(_samples(x, labels, part_names, split_name, "ctrgcn", dtype, str(path)))
        annotations += samples
        split[split_name] = [s["frame_dir"] for s in samples]
    return {"split": split, "annotations": annotations}


def import_agcn_npy(
    data_path: str | os.PathLike, label_path: str | os.PathLike, split_name: str, dtype: Any = np.float16
) -> dict:
    """2s-AGCN ``[N, 3, T, 25, 2]`` ``.npy`` + ``(names, labels)`` pickle -> PYSKL annotations.

    The label pickle is read with the project's restricted unpickler (no code runs).
    """
    from .io import load_annotations

    data_path, label_path = Path(data_path), Path(label_path)
    try:
        x = np.load(data_path, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise CTRGCNImportError(f"{data_path}: not a readable .npy ({err})") from None
    if x.ndim != 5 or x.shape[1] != 3 or x.shape[3] != 25:
        raise CTRGCNImportError(f"{data_path}: shape {x.shape}; expected [N, 3, T, 25, M]")
    meta = load_annotations(label_path, validate=False)
    if not (isinstance(meta, (tuple, list)) and len(meta) == 2):
        raise CTRGCNImportError(f"{label_path}: expected a pickled (sample_names, labels) pair")
    names = [str(n).split(".")[0] for n in meta[0]]
    labels = np.asarray(meta[1]).reshape(-1)
    if len(names) != len(x) or len(labels) != len(x):
        raise CTRGCNImportError(
            f"{label_path}: {len(names)} names / {len(labels)} labels for {len(x)} samples"
        )
    samples = list(_samples(x, labels, names, split_name, "agcn", dtype, str(data_path)))
    return {"split": {split_name: [s["frame_dir"] for s in samples]}, "annotations": samples}
