"""PYSKL's class-specific sampler: per-class counts, RepeatDataset, ranks, epochs, the train loader."""
from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from pyskl.datasets.builder import RepeatDataset
from pyskl.engine.class_sampler import ClassProbSampler
from pyskl.engine.data import build_train_loader


class _Labelled:
    def __init__(self, labels, class_prob):
        self.labels = np.asarray(labels)
        self.class_prob = class_prob

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return i


ONE_CPU_PROCESS = SimpleNamespace(world_size=1, rank=0, distributed=False, device=SimpleNamespace(type="cpu"))
LABELS = [0] * 10 + [1] * 10 + [2] * 4  # indices 0-9 class 0, 10-19 class 1, 20-23 class 2


def test_counts_follow_the_multipliers():
    sampler = ClassProbSampler(_Labelled(LABELS, [1, 2, 0.5]))
    drawn = Counter(sampler)
    assert len(sampler) == 10 + 20 + 2 and sum(drawn.values()) == 32
    assert all(drawn[i] == 1 for i in range(10))  # class 0 once
    assert all(drawn[i] == 2 for i in range(10, 20))  # class 1 twice
    assert sorted(drawn[i] for i in range(20, 24)) == [0, 0, 1, 1]  # half of class 2, drawn at random


def test_dict_class_prob_and_missing_classes_default_to_times():
    sampler = ClassProbSampler(RepeatDataset(_Labelled(LABELS, {1: 2}), times=3))
    drawn = Counter(sampler)
    assert all(drawn[i] == 3 for i in range(10))  # not in class_prob: `times`
    assert all(drawn[i] == 6 for i in range(10, 20))  # 2 x times
    assert all(drawn[i] == 3 for i in range(20, 24))


def test_epochs_differ_and_repeat_with_the_seed():
    data = _Labelled(LABELS, [1, 1, 1.5])
    a, b = ClassProbSampler(data, seed=3), ClassProbSampler(data, seed=3)
    first = list(a)
    assert first == list(b)
    a.set_epoch(1)
    second = list(a)
    assert len(second) == len(first) and second != first


def test_ranks_split_one_padded_epoch():
    data = _Labelled(LABELS, [1, 2, 0.5])  # 32 samples per epoch
    shards = [list(ClassProbSampler(data, num_replicas=3, rank=r, seed=1)) for r in range(3)]
    assert [len(s) for s in shards] == [11, 11, 11]
    whole = list(ClassProbSampler(data, seed=1))
    merged = [shards[i % 3][i // 3] for i in range(33)]
    assert merged[:32] == whole and merged[32] == whole[0]


def test_errors():
    with pytest.raises(ValueError, match="class_prob"):
        ClassProbSampler(_Labelled(LABELS, None))
    with pytest.raises(ValueError, match="non-negative"):
        ClassProbSampler(_Labelled(LABELS, [1, -1, 1]))


def test_train_loader_uses_it_only_with_class_prob():
    settings = dict(videos_per_gpu=4, workers_per_gpu=0)
    loader = build_train_loader(_Labelled(LABELS, [1, 2, 0.5]), settings, ONE_CPU_PROCESS, seed=0)
    assert isinstance(loader.sampler, ClassProbSampler) and len(loader) == 8
    plain = build_train_loader(_Labelled(LABELS, None), settings, ONE_CPU_PROCESS, seed=0)
    assert not isinstance(plain.sampler, ClassProbSampler) and len(plain) == 6


def test_pyskl_config_with_class_prob_trains(tmp_path):
    import torch
    from engine_tiny import write_tiny_config, write_tiny_data

    from pyskl.config import load_config
    from pyskl.engine import TrainOptions, train
    from pyskl.engine.data import build_split_dataset

    ann = write_tiny_data(tmp_path / "tiny.pkl")
    cfg_path = write_tiny_config(tmp_path, ann, epochs=1, train_extra=", class_prob=[1, 2, 1]")
    cfg = load_config(cfg_path)
    dataset = build_split_dataset(cfg, "train", 3)
    counts = Counter(dataset.labels.tolist())
    loader = build_train_loader(dataset, dict(videos_per_gpu=4, workers_per_gpu=0), ONE_CPU_PROCESS, seed=0)
    assert len(loader.sampler) == counts[0] + 2 * counts[1] + counts[2]
    threads = torch.get_num_threads()
    try:
        opts = TrainOptions(work_dir=str(tmp_path / "wd"), seed=0, device="cpu", test_last=True)
        results = train(cfg, opts)
    finally:
        torch.set_num_threads(threads)
    assert 0.0 <= results["test_last"]["top1_acc"] <= 1.0
