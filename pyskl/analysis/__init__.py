"""Model analysis: per-clip input shapes, parameters, FLOPs (10^9 multiply-adds), latency/throughput."""

from .complexity import FlopCount, ParamCount, count_flops, count_parameters
from .inputs import InputSpec, input_spec
from .speed import SpeedResult, measure_speed

__all__ = [
    "FlopCount",
    "InputSpec",
    "ParamCount",
    "SpeedResult",
    "count_flops",
    "count_parameters",
    "input_spec",
    "measure_speed",
]
