"""Optimizer and LR schedule built from PYSKL's config dicts (mmcv hook semantics)."""
from __future__ import annotations

import math

import pytest
import torch

from pyskl.config import ConfigError
from pyskl.engine.optim import LRSchedule, build_optimizer


def _model():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))


def test_sgd_from_pyskl_dict():
    opt = build_optimizer(_model(), dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.1, 0.9, 5e-4, True)
    assert len(group["params"]) == 4  # weight decay on every parameter, BN included (mmcv default)
    assert isinstance(build_optimizer(_model(), dict(type="AdamW", lr=1e-3, weight_decay=0.05)), torch.optim.AdamW)


@pytest.mark.parametrize("cfg, match", [
    (dict(type="Lamb", lr=0.1), "not supported"),
    (dict(type="SGD"), "needs an 'lr'"),
    (dict(type="SGD", lr=0.1, momentum=0.9, bogus=1), "bogus"),
])
def test_optimizer_errors(cfg, match):
    with pytest.raises(ConfigError, match=match):
        build_optimizer(_model(), cfg)


def test_cosine_by_iteration():
    opt = build_optimizer(_model(), dict(type="SGD", lr=0.1, momentum=0.9))
    sched = LRSchedule(opt, dict(policy="CosineAnnealing", min_lr=0, by_epoch=False), max_epochs=4, iters_per_epoch=25)
    assert sched.apply(0, 0) == pytest.approx(0.1)
    assert sched.lr_at(2, 50)[0] == pytest.approx(0.05)
    assert sched.lr_at(3, 99)[0] == pytest.approx(0.05 * (1 + math.cos(math.pi * 99 / 100)))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    sched2 = LRSchedule(opt, dict(policy="CosineAnnealing", min_lr=0.01, by_epoch=False), 4, 25)
    assert sched2.lr_at(0, 100)[0] == pytest.approx(0.01)


def test_step_and_warmup():
    opt = build_optimizer(_model(), dict(type="SGD", lr=0.4, momentum=0.9))
    sched = LRSchedule(opt, dict(policy="step", step=[2, 10]), max_epochs=12, iters_per_epoch=10)
    lrs = [sched.lr_at(e, e * 10)[0] for e in (0, 1, 2, 9, 10, 11)]
    assert lrs == pytest.approx([0.4, 0.4, 0.04, 0.04, 0.004, 0.004])
    warm = LRSchedule(opt, dict(policy="CosineAnnealing", min_lr=0, by_epoch=False, warmup="linear", warmup_iters=10,
                                warmup_ratio=0.1), 2, 10)
    # mmcv linear warmup: lr * (1 - (1 - i/warmup_iters) * (1 - ratio))
    reg = 0.2 * (1 + math.cos(math.pi * 5 / 20))
    assert warm.lr_at(0, 5)[0] == pytest.approx(reg * (1 - 0.5 * 0.9))
    assert warm.lr_at(0, 0)[0] == pytest.approx(0.04)
    by_epoch = LRSchedule(opt, dict(policy="step", step=3, warmup="constant", warmup_iters=1, warmup_by_epoch=True,
                                    warmup_ratio=0.5), 9, 4)
    assert by_epoch.lr_at(0, 3)[0] == pytest.approx(0.2) and by_epoch.lr_at(1, 4)[0] == pytest.approx(0.4)


@pytest.mark.parametrize("cfg, match", [
    (dict(policy="Poly"), "not supported"),
    (dict(policy="CosineAnnealing"), "min_lr"),
    (dict(policy="step", step="2"), "list of ints"),
    (dict(policy="step", step=[2], warmup="cubic"), "warmup"),
    (dict(policy="fixed", min_lr=0), "unknown key"),
])
def test_schedule_errors(cfg, match):
    opt = build_optimizer(_model(), dict(type="SGD", lr=0.1))
    with pytest.raises(ConfigError, match=match):
        LRSchedule(opt, cfg, 2, 2)
