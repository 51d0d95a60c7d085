"""TorchScript export by tracing, and a runner for the saved file."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["export_torchscript", "torchscript_runner"]


def export_torchscript(module: nn.Module, inputs: Sequence[torch.Tensor], path: str | Path) -> Path:
    """Trace ``module`` in eval mode on ``inputs`` and save it to ``path``.

    Tracing records sizes through ``Tensor.size`` calls, so batch, clip and frame counts stay dynamic
    where the model computes with them as tensors; the parity check on a second shape confirms it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer/deprecation warnings
            traced = torch.jit.trace(module, tuple(inputs), check_trace=False)
            traced.save(str(path))
    finally:
        module.train(was_training)
    return path


def torchscript_runner(path: str | Path) -> Callable[..., list[np.ndarray]]:
    """A function running the saved TorchScript file on CPU: ``run(*arrays) -> [outputs]``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path), map_location="cpu").eval()

    @torch.no_grad()
    def run(*arrays: np.ndarray) -> list[np.ndarray]:
        out = module(*[torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in arrays])
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.numpy() for o in outs]

    return run
