"""Synchronised batch norm that also works on CPU (gloo), for ``sync_bn=True`` configs.

``torch.nn.SyncBatchNorm`` only runs on GPUs. Under torchrun on CPU, ``convert_sync_batchnorm``
swaps every ``BatchNorm{1,2,3}d`` for ``CPUSyncBatchNorm``, whose training-mode statistics (and their
gradients) are all-reduced over the process group, so W processes with batches of B/W compute what
one process computes with a batch of B. On CUDA the stock ``nn.SyncBatchNorm`` is used.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["CPUSyncBatchNorm", "convert_sync_batchnorm"]


class _SyncBN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps, group):  # noqa: D102
        c = x.shape[1]
        dims = [0] + list(range(2, x.dim()))
        shape = [1, c] + [1] * (x.dim() - 2)
        x64 = x.double()
        stats = torch.cat([x64.sum(dims), (x64 * x64).sum(dims),
                           torch.tensor([x.numel() // c], dtype=torch.float64)])
        dist.all_reduce(stats, group=group)
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c:2 * c] / total - mean * mean).clamp_min(0)
        invstd = torch.rsqrt(var + eps)
        xhat = ((x64 - mean.view(shape)) * invstd.view(shape)).to(x.dtype)
        ctx.save_for_backward(xhat, weight, invstd.to(x.dtype))
        ctx.total, ctx.group, ctx.dims, ctx.shape = total, group, dims, shape
        y = xhat * weight.view(shape) + bias.view(shape)
        mean, var = mean.to(x.dtype), var.to(x.dtype)
        ctx.mark_non_differentiable(mean, var, total)
        return y, mean, var, total

    @staticmethod
    def backward(ctx, grad_y, _gm, _gv, _gt):  # noqa: D102
        xhat, weight, invstd = ctx.saved_tensors
        dims, shape = ctx.dims, ctx.shape
        sum_g = grad_y.sum(dims)
        sum_gx = (grad_y * xhat).sum(dims)
        both = torch.cat([sum_g, sum_gx]).double()
        dist.all_reduce(both, group=ctx.group)
        c = sum_g.numel()
        mean_g = (both[:c] / ctx.total).to(grad_y.dtype)
        mean_gx = (both[c:] / ctx.total).to(grad_y.dtype)
        grad_x = (weight * invstd).view(shape) * (grad_y - mean_g.view(shape) - xhat * mean_gx.view(shape))
        return grad_x, sum_gx, sum_g, None, None


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose batch statistics span every process of the group (any device)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = process_group

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        synced = self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if not synced or not self.affine:
            return super().forward(x)
        y, mean, var, total = _SyncBN.apply(x, self.weight, self.bias, self.eps, self.process_group)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * (total / max(float(total) - 1, 1.0)).to(var.dtype)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * unbiased.detach())
        return y


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Swap batch norms for synchronised ones (``nn.SyncBatchNorm`` on CUDA, ``CPUSyncBatchNorm`` else)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, CPUSyncBatchNorm):
        out = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            with torch.no_grad():
                out.weight.copy_(module.weight)
                out.bias.copy_(module.bias)
        if module.track_running_stats:
            out.running_mean.copy_(module.running_mean)
            out.running_var.copy_(module.running_var)
            out.num_batches_tracked.copy_(module.num_batches_tracked)
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, device))
    return out
