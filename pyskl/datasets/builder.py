"""``build_dataset`` and the dataset wrappers PYSKL configs use (``RepeatDataset``; ``ConcatDataset``)."""
from __future__ import annotations

import bisect
from typing import Any, Sequence

import numpy as np

from ..registry import DATASETS

__all__ = ["build_dataset", "RepeatDataset", "ConcatDataset"]


def _as_dataset(dataset: Any, default_args: dict | None = None) -> Any:
    return build_dataset(dataset, default_args) if isinstance(dataset, dict) else dataset


@DATASETS.register()
class RepeatDataset:
    """``times`` passes over ``dataset`` per epoch: item ``i`` is ``dataset[i % len(dataset)]``.

    Args:
        dataset: a dataset, or a config dict to build one.
        times: how many times to repeat it.
    """

    def __init__(self, dataset: Any, times: int) -> None:
        if isinstance(times, bool) or not isinstance(times, (int, np.integer)) or times < 1:
            raise ValueError(f"RepeatDataset: times must be a positive int, got {times!r}")
        self.dataset = _as_dataset(dataset)
        self.times = int(times)
        self._ori_len = len(self.dataset)

    def __len__(self) -> int:
        return self.times * self._ori_len

    def __getitem__(self, idx: int) -> Any:
        if not -len(self) <= idx < len(self):
            raise IndexError(f"RepeatDataset index {idx} out of range for length {len(self)}")
        return self.dataset[idx % self._ori_len]

    @property
    def labels(self) -> np.ndarray:
        return np.tile(np.asarray(self.dataset.labels), self.times)

    @property
    def num_classes(self) -> int | None:
        return getattr(self.dataset, "num_classes", None)

    def __repr__(self) -> str:
        return f"RepeatDataset({self.dataset!r}, times={self.times})"


@DATASETS.register()
class ConcatDataset:
    """Datasets one after another.

    No PYSKL config uses it. PYSKL's version computes the local index as ``idx - cumsum[dataset_idx]``, which
    is wrong for every dataset after the first; here the offset is the size of the datasets before it.

    Args:
        datasets: datasets or config dicts.
    """

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = [_as_dataset(d) for d in datasets]
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"ConcatDataset index {idx} out of range for length {len(self)}")
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        offset = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - offset]

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate([np.asarray(d.labels) for d in self.datasets])


_WRAPPERS = {"RepeatDataset": RepeatDataset, "ConcatDataset": ConcatDataset}


def build_dataset(cfg: dict, default_args: dict | None = None) -> Any:
    """Build a dataset from a PYSKL config dict.

    ``default_args`` (e.g. ``dict(test_mode=True)``) fill keys missing from ``cfg``; for ``RepeatDataset`` and
    ``ConcatDataset`` they go to the wrapped datasets, as in PYSKL.

    Args:
        cfg: ``dict(type='PoseDataset', ann_file=..., pipeline=[...], split=...)`` or a wrapper
            ``dict(type='RepeatDataset', times=5, dataset=dict(...))``.
        default_args: defaults for the dataset's constructor.

    Returns:
        The dataset.
    """
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise TypeError(f"build_dataset: expected a config dict with a 'type' key, got {cfg!r:.200}")
    kind = cfg["type"]
    wrapper = _WRAPPERS.get(kind) if isinstance(kind, str) else (kind if kind in _WRAPPERS.values() else None)
    if wrapper is RepeatDataset:
        args = {k: v for k, v in cfg.items() if k != "type"}
        inner = args.pop("dataset", None)
        if not isinstance(inner, dict):
            raise TypeError(f"RepeatDataset config needs a 'dataset' dict, got {inner!r:.200}")
        return RepeatDataset(build_dataset(inner, default_args), **args)
    if wrapper is ConcatDataset:
        args = {k: v for k, v in cfg.items() if k != "type"}
        inner = args.pop("datasets", None)
        if not isinstance(inner, (list, tuple)):
            raise TypeError(f"ConcatDataset config needs a 'datasets' list, got {inner!r:.200}")
        return ConcatDataset([build_dataset(c, default_args) for c in inner], **args)
    return DATASETS.build(cfg, **(default_args or {}))
