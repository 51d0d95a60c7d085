"""PYSKL's class-specific training sampler: per-class multipliers from ``PoseDataset(class_prob=...)``.

Each epoch holds every sample of class ``c`` ``floor(m_c)`` times plus a random ``int(frac(m_c) * n_c)`` of
them, where ``m_c = class_prob[c] * times`` (``times`` of a wrapping ``RepeatDataset``; classes missing
from ``class_prob`` get ``times``). The whole list is shuffled, padded to a multiple of the world size and
dealt to the ranks round-robin. PYSKL's NTU120 PoseC3D configs use it (``[1] * 60 + [2] * 60``), so the
published numbers depend on it. The random draws are made in PYSKL's order (one permutation per class,
classes in order of first appearance, then one of the whole list, from a generator seeded
``seed + epoch``), so the same seed gives PYSKL's epoch order.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["ClassProbSampler", "find_class_prob"]


def find_class_prob(dataset: Any) -> tuple[Any, int, Mapping | Sequence | None]:
    """``(dataset holding the samples, repeat times, class_prob)`` of a dataset or a ``RepeatDataset``."""
    inner, times = dataset, 1
    if type(dataset).__name__ == "RepeatDataset":
        inner, times = dataset.dataset, int(dataset.times)
    return inner, times, getattr(inner, "class_prob", None)


class ClassProbSampler(Sampler[int]):
    """This rank's indices for one epoch of class-specific sampling (see the module docstring).

    Args:
        dataset: a dataset with ``labels`` (single-label) and ``class_prob``, or a ``RepeatDataset`` of one.
        num_replicas: world size.
        rank: this process's rank.
        shuffle: shuffle the epoch (PYSKL's default).
        seed: added to the epoch to seed the draws.
    """

    def __init__(self, dataset: Any, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 seed: int = 0) -> None:
        inner, times, class_prob = find_class_prob(dataset)
        if class_prob is None:
            raise ValueError("ClassProbSampler needs a dataset with class_prob")
        if isinstance(class_prob, Mapping):
            probs = {int(k): float(v) for k, v in class_prob.items()}
        else:
            probs = {i: float(v) for i, v in enumerate(class_prob)}
        if any(v < 0 for v in probs.values()):
            raise ValueError(f"class_prob must be non-negative, got {class_prob!r}")
        labels = np.asarray(inner.labels)
        if labels.dtype == object:
            raise ValueError("class_prob sampling needs single-label annotations (multi_class is set)")
        self.by_class: dict[int, np.ndarray] = {}
        for label in dict.fromkeys(labels.tolist()):  # first-appearance order, as PYSKL groups them
            self.by_class[int(label)] = np.flatnonzero(labels == label)
        # per class: (whole copies, size of the random partial copy)
        self.draws: dict[int, tuple[int, int]] = {}
        for label, idx in self.by_class.items():
            mul = probs[label] * times if label in probs else float(times)
            self.draws[label] = (int(mul // 1), int((mul % 1) * len(idx)))
        self.epoch_size = sum(copies * len(self.by_class[c]) + extra
                              for c, (copies, extra) in self.draws.items())
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.num_samples = math.ceil(self.epoch_size / num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator()
        gen.manual_seed(self.seed + self.epoch)
        parts = []
        for label, idx in self.by_class.items():
            copies, extra = self.draws[label]
            parts.extend([idx] * copies)
            order = torch.randperm(len(idx), generator=gen).numpy()  # drawn for every class, as PYSKL
            parts.append(idx[order[:extra]])
        indices = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        if self.shuffle:
            indices = indices[torch.randperm(len(indices), generator=gen).numpy()]
        total = self.num_samples * self.num_replicas
        indices = np.resize(indices, total)  # padded from the front, so every rank gets as many
        return iter(indices[self.rank:total:self.num_replicas].tolist())
