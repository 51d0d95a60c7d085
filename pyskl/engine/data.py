"""Datasets and loaders for the loops: checks before training, samplers, PYSKL worker seeding.

Training uses ``DistributedSampler`` even in one process (``num_replicas=1``): the epoch's order then
depends only on ``(seed, epoch)``, so a resumed run and a torchrun run see the same global order.
Testing uses ``ShardSampler`` (rank r takes samples r, r+W, ...; no padding), so gathering the shards
back in index order has no duplicates and no gaps whatever the dataset size.
"""
from __future__ import annotations

import random
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..config import ConfigError
from .class_sampler import ClassProbSampler, find_class_prob
from .dist import DistEnv

__all__ = ["build_split_dataset", "dataset_labels", "dataset_frame_dirs", "build_train_loader",
           "build_eval_loader", "ShardSampler", "worker_init_fn"]


def _ann_files(ds_cfg: dict) -> list[Any]:
    found = []
    if "ann_file" in ds_cfg:
        found.append(ds_cfg["ann_file"])
    inner = ds_cfg.get("dataset")
    if isinstance(inner, dict):
        found.extend(_ann_files(inner))
    for item in ds_cfg.get("datasets", []) or []:
        if isinstance(item, dict):
            found.extend(_ann_files(item))
    return found


def _unwrap(dataset: Any) -> Any:
    while not hasattr(dataset, "video_infos") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset


def dataset_labels(dataset: Any) -> np.ndarray:
    """Labels of the samples a (possibly wrapped) PoseDataset holds, in index order of the base set."""
    base = _unwrap(dataset)
    infos = getattr(base, "video_infos", None)
    if infos is None:
        return np.zeros(0, dtype=np.int64)
    return np.asarray([int(np.asarray(info["label"]).reshape(-1)[0]) for info in infos], dtype=np.int64)


def dataset_frame_dirs(dataset: Any) -> list[str]:
    base = _unwrap(dataset)
    return [str(info.get("frame_dir", i)) for i, info in enumerate(getattr(base, "video_infos", []))]


def _missing_file_advice(ann: str) -> str:
    """What to do about a missing annotation file, for the kind of file the config names."""
    name = Path(ann).name.lower()
    if "synthetic" in name:
        return "make it with `pyskl data synth`, or pass your own file with --ann-file FILE"
    if name.startswith(("ntu60", "ntu120")) and "3danno" in name:
        return "make it from NTU's .skeleton files with `pyskl data ntu`, or pass the file with --ann-file FILE"
    return ("pass the file with --ann-file FILE; `pyskl extract VIDEOS OUT.pkl` makes one from your videos, "
            "and PYSKL's published annotation files load unchanged")


def build_split_dataset(cfg: dict, split: str, num_classes: int | None = None) -> Any:
    """Build ``data.<split>`` (val/test with ``test_mode=True`` as PYSKL) and check it is usable.

    Raises ``ConfigError`` before any training for a missing annotation file, an empty split, or a
    label outside ``[0, num_classes)``.
    """
    ds_cfg = cfg["data"].get(split)
    if not isinstance(ds_cfg, dict):
        raise ConfigError(f"config key 'data.{split}' is required and must be a dict")
    for ann in _ann_files(ds_cfg):
        if not isinstance(ann, str):
            raise ConfigError(f"config key 'data.{split}...ann_file' must be a path string, got {ann!r}")
        if not Path(ann).exists():
            raise ConfigError(f"data.{split}: annotation file {ann!r} does not exist ({_missing_file_advice(ann)})")
    from ..datasets import build_dataset

    dataset = build_dataset(ds_cfg, None if split == "train" else {"test_mode": True})
    if len(dataset) == 0:
        split_name = ds_cfg.get("split") or (ds_cfg.get("dataset") or {}).get("split")
        raise ConfigError(f"data.{split}: no samples (split {split_name!r} of {_ann_files(ds_cfg)} is empty)")
    if num_classes is not None:
        labels = dataset_labels(dataset)
        bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
        if bad.size:
            dirs = dataset_frame_dirs(dataset)
            i = int(bad[0])
            raise ConfigError(f"data.{split}: sample {dirs[i]!r} (index {i}) has label {labels[i]}, outside "
                              f"[0, {num_classes}) for model.cls_head.num_classes={num_classes} "
                              f"({bad.size} such samples)")
    return dataset


def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: int) -> None:
    """PYSKL's worker seeding: the global numpy and python RNGs get ``num_workers*rank+worker_id+seed``."""
    worker_seed = (num_workers * rank + worker_id + seed) % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank+W, ...`` of a dataset of ``n``: disjoint shards covering every index once."""

    def __init__(self, n: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(rank, n, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _loader_kwargs(settings: dict, seed: int | None, env: DistEnv) -> dict:
    workers = settings["workers_per_gpu"]
    kwargs: dict = {"batch_size": settings["videos_per_gpu"], "num_workers": workers,
                    "pin_memory": settings.get("pin_memory", env.device.type == "cuda")}
    if workers > 0:
        kwargs["persistent_workers"] = settings.get("persistent_workers", False)
        if seed is not None:
            kwargs["worker_init_fn"] = partial(worker_init_fn, num_workers=workers, rank=env.rank, seed=seed)
    return kwargs


def build_train_loader(dataset: Dataset, settings: dict, env: DistEnv, seed: int) -> DataLoader:
    """Shuffled loader; call ``loader.sampler.set_epoch(epoch)`` before each epoch.

    A dataset with ``class_prob`` (PYSKL's NTU120 PoseC3D configs) gets PYSKL's class-specific sampler.
    """
    shuffle = settings.get("shuffle", True)
    if find_class_prob(dataset)[2] is not None:
        sampler: Sampler = ClassProbSampler(dataset, env.world_size, env.rank, shuffle=shuffle, seed=seed)
    else:
        sampler = DistributedSampler(dataset, num_replicas=env.world_size, rank=env.rank, shuffle=shuffle,
                                     seed=seed)
    return DataLoader(dataset, sampler=sampler, drop_last=settings.get("drop_last", False),
                      **_loader_kwargs(settings, seed, env))


def build_eval_loader(dataset: Dataset, settings: dict, env: DistEnv, seed: int | None = None) -> DataLoader:
    """In-order loader over this rank's shard (see ``ShardSampler``)."""
    sampler = ShardSampler(len(dataset), env.rank, env.world_size)
    return DataLoader(dataset, sampler=sampler, shuffle=False, **_loader_kwargs(settings, seed, env))
