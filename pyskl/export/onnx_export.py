"""ONNX export (TorchScript-based ``torch.onnx`` exporter) and an onnxruntime runner.

Needs the ``[export]`` extra (``onnx``, ``onnxruntime``) only to run or check the file; writing uses torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["DEFAULT_OPSET", "export_onnx", "onnx_runner"]

DEFAULT_OPSET = 17
_REGISTERED: set = set()


def _diff_symbolic(g, x, n, dim, prepend, append):
    """``torch.diff`` (no ONNX op): concat prepend/append, then ``x[1:] - x[:-1]`` along ``dim``, n times."""
    from torch.onnx import symbolic_helper as sh

    n, dim = sh._get_const(n, "i", "n"), sh._get_const(dim, "i", "dim")

    def const(v: int):
        return g.op("Constant", value_t=torch.tensor([v], dtype=torch.long))

    if not sh._is_none(prepend):
        x = g.op("Concat", prepend, x, axis_i=dim)
    if not sh._is_none(append):
        x = g.op("Concat", x, append, axis_i=dim)
    for _ in range(n):
        x = g.op(
            "Sub",
            g.op("Slice", x, const(1), const(2**62), const(dim)),
            g.op("Slice", x, const(0), const(-1), const(dim)),
        )
    return x


def _register_symbolics(opset: int) -> None:
    # SGN's frame differences use torch.diff, which the TorchScript-based exporter cannot map
    if opset not in _REGISTERED:
        torch.onnx.register_custom_op_symbolic("aten::diff", _diff_symbolic, opset)
        _REGISTERED.add(opset)


def export_onnx(
    module: nn.Module,
    inputs: Sequence[torch.Tensor],
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]] | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write ``module`` (put in eval mode; its mode is restored afterwards) to ``path`` as ONNX.

    Args:
        dynamic_axes: input/output name -> {axis: symbolic name} for axes that may vary.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _register_symbolics(opset)
    was_training = module.training
    module.eval()  # the exporter would otherwise restore train mode on the whole tree afterwards
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
            torch.onnx.export(
                module,
                tuple(inputs),
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes=dynamic_axes or {},
                do_constant_folding=True,
            )
    finally:
        module.train(was_training)
    return path


def onnx_runner(path: str | Path, threads: int | None = None) -> Callable[..., list[np.ndarray]]:
    """A function running the ONNX file with onnxruntime (CPU): ``run(*arrays) -> [outputs]``."""
    try:
        import onnxruntime as ort
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("running ONNX models needs onnxruntime: pip install 'pyskl[export]'") from err
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(*arrays: np.ndarray) -> list[np.ndarray]:
        if len(arrays) != len(names):
            raise ValueError(f"{path} takes {len(names)} inputs {names}, got {len(arrays)}")
        return session.run(
            None, {n: np.ascontiguousarray(a, dtype=np.float32) for n, a in zip(names, arrays)}
        )

    return run
