"""Parity of an exported file against the PyTorch module, on random inputs of several shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..analysis.inputs import InputSpec

__all__ = ["max_abs_diff", "parity_shapes", "random_input"]


def parity_shapes(spec: InputSpec, dynamic: bool = True) -> list[tuple[int, ...]]:
    """The export shape (batch 2) and, when axes are dynamic, a second one varying every dynamic axis."""
    first = spec.with_batch(2, 1)
    if not dynamic:
        return [first]
    second = list(spec.with_batch(3, 2))
    for axis, name in spec.dynamic.items():
        if name in ("frames", "height", "width"):
            second[axis] = max(4, first[axis] * 3 // 4)
    return [first, tuple(second)]


def random_input(spec: InputSpec, shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """Gaussian coordinates for GCNs; heatmap-like values in [0, 1) for 3D-CNNs."""
    rng = np.random.default_rng(seed)
    if spec.kind == "3d":
        return rng.random(shape, dtype=np.float32)
    return rng.standard_normal(shape, dtype=np.float32)


@torch.no_grad()
def max_abs_diff(
    module: nn.Module, runner: Callable[..., list[np.ndarray]], inputs: Sequence[np.ndarray]
) -> float:
    """Largest absolute difference over all outputs of ``module`` (eval, CPU) and ``runner``."""
    was_training = module.training
    module.eval()
    try:
        ref = module(*[torch.as_tensor(a) for a in inputs])
    finally:
        module.train(was_training)
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    outs = runner(*inputs)
    if len(outs) != len(refs):
        raise RuntimeError(f"exported model gave {len(outs)} outputs, PyTorch {len(refs)}")
    diff = 0.0
    for r, o in zip(refs, outs):
        r = r.detach().cpu().numpy()
        if r.shape != np.shape(o):
            raise RuntimeError(f"exported model output shape {np.shape(o)} != PyTorch {r.shape}")
        diff = max(diff, float(np.abs(r.astype(np.float64) - o).max()) if r.size else 0.0)
    return diff
