"""``GeneratePoseTarget``: PoseC3D's pseudo heatmaps from 2D keypoints, vectorised.

PYSKL loops over frames, joints and persons in Python, evaluating one Gaussian window at a time
(the data-loading bottleneck its users report). Here every keypoint's window is evaluated at once
as a fixed-size patch (values outside the true window are zero) and max-merged with one
gather/scatter per person; limbs are evaluated on their bounding patch, batched by patch size.

The values follow PYSKL's float semantics under numpy 1 (its reference environment): window
bounds from ``int(mu -/+ 3 sigma)`` in float64, keypoint Gaussians in float32, limb Gaussians
``exp`` in float64 of float32 distances (float64 for the projection when keypoints are float64,
e.g. after a crop). Agreement with PYSKL is within 1e-5 (bit-exact windows).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...registry import TRANSFORMS
from .compose import Transform
from .cropping import require_2d_pose

__all__ = ["GeneratePoseTarget", "keypoint_heatmaps", "limb_heatmaps", "generate_heatmaps",
           "COCO_SKELETONS", "EPS"]

EPS = 1e-3  # PYSKL's cut-off: joints/limbs with a lower score draw nothing
COCO_SKELETONS = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10),
                  (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))
COCO_LEFT_KP = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT_KP = (2, 4, 6, 8, 10, 12, 14, 16)
COCO_LEFT_LIMB = (0, 2, 4, 5, 6, 10, 11, 12)
COCO_RIGHT_LIMB = (1, 3, 7, 8, 9, 13, 14, 15)


def _window(lo: np.ndarray, hi: np.ndarray, size: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """PYSKL's window ``[max(int(lo - 3s), 0), min(int(hi + 3s) + 1, size))`` as int64 arrays."""
    start = np.clip(np.trunc(lo - 3 * sigma), 0, size)
    end = np.clip(np.trunc(hi + 3 * sigma) + 1, 0, size)
    return start.astype(np.int64), end.astype(np.int64)


def _patch_grid(start: np.ndarray, end: np.ndarray, size: int, bucket: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``[P, n]`` of a fixed-size patch covering each window, and the in-window mask.

    The patch is anchored at the window start, moved left where it would leave the frame; P is
    the widest window (or ``bucket``), so the pixels of one patch are always distinct and valid.
    Items are on the last axis throughout, so numpy's inner loops run over them (not over P ~ 5).
    """
    width = int(bucket if bucket is not None else max(int((end - start).max(initial=1)), 1))
    width = min(width, size)
    anchor = np.minimum(start, size - width)
    pix = np.arange(width)[:, None] + anchor
    inside = (pix >= start) & (pix < end)
    return pix, inside


class _MaxMerger:
    """Collects patches ``[Py, Px, n]`` and max-merges them into ``heat [planes, H, W]``.

    Patches are added per group (person): within one group every patch goes to a different plane,
    so a plain gather / maximum / scatter is exact (no duplicate indices); groups are merged one
    after another. With ``mirror = (num_frame, order)`` each patch is also written, mirrored
    (``x -> W - 1 - x``) into channel ``order^-1[c]`` of frame ``num_frame + t``: PYSKL's
    ``double`` copy, without a strided copy of the whole heatmap.
    """

    def __init__(self, heat: np.ndarray, mirror: tuple[int, np.ndarray] | None = None) -> None:
        self.flat = heat.reshape(-1)
        self.c, self.h, self.w = heat.shape[-3:]
        self.mirror = mirror
        self.groups: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def _index(self, plane: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return (plane * (self.h * self.w) + ys[:, None, :] * self.w) + xs[None, :, :]

    def add(self, group: np.ndarray, plane: np.ndarray, ys: np.ndarray, xs: np.ndarray,
            values: np.ndarray) -> None:
        """Queue patches: ``group``/``plane [n]`` (sorted by group), ``ys [Py, n]``, ``xs [Px, n]``,
        ``values [Py, Px, n]``."""
        indices = [self._index(plane, ys, xs)]
        if self.mirror is not None:  # a different plane, so the same group stays duplicate-free
            num_frame, inverse = self.mirror
            t, c = np.divmod(plane, self.c)
            indices.append(self._index((t + num_frame) * self.c + inverse[c], ys, self.w - 1 - xs))
        # item-major blocks [n, Py * Px] (one patch after another): the scatter sweeps memory in order
        values = values.reshape(-1, values.shape[-1]).T
        indices = [index.reshape(-1, index.shape[-1]).T for index in indices]
        bounds = np.flatnonzero(np.diff(group)) + 1
        for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [group.size]))):
            store = self.groups.setdefault(int(group[lo]), [])
            store.extend((index[lo:hi], values[lo:hi]) for index in indices)

    def merge(self) -> None:
        """Write the queued patches; the heatmap must be all zeros before the first merge."""
        for i, parts in enumerate(self.groups.values()):
            index = np.concatenate([p[0].ravel() for p in parts])
            values = np.concatenate([p[1].ravel() for p in parts])
            # the first group lands on zeros (patch values are >= 0): no need to read them back
            self.flat[index] = values if i == 0 else np.maximum(self.flat[index], values)
        self.groups.clear()


def _point_patches(merger: _MaxMerger, group: np.ndarray, plane: np.ndarray, mu: np.ndarray,
                   values: np.ndarray, sigma: float) -> None:
    """Gaussian patches of single points. ``mu [n, 2]`` (float32/64), ``values [n]`` float32."""
    h, w = merger.h, merger.w
    mu64 = mu.astype(np.float64)
    st_x, ed_x = _window(mu64[:, 0], mu64[:, 0], w, sigma)
    st_y, ed_y = _window(mu64[:, 1], mu64[:, 1], h, sigma)
    keep = (ed_x > st_x) & (ed_y > st_y)
    if not keep.any():
        return
    if not keep.all():
        group, plane, values, mu = group[keep], plane[keep], values[keep], mu[keep]
        st_x, ed_x, st_y, ed_y = st_x[keep], ed_x[keep], st_y[keep], ed_y[keep]
    mu32 = mu[:, :2].astype(np.float32)
    xs, in_x = _patch_grid(st_x, ed_x, w)
    ys, in_y = _patch_grid(st_y, ed_y, h)
    # outside the window: infinite distance -> exp(-inf) = 0 exactly
    dx2 = np.where(in_x, (xs.astype(np.float32) - mu32[:, 0]) ** 2, np.float32(np.inf))
    dy2 = np.where(in_y, (ys.astype(np.float32) - mu32[:, 1]) ** 2, np.float32(np.inf))
    d2 = dx2[None, :, :] + dy2[:, None, :]  # Py, Px, n
    patch = np.exp(-d2 / 2 / sigma ** 2)
    patch *= values
    merger.add(group, plane, ys, xs, patch)


_BUCKET_COST_S = 150e-6  # rough cost of one batch of limb patches (numpy call overhead) ...
_PIXEL_COST_S = 40e-9  # ... and of one patch pixel; they pick the bucket step


def _bucket_keys(span_y: np.ndarray, span_x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Batch key (padded patch size ``Py * (w + 1) + Px``) per limb: sizes rounded up to a step chosen
    to balance the number of batches against the padding (small steps for many limbs)."""
    best = None
    for step in (1, 2, 4, 8):
        by = np.minimum(-(-span_y // step) * step, h)
        bx = np.minimum(-(-span_x // step) * step, w)
        key = by * (w + 1) + bx
        cost = len(np.unique(key)) * _BUCKET_COST_S + float((by * bx).sum()) * _PIXEL_COST_S
        if best is None or cost < best[0]:
            best = (cost, key)
    return best[1]


def _segment_patches(merger: _MaxMerger, group: np.ndarray, plane: np.ndarray, start: np.ndarray,
                     end: np.ndarray, values: np.ndarray, d2_ab: np.ndarray, sigma: float) -> None:
    """Limb patches (distance to the segment), batched by rounded patch size."""
    h, w = merger.h, merger.w
    s64, e64 = start.astype(np.float64), end.astype(np.float64)
    st_x, ed_x = _window(np.minimum(s64[:, 0], e64[:, 0]), np.maximum(s64[:, 0], e64[:, 0]), w, sigma)
    st_y, ed_y = _window(np.minimum(s64[:, 1], e64[:, 1]), np.maximum(s64[:, 1], e64[:, 1]), h, sigma)
    keep = (ed_x > st_x) & (ed_y > st_y)
    key = np.where(keep, _bucket_keys(ed_y - st_y, ed_x - st_x, h, w), -1)
    for k in np.unique(key):
        if k < 0:
            continue
        sel = np.flatnonzero(key == k)
        bucket_y, bucket_x = int(k // (w + 1)), int(k % (w + 1))
        xs, in_x = _patch_grid(st_x[sel], ed_x[sel], w, bucket_x)
        ys, in_y = _patch_grid(st_y[sel], ed_y[sel], h, bucket_y)
        patch = _segment_values(xs, ys, start[sel], end[sel], d2_ab[sel], sigma)
        patch = (patch * values[sel].astype(np.float64)).astype(np.float32)
        patch *= in_y[:, None, :] & in_x[None, :, :]
        merger.add(group[sel], plane[sel], ys, xs, patch)


def _segment_values(xs: np.ndarray, ys: np.ndarray, start: np.ndarray, end: np.ndarray,
                    d2_ab: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(-d^2 / 2 sigma^2)`` (float64, ``[Py, Px, n]``) of each pixel's distance to its segment.

    Mirrors PYSKL's dtypes under numpy 1: pixel-to-endpoint distances and the projection
    coefficient in float32, the projection in the keypoints' dtype, the exponential in float64.
    """
    ftype = start.dtype
    s32, e32 = start.T.astype(np.float32), end.T.astype(np.float32)  # 2, n
    st, en = start.T, end.T
    x32 = xs.astype(np.float32)[None, :, :]
    y32 = ys.astype(np.float32)[:, None, :]
    d2_start = (x32 - s32[0]) ** 2 + (y32 - s32[1]) ** 2
    d2_end = (x32 - e32[0]) ** 2 + (y32 - e32[1]) ** 2
    ab32 = d2_ab.astype(np.float32)
    coeff = (d2_start - d2_end + ab32) / 2. / ab32
    coeff_f = coeff.astype(ftype)
    proj_x = st[0] + coeff_f * (en[0] - st[0])
    proj_y = st[1] + coeff_f * (en[1] - st[1])
    d2_line = (x32.astype(ftype) - proj_x) ** 2 + (y32.astype(ftype) - proj_y) ** 2
    d2_seg = np.where(coeff <= 0, d2_start, np.where(coeff >= 1, d2_end, d2_line)).astype(np.float64)
    return np.exp(-d2_seg / 2. / sigma ** 2)


def _as_float(kps: np.ndarray) -> np.ndarray:
    return kps if kps.dtype in (np.float32, np.float64) else kps.astype(np.float32)


def keypoint_heatmaps(kps: np.ndarray, scores: np.ndarray, img_h: int, img_w: int,
                      sigma: float = 0.6, out: np.ndarray | None = None,
                      _mirror: tuple[int, np.ndarray] | None = None) -> np.ndarray:
    """Per-joint pseudo heatmaps ``[T, V, H, W]`` (float32), max over persons.

    Args:
        kps: ``[M, T, V, >=2]`` pixel coordinates (float32, or float64 after a crop).
        scores: ``[M, T, V]`` joint confidences; joints below ``EPS`` draw nothing.
        img_h: heatmap height.
        img_w: heatmap width.
        sigma: Gaussian std in pixels.
        out: optional zero-filled ``[T, V, H, W]`` float32 buffer to draw into.
    """
    kps = _as_float(np.asarray(kps))
    num_person, num_frame, num_joint = kps.shape[:3]
    heat = np.zeros((num_frame, num_joint, img_h, img_w), np.float32) if out is None else out
    scores = np.asarray(scores, dtype=np.float32)
    active = (scores.astype(np.float64) >= EPS) & np.isfinite(kps[..., :2]).all(-1)
    m_idx, t_idx, v_idx = np.nonzero(active)
    if m_idx.size:
        merger = _MaxMerger(heat, _mirror)
        _point_patches(merger, m_idx, t_idx * num_joint + v_idx, kps[m_idx, t_idx, v_idx, :2],
                       scores[m_idx, t_idx, v_idx], sigma)
        merger.merge()
    return heat


def limb_heatmaps(kps: np.ndarray, scores: np.ndarray, skeletons: Sequence[Sequence[int]], img_h: int,
                  img_w: int, sigma: float = 0.6, out: np.ndarray | None = None,
                  _mirror: tuple[int, np.ndarray] | None = None) -> np.ndarray:
    """Per-limb pseudo heatmaps ``[T, L, H, W]`` (float32), max over persons.

    A limb's value is ``min(score_a, score_b) * exp(-d^2 / 2 sigma^2)`` with ``d`` the distance to
    the segment ab; a limb shorter than 1 px (``|ab|^2 < 1``) draws the Gaussian of point a with
    score a, as PYSKL does.
    """
    kps = _as_float(np.asarray(kps))
    num_person, num_frame = kps.shape[:2]
    pairs = np.asarray(skeletons, dtype=np.int64).reshape(-1, 2)
    num_limb = len(pairs)
    heat = np.zeros((num_frame, num_limb, img_h, img_w), np.float32) if out is None else out
    if num_limb == 0:
        return heat
    scores = np.asarray(scores, dtype=np.float32)
    start, end = kps[:, :, pairs[:, 0], :2], kps[:, :, pairs[:, 1], :2]  # M, T, L, 2
    s_val, e_val = scores[:, :, pairs[:, 0]], scores[:, :, pairs[:, 1]]
    value = np.minimum(s_val, e_val)
    active = ((value.astype(np.float64) >= EPS) & np.isfinite(start).all(-1) & np.isfinite(end).all(-1))
    m_idx, t_idx, l_idx = np.nonzero(active)
    if not m_idx.size:
        return heat
    start, end = start[m_idx, t_idx, l_idx], end[m_idx, t_idx, l_idx]
    plane = t_idx * num_limb + l_idx
    d2_ab = ((start[:, 0] - end[:, 0]) ** 2 + (start[:, 1] - end[:, 1]) ** 2)  # keypoints' dtype
    point = d2_ab < 1
    merger = _MaxMerger(heat, _mirror)
    if point.any():
        _point_patches(merger, m_idx[point], plane[point], start[point],
                       s_val[m_idx, t_idx, l_idx][point], sigma)
    seg = ~point
    if seg.any():
        _segment_patches(merger, m_idx[seg], plane[seg], start[seg], end[seg],
                         value[m_idx, t_idx, l_idx][seg], d2_ab[seg], sigma)
    merger.merge()
    return heat


def flip_channel_order(num_channels: int, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    """Channel permutation that swaps each ``left[i]`` with ``right[i]``."""
    order = np.arange(num_channels, dtype=np.int64)
    for a, b in zip(left, right):
        order[a], order[b] = b, a
    return order


def generate_heatmaps(kps: np.ndarray, scores: np.ndarray, img_h: int, img_w: int, sigma: float,
                      with_kp: bool, skeletons: Sequence[Sequence[int]] = (),
                      flip_order: np.ndarray | None = None) -> np.ndarray:
    """Heatmaps ``[T, C, H, W]``; with ``flip_order`` ``[2T, C, H, W]`` (PYSKL ``double=True``).

    The second half is ``heatmap[:, flip_order, :, ::-1]``, a pixel mirror (``W - 1 - x``).
    """
    num_frame = kps.shape[1]
    channels = kps.shape[2] if with_kp else len(skeletons)
    views = 1 if flip_order is None else 2
    out = np.zeros((views * num_frame, channels, img_h, img_w), np.float32)
    mirror = None if flip_order is None else (num_frame, np.argsort(np.asarray(flip_order)))
    if with_kp:
        keypoint_heatmaps(kps, scores, img_h, img_w, sigma, out=out, _mirror=mirror)
    else:
        limb_heatmaps(kps, scores, skeletons, img_h, img_w, sigma, out=out, _mirror=mirror)
    return out


@TRANSFORMS.register()
class GeneratePoseTarget(Transform):
    """Render pseudo heatmaps of joints or limbs, PYSKL's ``GeneratePoseTarget`` (vectorised).

    Required keys: ``keypoint [M, T, V, 2]``, ``img_shape``; optional ``keypoint_score [M, T, V]``.
    Added keys: ``imgs`` ``[T, C, H, W]`` float32 (``heatmap_imgs`` when ``imgs`` already exists,
    e.g. RGB+Pose); ``[2T, ...]`` with ``double``.
    Modified keys: ``keypoint`` is scaled in place by ``scaling`` (as in PYSKL).

    Args:
        sigma: Gaussian std in heatmap pixels.
        use_score: weight by ``keypoint_score`` (else 1).
        with_kp: one channel per joint.
        with_limb: one channel per ``skeletons`` limb (exactly one of with_kp / with_limb).
        skeletons: limb joint pairs (COCO's by default).
        double: append the horizontally flipped heatmaps (test-time augmentation).
        left_kp: joints swapped with ``right_kp`` in the flipped copy.
        right_kp: see ``left_kp``.
        left_limb: limbs swapped with ``right_limb`` in the flipped copy.
        right_limb: see ``left_limb``.
        scaling: heatmap size relative to ``img_shape``.
    """

    def __init__(self, sigma: float = 0.6, use_score: bool = True, with_kp: bool = True,
                 with_limb: bool = False, skeletons: Sequence[Sequence[int]] = COCO_SKELETONS,
                 double: bool = False, left_kp: Sequence[int] = COCO_LEFT_KP,
                 right_kp: Sequence[int] = COCO_RIGHT_KP, left_limb: Sequence[int] = COCO_LEFT_LIMB,
                 right_limb: Sequence[int] = COCO_RIGHT_LIMB, scaling: float = 1.) -> None:
        if bool(with_kp) == bool(with_limb):
            raise ValueError("GeneratePoseTarget: exactly one of with_kp and with_limb must be True "
                             f"(got with_kp={with_kp}, with_limb={with_limb})")
        if sigma <= 0:
            raise ValueError(f"GeneratePoseTarget: sigma must be positive, got {sigma}")
        self.sigma = sigma
        self.use_score = use_score
        self.with_kp = with_kp
        self.with_limb = with_limb
        self.skeletons = tuple(tuple(int(j) for j in pair) for pair in skeletons)
        self.double = double
        self.left_kp, self.right_kp = tuple(left_kp), tuple(right_kp)
        self.left_limb, self.right_limb = tuple(left_limb), tuple(right_limb)
        self.scaling = scaling
        self.eps = EPS

    def _inputs(self, results: dict) -> tuple[np.ndarray, np.ndarray, int, int]:
        require_2d_pose(results, type(self).__name__)
        kps = results["keypoint"]
        num_joint = kps.shape[2]
        if self.with_limb and self.skeletons and max(max(p) for p in self.skeletons) >= num_joint:
            raise ValueError(f"GeneratePoseTarget: a skeleton limb refers to joint "
                             f"{max(max(p) for p in self.skeletons)} but the keypoints have {num_joint}")
        if "keypoint_score" in results and self.use_score:
            scores = results["keypoint_score"]
        else:
            scores = np.ones(kps.shape[:-1], dtype=np.float32)
        img_h, img_w = results["img_shape"]
        if self.scaling != 1:
            img_h, img_w = int(img_h * self.scaling + 0.5), int(img_w * self.scaling + 0.5)
            kps[..., :2] *= self.scaling  # in place, like PYSKL
        return kps, scores, int(img_h), int(img_w)

    def flip_order(self, num_channels: int) -> np.ndarray | None:
        if not self.double:
            return None
        left, right = (self.left_kp, self.right_kp) if self.with_kp else (self.left_limb, self.right_limb)
        return flip_channel_order(num_channels, left, right)

    def __call__(self, results: dict) -> dict:
        kps, scores, img_h, img_w = self._inputs(results)
        channels = kps.shape[2] if self.with_kp else len(self.skeletons)
        heatmap = generate_heatmaps(kps, scores, img_h, img_w, self.sigma, self.with_kp, self.skeletons,
                                    self.flip_order(channels))
        results["heatmap_imgs" if "imgs" in results else "imgs"] = heatmap
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(sigma={self.sigma}, use_score={self.use_score}, "
                f"with_kp={self.with_kp}, with_limb={self.with_limb}, skeletons={self.skeletons}, "
                f"double={self.double}, left_kp={self.left_kp}, right_kp={self.right_kp}, "
                f"left_limb={self.left_limb}, right_limb={self.right_limb}, scaling={self.scaling})")
