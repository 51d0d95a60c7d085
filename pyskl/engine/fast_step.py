"""The training step without host round trips: mixed precision, compiled model, values kept on the device.

``TrainStep`` runs forward (under ``--amp`` autocast; fp32 master weights), PYSKL's loss in fp32, backward
(through a ``GradScaler`` for fp16), optional gradient clipping and the optimizer step, and returns the
step's logged values as 0-d device tensors: nothing in it waits for the device, so the host can queue the
next batch while the device computes. ``DeviceMeter`` sums those tensors on the device and turns them into
numbers only when asked (the loop asks every ``log_interval`` steps).

The conversions a fast GPU step wants are explicit calls made by the training script at the model
boundary, never branches inside a block: ``to_channels_last`` (3D CNNs: cuDNN's NDHWC kernels) and
``compile_model`` (``torch.compile``; ``mode='reduce-overhead'`` adds CUDA graphs, which need static shapes:
``drop_last`` batches).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .test import autocast

__all__ = ["TrainStep", "DeviceMeter", "compile_model", "to_channels_last", "COMPILE_MODES"]

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_model(model: nn.Module, mode: str | None = None) -> nn.Module:
    """``torch.compile(model)`` in ``mode`` (None: 'default'); the module's parameters stay shared."""
    mode = mode or "default"
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")
    return torch.compile(model, mode=None if mode == "default" else mode)


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store a 3D CNN's 5-D conv weights as ``channels_last_3d`` (NDHWC), in place; GCNs are returned as
    they are (their blocks already pick their layouts). Outputs are unchanged up to float rounding."""
    if any(isinstance(m, nn.Conv3d) for m in model.modules()):
        model.to(memory_format=torch.channels_last_3d)
    return model


def _parse_losses(losses: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """mmcv's rule: the loss to optimise is the sum of entries whose name contains 'loss'."""
    total = sum(v.mean() for k, v in losses.items() if "loss" in k)
    if not torch.is_tensor(total):
        raise RuntimeError(f"the model's loss dict has no entry named *loss*: {sorted(losses)}")
    logged = {k: v.detach().float().mean() for k, v in losses.items()}
    logged["loss"] = total.detach().float()
    return total, logged


class TrainStep:
    """One optimisation step on a batch; returns its logged values as 0-d device tensors.

    Args:
        model: what is called on the input (possibly compiled and/or DDP-wrapped).
        net: the bare recognizer (its ``loss``).
        optimizer: the optimizer.
        amp: None, 'bf16' or 'fp16' (autocast dtype; parameters and optimizer state stay fp32).
        scaler: a ``GradScaler`` for fp16, else None.
        grad_clip: ``clip_grad_norm_`` arguments (``max_norm``, ``norm_type``) or None.
    """

    def __init__(self, model: nn.Module, net: nn.Module, optimizer: torch.optim.Optimizer, amp: str | None = None,
                 scaler: Any = None, grad_clip: dict | None = None) -> None:
        self.model, self.net, self.optimizer = model, net, optimizer
        self.amp, self.scaler, self.grad_clip = amp, scaler, grad_clip
        self.params = [p for p in net.parameters() if p.requires_grad]

    def __call__(self, x: torch.Tensor, label: torch.Tensor) -> dict[str, torch.Tensor]:
        with autocast(x.device, self.amp):
            logits = self.model(x)
        loss, logged = _parse_losses(self.net.loss(logits.float(), label))  # the loss in fp32
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.grad_clip is not None:
            grads = [p for p in self.params if p.grad is not None]
            logged["grad_norm"] = torch.nn.utils.clip_grad_norm_(grads, **self.grad_clip).detach().float()
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return logged


class DeviceMeter:
    """Sums of logged 0-d tensors kept on the device; ``means()`` is the only host sync."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for key, value in values.items():
            value = value.detach().to(torch.float64)
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
        self.count += 1

    def means(self) -> dict[str, float]:
        """Mean of each key over the added steps (one device-to-host copy for all keys)."""
        if not self.sums:
            return {}
        keys = sorted(self.sums)
        values = torch.stack([self.sums[k] for k in keys]).cpu().tolist()
        return {k: v / self.count for k, v in zip(keys, values)}
