"""Latency and throughput of a model's test forward on the current device."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["SpeedResult", "measure_speed"]


@dataclass
class SpeedResult:
    """Timing of ``model.predict`` (eval, no grad).

    Attributes:
        latency_ms: median wall time of one clip (batch 1).
        throughput: clips per second at ``batch`` clips per call (median call time).
        threads: torch CPU threads in use; device: where it ran.
    """

    latency_ms: float
    latency_min_ms: float
    throughput: float
    batch: int
    iters: int
    device: str
    threads: int


def _timed(fn, x: torch.Tensor, warmup: int, iters: int, device: torch.device) -> np.ndarray:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn(x)
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn(x)
        sync()
        times.append(time.perf_counter() - t0)
    return np.asarray(times)


@torch.inference_mode()
def measure_speed(
    model: nn.Module,
    clip_shape: tuple,
    batch: int = 16,
    warmup: int = 2,
    iters: int = 5,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> SpeedResult:
    """Median latency of one clip and throughput at ``batch`` clips, on random input.

    Args:
        clip_shape: one clip's input without N and clips (GCN ``(M, T, V, C)``, 3D ``(C, T, H, W)``).
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device).eval()
    g = torch.Generator().manual_seed(seed)
    fn = model.predict if hasattr(model, "predict") else model
    one = torch.randn((1, 1) + tuple(clip_shape), generator=g).to(device)
    many = torch.randn((batch, 1) + tuple(clip_shape), generator=g).to(device)
    lat = _timed(fn, one, warmup, iters, device)
    thr = _timed(fn, many, warmup, iters, device)
    return SpeedResult(
        latency_ms=float(np.median(lat) * 1e3),
        latency_min_ms=float(lat.min() * 1e3),
        throughput=float(batch / np.median(thr)),
        batch=batch,
        iters=iters,
        device=str(device),
        threads=torch.get_num_threads(),
    )
