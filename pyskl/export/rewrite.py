"""Export-only module rewrites: same values, but ops ONNX can express without knowing input sizes."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["WindowMaxPool2d", "fix_adaptive_pools"]


def _windows(n: int, m: int) -> torch.Tensor:
    """Index ``[m, k]`` of adaptive pooling's windows over ``n`` inputs (short windows repeat their end)."""
    starts = [(i * n) // m for i in range(m)]
    ends = [math.ceil((i + 1) * n / m) for i in range(m)]
    k = max(e - s for s, e in zip(starts, ends))
    return torch.tensor(
        [[min(s + j, e - 1) for j in range(k)] for s, e in zip(starts, ends)], dtype=torch.long
    )


class WindowMaxPool2d(nn.Module):
    """``AdaptiveMaxPool2d`` for a known input ``(H, W)``: gather the windows, then max (exports as Gather)."""

    def __init__(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> None:
        super().__init__()
        self.register_buffer("idx_h", _windows(in_size[0], out_size[0]), persistent=False)
        self.register_buffer("idx_w", _windows(in_size[1], out_size[1]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mh, kh = self.idx_h.shape
        mw, kw = self.idx_w.shape
        x = x.index_select(2, self.idx_h.flatten()).unflatten(2, (mh, kh)).amax(3)  # N, C, mh, W
        return x.index_select(3, self.idx_w.flatten()).unflatten(3, (mw, kw)).amax(4)  # N, C, mh, mw


def fix_adaptive_pools(module: nn.Module, example: tuple) -> nn.Module:
    """A copy of ``module`` whose non-global ``AdaptiveMaxPool2d`` layers become :class:`WindowMaxPool2d`
    for the input sizes seen on ``example`` (those axes are then fixed; batch stays free). Returns
    ``module`` itself when there is nothing to rewrite.
    """
    targets = [
        name
        for name, m in module.named_modules()
        if isinstance(m, nn.AdaptiveMaxPool2d)
        and not m.return_indices
        and any(s not in (1, None) for s in nn.modules.utils._pair(m.output_size))
    ]
    if not targets:
        return module
    module = copy.deepcopy(module)
    sizes: dict[str, tuple] = {}

    def record(name: str):
        def hook(_module: nn.Module, args: tuple) -> None:  # returns None: the inputs stay as they are
            sizes.setdefault(name, tuple(args[0].shape[-2:]))

        return hook

    hooks = [module.get_submodule(n).register_forward_pre_hook(record(n)) for n in targets]
    try:
        with torch.no_grad():
            module(*example)
    finally:
        for h in hooks:
            h.remove()
    for name in targets:
        pool = module.get_submodule(name)
        out = tuple(
            s if s is not None else i for s, i in zip(nn.modules.utils._pair(pool.output_size), sizes[name])
        )
        parent_name, _, child = name.rpartition(".")
        setattr(
            module.get_submodule(parent_name) if parent_name else module,
            child,
            WindowMaxPool2d(sizes[name], out),
        )
    return module
