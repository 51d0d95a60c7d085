"""``export_model``: a recognizer -> ONNX or TorchScript file, checked against PyTorch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..analysis.inputs import InputSpec
from .onnx_export import export_onnx, onnx_runner
from .parity import max_abs_diff, parity_shapes, random_input
from .rewrite import fix_adaptive_pools
from .torchscript_export import export_torchscript, torchscript_runner
from .wrapper import ExportWrapper

__all__ = ["FORMATS", "ExportResult", "export_model"]

FORMATS = ("onnx", "torchscript")


@dataclass
class ExportResult:
    """What was written and how closely it matches PyTorch.

    Attributes:
        diffs: ``(input shape, max |exported - pytorch|)`` for each parity input.
    """

    path: Path
    format: str
    input_shape: tuple
    dynamic_axes: dict
    output: str
    diffs: list = field(default_factory=list)
    note: str = ""

    @property
    def max_diff(self) -> float:
        return max((d for _, d in self.diffs), default=float("nan"))


def export_model(
    model: nn.Module,
    spec: InputSpec,
    fmt: str,
    path: str | Path,
    average: str | None = "prob",
    dynamic: bool = True,
    check: bool = True,
    opset: int = 17,
) -> ExportResult:
    """Export ``model``'s test forward (see :class:`ExportWrapper`) and run the parity check.

    The model is moved to CPU float32 for export; ``spec`` gives the input (``input_spec(cfg)``).
    With ``dynamic``, batch, clips (and frames / height / width where the model allows) may vary, and
    the check also runs a second input that varies each of them.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    wrapper = ExportWrapper(model.float().cpu(), average).eval()
    shapes = parity_shapes(spec, dynamic)
    example = torch.as_tensor(random_input(spec, shapes[0], seed=0))
    axes = dict(spec.dynamic) if dynamic else {}
    out_axes = {0: "batch"} if dynamic else {}
    if average is None and dynamic:
        out_axes[1] = "clips"
    note = ""
    if fmt == "onnx":
        name = "keypoint" if spec.kind == "gcn" else "imgs"
        onnx_module = fix_adaptive_pools(wrapper, (example,))
        try:
            export_onnx(
                onnx_module,
                [example],
                path,
                [name],
                ["scores"],
                {name: axes, "scores": out_axes} if dynamic else None,
                opset=opset,
            )
        except torch.onnx.errors.SymbolicValueError as err:
            if not dynamic:
                raise
            # e.g. SGN's AdaptiveMaxPool2d needs the input size, which dynamic axes hide: fix every axis
            note = f"static shapes only ({str(err).splitlines()[0][:120]})"
            axes, shapes = {}, shapes[:1]
            export_onnx(onnx_module, [example], path, [name], ["scores"], None, opset=opset)
        runner = onnx_runner(path) if check else None
    else:
        export_torchscript(wrapper, [example], path)
        runner = torchscript_runner(path) if check else None
    result = ExportResult(
        Path(path), fmt, tuple(shapes[0]), axes, "scores" if average else "logits", note=note
    )
    if check:
        for i, shape in enumerate(shapes):
            result.diffs.append(
                (tuple(shape), max_abs_diff(wrapper, runner, [random_input(spec, shape, seed=i + 1)]))
            )
    return result
