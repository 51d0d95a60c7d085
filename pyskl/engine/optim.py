"""Optimizer and learning-rate schedule from PYSKL's ``optimizer`` / ``lr_config`` dicts.

The schedule reproduces mmcv's LR updater hooks used by PYSKL configs: ``CosineAnnealing``
(``by_epoch=False`` -> per iteration), ``step`` (per epoch, ``gamma=0.1``), ``fixed``, each with an
optional ``warmup`` ('linear' | 'constant' | 'exp', ``warmup_iters``, ``warmup_ratio``,
``warmup_by_epoch``). The LR is set before every iteration from the iteration/epoch counters alone,
so resuming needs no scheduler state beyond the counters.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from ..config import ConfigError

__all__ = ["build_optimizer", "LRSchedule", "OPTIMIZERS"]

OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
              "RMSprop": torch.optim.RMSprop}


# torch's fused (one kernel for all parameters) implementations; a config's own ``fused`` key wins.
FUSABLE = ("SGD", "Adam", "AdamW")


def build_optimizer(model: torch.nn.Module, cfg: dict, fused: bool = False) -> torch.optim.Optimizer:
    """``dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)`` -> optimizer.

    As mmcv's default constructor, weight decay applies to every trainable parameter. With ``fused``
    an SGD/Adam/AdamW whose config does not say otherwise gets ``fused=True``.
    """
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"optimizer must be a dict with a 'type' key, got {cfg!r}")
    args = dict(cfg)
    kind = args.pop("type")
    if kind not in OPTIMIZERS:
        raise ConfigError(f"optimizer type {kind!r} is not supported (choose from {', '.join(OPTIMIZERS)})")
    if "lr" not in args:
        raise ConfigError(f"optimizer {kind} needs an 'lr'")
    params = [p for p in model.parameters() if p.requires_grad]
    if fused and kind in FUSABLE and "fused" not in args:
        args["fused"] = True
    try:
        return OPTIMIZERS[kind](params, **args)
    except TypeError as err:
        raise ConfigError(f"optimizer {kind}: {err}") from err


def _annealing_cos(start: float, end: float, factor: float) -> float:
    return end + 0.5 * (start - end) * (math.cos(math.pi * factor) + 1)


class LRSchedule:
    """Sets every param group's LR for a given (epoch, global iteration) as mmcv's hooks would.

    Args:
        optimizer: the optimizer whose groups' current LR is taken as the base LR.
        cfg: PYSKL ``lr_config`` (``policy`` plus its options).
        max_epochs: ``total_epochs``.
        iters_per_epoch: optimizer steps per epoch on this process.
    """

    POLICIES = ("CosineAnnealing", "step", "fixed")
    _OPTIONS = {"CosineAnnealing": {"min_lr", "min_lr_ratio"}, "step": {"step", "gamma", "min_lr"}, "fixed": set()}
    _COMMON = {"policy", "by_epoch", "warmup", "warmup_iters", "warmup_ratio", "warmup_by_epoch"}

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: dict | None, max_epochs: int,
                 iters_per_epoch: int) -> None:
        cfg = dict(cfg or {"policy": "fixed"})
        policy = cfg.get("policy", "fixed")
        # mmcv capitalises the policy name to find its hook: 'cosineAnnealing' and 'Step' also work.
        names = {p.lower(): p for p in self.POLICIES}
        if str(policy).lower() not in names:
            raise ConfigError(f"lr_config.policy {policy!r} is not supported (choose from {', '.join(self.POLICIES)})")
        self.policy = names[str(policy).lower()]
        unknown = set(cfg) - self._COMMON - self._OPTIONS[self.policy]
        if unknown:
            raise ConfigError(f"lr_config: unknown key(s) {sorted(unknown)} for policy {self.policy!r}")
        self.by_epoch = bool(cfg.get("by_epoch", True))
        self.max_epochs = int(max_epochs)
        self.iters_per_epoch = max(int(iters_per_epoch), 1)
        self.max_iters = self.max_epochs * self.iters_per_epoch
        self.min_lr = cfg.get("min_lr")
        self.min_lr_ratio = cfg.get("min_lr_ratio")
        if self.policy == "CosineAnnealing" and (self.min_lr is None) == (self.min_lr_ratio is None):
            raise ConfigError("lr_config CosineAnnealing needs exactly one of min_lr / min_lr_ratio")
        self.step = cfg.get("step")
        if self.policy == "step":
            if isinstance(self.step, int):
                if self.step <= 0:
                    raise ConfigError("lr_config.step must be positive")
            elif not (isinstance(self.step, (list, tuple)) and all(isinstance(s, int) for s in self.step)):
                raise ConfigError(f"lr_config.step must be an int or a list of ints, got {self.step!r}")
        self.gamma = float(cfg.get("gamma", 0.1))
        self.warmup = cfg.get("warmup")
        if self.warmup not in (None, "linear", "constant", "exp"):
            raise ConfigError(f"lr_config.warmup must be None, 'linear', 'constant' or 'exp', got {self.warmup!r}")
        self.warmup_ratio = float(cfg.get("warmup_ratio", 0.1))
        warmup_iters = int(cfg.get("warmup_iters", 0) or 0)
        if cfg.get("warmup_by_epoch", False):
            warmup_iters *= self.iters_per_epoch
        self.warmup_iters = warmup_iters
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_lrs = list(self.base_lrs)

    def regular_lr(self, base_lr: float, epoch: int, it: int) -> float:
        if self.policy == "fixed":
            return base_lr
        if self.policy == "CosineAnnealing":
            target = self.min_lr if self.min_lr is not None else base_lr * self.min_lr_ratio
            if self.by_epoch:
                return _annealing_cos(base_lr, target, epoch / self.max_epochs)
            return _annealing_cos(base_lr, target, it / self.max_iters)
        progress = epoch if self.by_epoch else it
        if isinstance(self.step, int):
            exp = progress // self.step
        else:
            exp = next((i for i, s in enumerate(self.step) if progress < s), len(self.step))
        lr = base_lr * self.gamma ** exp
        return max(lr, self.min_lr) if self.min_lr is not None else lr

    def lr_at(self, epoch: int, it: int) -> list[float]:
        """LR of each param group for 0-based ``epoch`` and global iteration ``it``."""
        lrs = [self.regular_lr(b, epoch, it) for b in self.base_lrs]
        if self.warmup and it < self.warmup_iters:
            if self.warmup == "constant":
                lrs = [lr * self.warmup_ratio for lr in lrs]
            elif self.warmup == "linear":
                k = (1 - it / self.warmup_iters) * (1 - self.warmup_ratio)
                lrs = [lr * (1 - k) for lr in lrs]
            else:
                k = self.warmup_ratio ** (1 - it / self.warmup_iters)
                lrs = [lr * k for lr in lrs]
        return lrs

    def apply(self, epoch: int, it: int) -> float:
        """Set the LRs for this iteration; returns the first group's LR (for logging)."""
        self.last_lrs = self.lr_at(epoch, it)
        for group, lr in zip(self.optimizer.param_groups, self.last_lrs):
            group["lr"] = lr
        return self.last_lrs[0]

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "base_lrs": list(self.base_lrs), "last_lrs": list(self.last_lrs),
                "max_iters": self.max_iters, "iters_per_epoch": self.iters_per_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lrs = list(state["base_lrs"])
        self.last_lrs = list(state["last_lrs"])
