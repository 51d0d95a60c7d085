"""Deployment export: ONNX (onnxruntime) and TorchScript files of a recognizer, with a parity check."""

from .api import FORMATS, ExportResult, export_model
from .onnx_export import export_onnx, onnx_runner
from .parity import max_abs_diff, parity_shapes, random_input
from .torchscript_export import export_torchscript, torchscript_runner
from .wrapper import ExportWrapper

__all__ = [
    "FORMATS",
    "ExportResult",
    "ExportWrapper",
    "export_model",
    "export_onnx",
    "export_torchscript",
    "max_abs_diff",
    "onnx_runner",
    "parity_shapes",
    "random_input",
    "torchscript_runner",
]
