"""Parameter and FLOP counts of a model for one input.

FLOPs follow the convention of PYSKL's era (fvcore, mmcv's complexity counter): one multiply-accumulate
(MAC) of a convolution, linear layer, matmul or einsum counts as ONE FLOP; normalisation, activations,
pooling and other element-wise work are left out. They are counted with
``torch.utils.flop_counter.FlopCounterMode`` (which counts 2 per MAC) and halved; ``flops_2x`` keeps
the raw 2-per-MAC figure. Units are 10^9 (PYSKL's tools printed 2^30-based "G": ours x 0.9313).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["GIGA", "FlopCount", "ParamCount", "count_flops", "count_parameters"]

GIGA = 1e9


@dataclass
class ParamCount:
    """Parameter counts (graph ``A`` buffers excluded, learnable ``A``/``PA`` included, as PYSKL)."""

    total: int
    trainable: int
    backbone: int | None = None
    head: int | None = None


@dataclass
class FlopCount:
    """Multiply-accumulates of one forward.

    Attributes:
        macs: multiply-accumulates (= FLOPs in PYSKL's / fvcore's convention).
        by_op: MACs per aten op (``convolution``, ``mm``, ``bmm``, ...).
        by_module: MACs per top-level child (``backbone``, ``cls_head``) when available.
    """

    macs: int
    by_op: dict = field(default_factory=dict)
    by_module: dict = field(default_factory=dict)

    @property
    def gflops(self) -> float:
        """10^9 FLOPs, one per multiply-accumulate (PYSKL's convention)."""
        return self.macs / GIGA

    @property
    def flops_2x(self) -> int:
        """FLOPs counting a multiply and an add separately (2 per MAC)."""
        return 2 * self.macs


def count_parameters(model: nn.Module) -> ParamCount:
    """Total / trainable parameters, split into ``backbone`` and ``cls_head`` when the model has them."""

    def total(m: nn.Module | None) -> int | None:
        return None if m is None else sum(p.numel() for p in m.parameters())

    return ParamCount(
        total=total(model),
        trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        backbone=total(getattr(model, "backbone", None)),
        head=total(getattr(model, "cls_head", None)),
    )


def count_flops(model: nn.Module, *inputs: torch.Tensor, forward: str = "forward") -> FlopCount:
    """Count multiply-accumulates of ``model.<forward>(*inputs)`` in eval mode (mode restored after)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    # No autograd graph, but not torch.no_grad(): the counter's module tracker hooks parameters that
    # require grad, which fails under no_grad when a module gets a Parameter as an argument.
    grads = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in grads:
        p.requires_grad_(False)
    try:
        with FlopCounterMode(display=False) as counter:
            (model if forward == "forward" else getattr(model, forward))(*inputs)  # __call__: module names
    finally:
        model.train(was_training)
        for p, flag in grads:
            p.requires_grad_(flag)
    counts = counter.get_flop_counts()
    glob = counts.get("Global", {})
    by_op = {str(op).split(".")[-1]: int(v) // 2 for op, v in glob.items()}
    root = type(model).__name__
    by_module = {}
    for name, ops in counts.items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == root:
            by_module[parts[1]] = sum(int(v) for v in ops.values()) // 2
    return FlopCount(macs=int(counter.get_total_flops()) // 2, by_op=by_op, by_module=by_module)
