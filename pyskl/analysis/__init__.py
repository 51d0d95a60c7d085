"""Model analysis: per-clip input shapes, parameters, FLOPs (10^9 multiply-adds), latency/throughput."""
from .inputs import InputSpec, input_spec

__all__ = ["InputSpec", "input_spec"]
