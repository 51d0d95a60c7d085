"""``GeneratePoseTarget`` in torch: the same heatmaps on any device, for batches inside a train step.

Same algorithm as ``heatmap.py`` (fixed-size patches over PYSKL's windows, limbs batched by patch
size) with the same float semantics, and max-merging by ``scatter_reduce_('amax')``, so persons and
batch samples need no Python loop. Equal to the numpy path within 1e-5.

Two entry points:
- ``render_heatmaps(kps, scores, ...)``: tensors ``[N, M, T, V, 2]`` in, per-frame heatmaps
  ``[N, T, C, H, W]`` out; ``BatchGeneratePoseTarget`` wraps it to give the network input
  ``[N * views, C, T, H, W]``, e.g. on the GPU after the loader delivered keypoints instead of
  heatmaps (``BatchGeneratePoseTarget.from_config`` takes the pipeline's op dict).
- ``GeneratePoseTargetTorch``: a drop-in pipeline op (``type='GeneratePoseTargetTorch'``, plus
  ``device``) that writes the same numpy ``imgs`` as ``GeneratePoseTarget``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ...registry import TRANSFORMS
from .compose import Transform
from .heatmap import EPS, GeneratePoseTarget

# torch is imported inside the functions: importing the pipelines stays light for GCN-only users.
if TYPE_CHECKING:
    import torch

__all__ = ["render_heatmaps", "BatchGeneratePoseTarget", "GeneratePoseTargetTorch", "PoseToHeatmapInput"]


def _window(lo: torch.Tensor, hi: torch.Tensor, size: int, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    import torch
    start = torch.clamp(torch.trunc(lo - 3 * sigma), 0, size)
    end = torch.clamp(torch.trunc(hi + 3 * sigma) + 1, 0, size)
    return start.long(), end.long()


def _grid(start: torch.Tensor, end: torch.Tensor, size: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    import torch
    width = max(1, min(width, size))
    anchor = torch.clamp(start, max=size - width)
    pix = anchor[:, None] + torch.arange(width, device=start.device)
    inside = (pix >= start[:, None]) & (pix < end[:, None])
    return pix, inside


class _Target:
    """The output ``[N, views * T, C, H, W]``; patches address planes ``(n * T + t) * C + c``.

    ``scatter`` max-merges patches (``scatter_reduce_('amax')`` handles persons overlapping); with
    ``inverse`` (PYSKL's ``double``) each patch is also written mirrored (``x -> W - 1 - x``) into
    channel ``inverse[c]`` of frame ``T + t``, instead of flipping and concatenating afterwards.
    """

    def __init__(self, heat: torch.Tensor, num_frame: int, inverse: torch.Tensor | None) -> None:
        self.heat, self.flat = heat, heat.view(-1)
        self.t, self.inverse = num_frame, inverse
        self.c, self.h, self.w = heat.shape[-3:]

    def _put(self, plane: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, values: torch.Tensor) -> None:
        index = (plane[:, None, None] * self.h + ys[:, :, None]) * self.w + xs[:, None, :]
        self.flat.scatter_reduce_(0, index.reshape(-1), values.reshape(-1), reduce="amax")

    def scatter(self, plane: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, values: torch.Tensor) -> None:
        values = values.to(self.flat.dtype)
        nt, c = plane // self.c, plane % self.c
        n, t = nt // self.t, nt % self.t
        views = 1 if self.inverse is None else 2
        self._put((n * views * self.t + t) * self.c + c, ys, xs, values)
        if self.inverse is not None:
            mirrored = (n * views * self.t + self.t + t) * self.c + self.inverse[c]
            self._put(mirrored, ys, self.w - 1 - xs, values)


def _points(target: _Target, plane: torch.Tensor, mu: torch.Tensor, values: torch.Tensor,
            sigma: float) -> None:
    import torch
    h, w = target.h, target.w
    mu64 = mu.double()
    st_x, ed_x = _window(mu64[:, 0], mu64[:, 0], w, sigma)
    st_y, ed_y = _window(mu64[:, 1], mu64[:, 1], h, sigma)
    keep = (ed_x > st_x) & (ed_y > st_y)
    if not bool(keep.any()):
        return
    plane, values, mu32 = plane[keep], values[keep], mu[keep].float()
    st_x, ed_x, st_y, ed_y = st_x[keep], ed_x[keep], st_y[keep], ed_y[keep]
    xs, in_x = _grid(st_x, ed_x, w, int((ed_x - st_x).max()))
    ys, in_y = _grid(st_y, ed_y, h, int((ed_y - st_y).max()))
    dx2 = (xs.float() - mu32[:, :1]) ** 2
    dy2 = (ys.float() - mu32[:, 1:]) ** 2
    d2 = dx2[:, None, :] + dy2[:, :, None]
    patch = torch.exp(-d2 / 2 / sigma ** 2) * values[:, None, None]
    patch = patch * (in_y[:, :, None] & in_x[:, None, :])
    target.scatter(plane, ys, xs, patch)


def _segment_values(xs: torch.Tensor, ys: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
                    d2_ab: torch.Tensor, sigma: float) -> torch.Tensor:
    import torch
    ftype = start.dtype
    s32, e32 = start.float(), end.float()
    x32, y32 = xs.float()[:, None, :], ys.float()[:, :, None]

    def col(a: torch.Tensor, i: int) -> torch.Tensor:
        return a[:, i, None, None]

    d2_start = (x32 - col(s32, 0)) ** 2 + (y32 - col(s32, 1)) ** 2
    d2_end = (x32 - col(e32, 0)) ** 2 + (y32 - col(e32, 1)) ** 2
    ab32 = d2_ab.float()[:, None, None]
    coeff = (d2_start - d2_end + ab32) / 2. / ab32
    coeff_f = coeff.to(ftype)
    proj_x = col(start, 0) + coeff_f * (col(end, 0) - col(start, 0))
    proj_y = col(start, 1) + coeff_f * (col(end, 1) - col(start, 1))
    d2_line = (x32.to(ftype) - proj_x) ** 2 + (y32.to(ftype) - proj_y) ** 2
    f64 = torch.float64
    d2_seg = torch.where(coeff <= 0, d2_start.to(f64),
                         torch.where(coeff >= 1, d2_end.to(f64), d2_line.to(f64)))
    return torch.exp(-d2_seg / 2. / sigma ** 2)


def _segments(target: _Target, plane: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
              values: torch.Tensor, d2_ab: torch.Tensor, sigma: float, step: int = 8) -> None:
    import torch
    h, w = target.h, target.w
    s64, e64 = start.double(), end.double()
    st_x, ed_x = _window(torch.minimum(s64[:, 0], e64[:, 0]), torch.maximum(s64[:, 0], e64[:, 0]), w, sigma)
    st_y, ed_y = _window(torch.minimum(s64[:, 1], e64[:, 1]), torch.maximum(s64[:, 1], e64[:, 1]), h, sigma)
    keep = (ed_x > st_x) & (ed_y > st_y)
    bx = torch.clamp((ed_x - st_x + step - 1) // step * step, max=w)
    by = torch.clamp((ed_y - st_y + step - 1) // step * step, max=h)
    key = torch.where(keep, by * (w + 1) + bx, torch.full_like(bx, -1))
    for k in torch.unique(key).tolist():
        if k < 0:
            continue
        sel = torch.nonzero(key == k).squeeze(1)
        xs, in_x = _grid(st_x[sel], ed_x[sel], w, k % (w + 1))
        ys, in_y = _grid(st_y[sel], ed_y[sel], h, k // (w + 1))
        patch = _segment_values(xs, ys, start[sel], end[sel], d2_ab[sel], sigma)
        patch = (patch * values[sel, None, None].to(patch.dtype)).float()
        patch = patch * (in_y[:, :, None] & in_x[:, None, :])
        target.scatter(plane[sel], ys, xs, patch)


def render_heatmaps(kps: torch.Tensor, scores: torch.Tensor | None, img_h: int, img_w: int,
                    sigma: float = 0.6, with_kp: bool = True, skeletons: Sequence[Sequence[int]] = (),
                    flip_order: Sequence[int] | None = None) -> torch.Tensor:
    """Pseudo heatmaps of a batch, PYSKL semantics.

    Args:
        kps: ``[N, M, T, V, >=2]`` pixel coordinates (float32 or float64); absent persons may be
            anything with score 0.
        scores: ``[N, M, T, V]`` (None = all ones).
        img_h: heatmap height.
        img_w: heatmap width.
        sigma: Gaussian std in pixels.
        with_kp: joints (True) or ``skeletons`` limbs (False).
        skeletons: limb joint pairs.
        flip_order: with PYSKL's ``double``: channel permutation of the mirrored copy.

    Returns:
        float32 ``[N, T, C, H, W]``; with ``flip_order`` ``[N, 2T, C, H, W]`` (second half the
        ``W - 1 - x`` mirror with swapped channels), i.e. per sample what ``GeneratePoseTarget``
        writes to ``imgs``.
    """
    import torch
    if kps.dim() != 5:
        raise ValueError(f"render_heatmaps: kps must be [N, M, T, V, C], got shape {tuple(kps.shape)}")
    if not kps.is_floating_point() or kps.dtype == torch.float16:
        kps = kps.float()
    n, m, t, v = kps.shape[:4]
    device = kps.device
    if scores is None:
        scores = torch.ones(kps.shape[:4], dtype=torch.float32, device=device)
    scores = scores.to(device=device, dtype=torch.float32)
    kps = kps[..., :2]
    if with_kp:
        channels = v
    else:
        pairs = torch.as_tensor(np.asarray(skeletons, dtype=np.int64).reshape(-1, 2), device=device)
        channels = len(pairs)
    views = 1 if flip_order is None else 2
    heat = torch.zeros((n, views * t, channels, img_h, img_w), dtype=torch.float32, device=device)
    inverse = None
    if flip_order is not None:
        inverse = torch.as_tensor(np.argsort(np.asarray(flip_order)), device=device)
    target = _Target(heat, t, inverse)
    finite = torch.isfinite(kps).all(-1)
    if with_kp:
        active = (scores.double() >= EPS) & finite
        idx_n, idx_m, idx_t, idx_v = torch.nonzero(active, as_tuple=True)
        if idx_n.numel():
            plane = (idx_n * t + idx_t) * channels + idx_v
            _points(target, plane, kps[idx_n, idx_m, idx_t, idx_v], scores[idx_n, idx_m, idx_t, idx_v], sigma)
    elif channels:
        start, end = kps[:, :, :, pairs[:, 0]], kps[:, :, :, pairs[:, 1]]
        s_val, e_val = scores[:, :, :, pairs[:, 0]], scores[:, :, :, pairs[:, 1]]
        value = torch.minimum(s_val, e_val)
        active = (value.double() >= EPS) & finite[:, :, :, pairs[:, 0]] & finite[:, :, :, pairs[:, 1]]
        idx_n, idx_m, idx_t, idx_l = torch.nonzero(active, as_tuple=True)
        if idx_n.numel():
            sel = (idx_n, idx_m, idx_t, idx_l)
            start, end, value, s_val = start[sel], end[sel], value[sel], s_val[sel]
            plane = (idx_n * t + idx_t) * channels + idx_l
            d2_ab = (start[:, 0] - end[:, 0]) ** 2 + (start[:, 1] - end[:, 1]) ** 2
            point = d2_ab < 1
            if bool(point.any()):
                _points(target, plane[point], start[point], s_val[point], sigma)
            seg = ~point
            if bool(seg.any()):
                _segments(target, plane[seg], start[seg], end[seg], value[seg], d2_ab[seg], sigma)
    return heat


class BatchGeneratePoseTarget:
    """``GeneratePoseTarget`` + ``FormatShape('NCTHW_Heatmap')`` for a batch of tensors (in the train step).

    Takes the same arguments as ``GeneratePoseTarget``. ``__call__(kps, scores, img_shape, num_clips)``
    with ``kps [N, M, num_clips * T, V, 2]`` (e.g. from ``PoseToHeatmapInput`` + the default collate,
    moved to the GPU) returns Recognizer3D's input ``[N, views * num_clips, C, T, H, W]``, per sample
    exactly what the numpy pipeline gives (views: original, then flipped with ``double``).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.op = GeneratePoseTarget(**kwargs)

    @classmethod
    def from_config(cls, cfg: dict) -> "BatchGeneratePoseTarget":
        """From a pipeline op dict (``type`` ``GeneratePoseTarget``/``GeneratePoseTargetTorch`` ignored)."""
        args = {k: v for k, v in cfg.items() if k not in ("type", "device")}
        return cls(**args)

    def __call__(self, kps: torch.Tensor, scores: torch.Tensor | None, img_shape: Sequence[int],
                 num_clips: int = 1) -> torch.Tensor:
        op = self.op
        img_h, img_w = (int(v) for v in img_shape)
        if op.scaling != 1:
            img_h, img_w = int(img_h * op.scaling + 0.5), int(img_w * op.scaling + 0.5)
            kps = kps.clone()
            kps[..., :2] *= op.scaling
        if not op.use_score:
            scores = None
        channels = kps.shape[3] if op.with_kp else len(op.skeletons)
        heat = render_heatmaps(kps, scores, img_h, img_w, op.sigma, op.with_kp, op.skeletons,
                               op.flip_order(channels))
        n, frames = heat.shape[:2]
        views = 2 if op.double else 1
        clip_len = frames // (views * num_clips)
        heat = heat.view(n, views * num_clips, clip_len, channels, img_h, img_w)
        return heat.permute(0, 1, 3, 2, 4, 5).contiguous()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.op!r})"


@TRANSFORMS.register()
class PoseToHeatmapInput(Transform):
    """Fixed-size keypoints for rendering the heatmaps in the train step instead of the loader.

    Replaces ``GeneratePoseTarget`` + ``FormatShape`` in a pipeline; after ``Collect`` (keys
    ``keypoint``, ``keypoint_score``, ``heatmap_shape``, ``label``) and ``ToTensor`` the default
    collate stacks samples, and ``BatchGeneratePoseTarget`` renders them on the device.

    Required keys: ``keypoint [M, T, V, 2]``, ``img_shape``; optional ``keypoint_score``.
    Modified keys: ``keypoint`` (float32 ``[num_person, T, V, 2]``, zero-padded or truncated),
    ``keypoint_score`` (float32 ``[num_person, T, V]``, 0 for padded persons).
    Added keys: ``heatmap_shape`` (int64 ``[h, w]``).

    Args:
        num_person: persons per sample (PYSKL draws every person; keep the dataset's maximum).
    """

    def __init__(self, num_person: int = 2) -> None:
        self.num_person = num_person

    def __call__(self, results: dict) -> dict:
        from .cropping import require_2d_pose

        require_2d_pose(results, type(self).__name__)
        kps = np.asarray(results["keypoint"])[..., :2]
        scores = results.get("keypoint_score")
        if scores is None:
            scores = np.ones(kps.shape[:-1], np.float32)
        m = min(self.num_person, kps.shape[0])
        out_kp = np.zeros((self.num_person,) + kps.shape[1:], np.float32)
        out_score = np.zeros((self.num_person,) + kps.shape[1:3], np.float32)
        out_kp[:m], out_score[:m] = kps[:m], scores[:m]
        results["keypoint"], results["keypoint_score"] = out_kp, out_score
        results["heatmap_shape"] = np.array(results["img_shape"], dtype=np.int64)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_person={self.num_person})"


@TRANSFORMS.register()
class GeneratePoseTargetTorch(GeneratePoseTarget):
    """``GeneratePoseTarget`` computed with torch on ``device``; writes the same numpy ``imgs``.

    Required/added keys as ``GeneratePoseTarget``. Args: those of ``GeneratePoseTarget`` plus
    ``device`` (e.g. ``'cuda'``; default ``'cpu'``).
    """

    def __init__(self, device: str = "cpu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.device = device

    def __call__(self, results: dict) -> dict:
        import torch
        kps, scores, img_h, img_w = self._inputs(results)
        channels = kps.shape[2] if self.with_kp else len(self.skeletons)
        kps_t = torch.from_numpy(np.ascontiguousarray(kps)).to(self.device)[None]
        scores_t = torch.from_numpy(np.ascontiguousarray(scores, dtype=np.float32)).to(self.device)[None]
        heat = render_heatmaps(kps_t, scores_t, img_h, img_w, self.sigma, self.with_kp, self.skeletons,
                               self.flip_order(channels))
        results["heatmap_imgs" if "imgs" in results else "imgs"] = heat[0].cpu().numpy()
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1].replace("GeneratePoseTarget(", "GeneratePoseTargetTorch(", 1) + \
            f", device={self.device!r})"
