"""Model analysis: per-clip input shapes, parameters, FLOPs (10^9 multiply-adds), latency/throughput."""
from .complexity import FlopCount, ParamCount, count_flops, count_parameters
from .inputs import InputSpec, input_spec
from .speed import SpeedResult, measure_speed

__all__ = ["InputSpec", "input_spec", "FlopCount", "ParamCount", "count_flops", "count_parameters",
           "SpeedResult", "measure_speed"]
