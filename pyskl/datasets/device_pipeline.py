"""A skeleton training pipeline that runs on the training device, batched (opt-in: ``data.device_pipeline``).

PYSKL's GCN train pipelines are a deterministic prefix (``PreNormalize3D``/``PreNormalize2D``,
``GenSkeFeat``) and a few random ops (``RandomScale``, ``RandomRot``, the ``UniformSample`` index draw,
``PoseDecode``'s gather, ``FormatGCNInput``'s person padding). Here the prefix runs once per sample at load
(with the numpy ops themselves), the results are stored as one flat frame tensor on the device, and the
random ops run for a whole batch as torch ops:

* the index draw follows ``functional.sample_clip_indices`` regime by regime, with every ``rand``/``randint``/
  ``choice`` replaced by ``floor(u * high)`` / the ``k`` smallest of uniform keys, so the same uniforms give
  the same indices as the numpy op (``sample_indices`` takes them explicitly for that reason);
* ``RandomScale``/``RandomRot`` are linear maps of each coordinate triple, so they commute with the joint,
  bone and motion features (differences of joints) and with frame selection: the device path composes them
  into one matrix per sample and applies it to the gathered clip.

A pipeline with any other op is refused by name; the numpy pipeline stays the default and the reference.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from ..config import ConfigError
from .pipelines.functional import SCORE_LAYOUTS

__all__ = ["DevicePlan", "DeviceSkeletonSet", "DeviceTrainData", "plan_device_pipeline", "sample_indices",
           "draw_indices", "linear_maps", "build_device_train_data", "STORAGE_DTYPES"]

STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_LOAD_OPS = ("PreNormalize3D", "PreNormalize2D")
_PAD_OP = "PadTo"  # deterministic too: loops/zero-pads every sample to one length at load
_LINEAR_OPS = ("RandomScale", "RandomRot")
_SAMPLE_OPS = ("UniformSample", "UniformSampleFrames", "UniformSampleDecode")
_SUPPORTED = (_LOAD_OPS + (_PAD_OP,) + _LINEAR_OPS + _SAMPLE_OPS
              + ("GenSkeFeat", "PoseDecode", "FormatGCNInput", "Collect", "ToTensor"))


@dataclass
class DevicePlan:
    """A train pipeline split into the load-time ops and the batched device ops.

    Attributes:
        load_ops: the deterministic ops (transform objects) run once per sample at load, in order.
        linear_ops: ``(op, before_features)`` for each RandomScale/RandomRot in pipeline order.
        feat_groups: how many coordinate groups GenSkeFeat concatenates (``len(feats)``; 1 without it).
        clip_len, num_clips, p_interval: the sampling op's arguments.
        loop_short: UniformSampleDecode's wrap of short clips inside the kept interval.
        num_person: FormatGCNInput's person count (padding with zeros / cutting).
        whole: PadTo's length when the pipeline decodes every (padded) frame instead of sampling, else 0.
    """

    load_ops: list = field(default_factory=list)
    linear_ops: list = field(default_factory=list)
    feat_groups: int = 1
    clip_len: int = 0
    num_clips: int = 1
    p_interval: tuple = (1.0, 1.0)
    loop_short: bool = False
    num_person: int = 2
    whole: int = 0


def _refuse(name: str, why: str) -> ConfigError:
    return ConfigError(f"data.device_pipeline: the train pipeline's {name} {why}; "
                       "run it on the numpy pipeline (data.device_pipeline=False)")


def plan_device_pipeline(pipeline: Any) -> DevicePlan:
    """Split a train pipeline (a ``Compose`` or its list of ops) into a ``DevicePlan``.

    Raises:
        ConfigError: naming the op the device path cannot run, or the order it cannot keep.
    """
    ops = list(getattr(pipeline, "transforms", pipeline))
    plan = DevicePlan()
    stage = 0  # 0: normalisation, 1: augmentation and features, 2: sampled, 3: formatted
    seen_features = False
    feature_dataset = None
    for op in ops:
        name = type(op).__name__
        if name not in _SUPPORTED:
            raise _refuse(name, f"has no device form (the device path runs {', '.join(_SUPPORTED)})")
        if name in _LOAD_OPS:
            if stage > 0:
                raise _refuse(name, "comes after a random or sampling op (it must come first)")
            plan.load_ops.append(op)
        elif name in _LINEAR_OPS or name == "GenSkeFeat":
            if stage > 1:
                raise _refuse(name, "comes after the sampling op (it must come before it)")
            stage = 1
            if name == "GenSkeFeat":
                if seen_features:
                    raise _refuse(name, "appears twice")
                if op.axis not in (-1, 3):
                    raise _refuse(name, f"concatenates along axis={op.axis} (only the channel axis is supported)")
                seen_features, feature_dataset = True, op.dataset
                plan.feat_groups = len(op.feats)
                plan.load_ops.append(op)
            else:
                plan.linear_ops.append((op, not seen_features))
        elif name == _PAD_OP:
            if stage > 1:
                raise _refuse(name, "comes after the sampling op")
            plan.load_ops.append(op)
            plan.whole = plan.clip_len = int(op.length)
            stage = 2
        elif name in _SAMPLE_OPS:
            if stage > 1:
                raise _refuse(name, "follows another sampling op or PadTo")
            stage = 2
            plan.clip_len, plan.num_clips = int(op.clip_len), int(op.num_clips)
            plan.p_interval = tuple(float(p) for p in op._interval)
            plan.loop_short = name == "UniformSampleDecode"
        elif name == "PoseDecode":
            if stage != 2 or plan.loop_short:
                raise _refuse(name, "must follow UniformSample / UniformSampleFrames")
        elif name == "FormatGCNInput":
            if stage != 2:
                raise _refuse(name, "must follow the sampling op")
            stage = 3
            plan.num_person = int(op.num_person)
        elif name == "Collect":
            if stage != 3:
                raise _refuse(name, "must follow FormatGCNInput")
            if sorted(op.keys) != ["keypoint", "label"] or len(op.meta_keys):
                raise _refuse(name, f"collects keys={list(op.keys)} meta_keys={list(op.meta_keys)} "
                                    "(the device path makes exactly keypoint and label)")
    if stage != 3:
        raise _refuse("pipeline", "does not end with a sampling op, FormatGCNInput and Collect")
    if feature_dataset in SCORE_LAYOUTS and any(before for _, before in plan.linear_ops):
        raise _refuse("RandomScale/RandomRot", f"come before GenSkeFeat(dataset={feature_dataset!r}), whose "
                                               "score channel is not a coordinate (only 3D layouts commute)")
    return plan


# ----------------------------------------------------------------------------------------------- sampling
def draw_indices(lengths: torch.Tensor, clip_len: int, generator: torch.Generator | None = None
                 ) -> dict[str, torch.Tensor]:
    """The uniforms one clip per row consumes: ``ratio``, ``offset``, ``start`` ``[B]``, ``choice`` ``[B, clip_len
    + 1]`` and ``segment`` ``[B, clip_len]`` (float64 on ``lengths``' device)."""
    b, dev = lengths.shape[0], lengths.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, dtype=torch.float64, device=dev, generator=generator)

    return {"ratio": uniform(b), "offset": uniform(b), "start": uniform(b), "choice": uniform(b, clip_len + 1),
            "segment": uniform(b, clip_len)}


def sample_indices(lengths: torch.Tensor, clip_len: int, p_interval: tuple[float, float],
                   draws: dict[str, torch.Tensor], loop_short: bool = False) -> torch.Tensor:
    """Frame indices ``[B, clip_len]`` of one clip per row, as ``sample_clip_indices`` then ``% T``.

    ``randint(high)`` is ``floor(u * high)`` and ``choice(clip_len + 1, k, replace=False)`` the positions of
    the ``k`` smallest keys, so a numpy RNG that returns these values gives the same indices. A kept
    interval of 0 frames (numpy raises) keeps 1 frame.
    """
    total = lengths.to(torch.int64)
    ratio = draws["ratio"] * (p_interval[1] - p_interval[0]) + p_interval[0]
    n = torch.floor(ratio * total).to(torch.int64).clamp(min=1)
    off = torch.floor(draws["offset"] * (total - n + 1)).to(torch.int64)
    steps = torch.arange(clip_len, device=total.device)
    n_col = n[:, None]
    # short: a run of clip_len frames from a random start (looped inside the interval by UniformSampleDecode)
    start = torch.floor(draws["start"] * n).to(torch.int64)[:, None]
    short = start + steps
    if loop_short:
        short = short % n_col
    # medium: repeat k = n - clip_len of the clip_len + 1 gaps' frames, chosen without replacement
    k = (n - clip_len).clamp(min=0)[:, None]
    rank = draws["choice"].argsort(dim=1).argsort(dim=1)
    repeat = (rank < k).to(torch.int64)
    medium = steps + repeat.cumsum(dim=1)[:, :-1]
    # long: one random frame per segment of n / clip_len frames
    bids = torch.arange(clip_len + 1, device=total.device) * n_col // clip_len
    long = bids[:, :-1] + torch.floor(draws["segment"] * (bids[:, 1:] - bids[:, :-1])).to(torch.int64)
    inds = torch.where(n_col < clip_len, short, torch.where(n_col < 2 * clip_len, medium, long)) + off[:, None]
    return inds if loop_short else inds % total[:, None]


# ----------------------------------------------------------------------------------------------- augmentation
def _rot3d(theta: torch.Tensor) -> torch.Tensor:
    """``R_z @ R_y @ R_x`` ``[B, 3, 3]`` for angles ``[B, 3]`` (as ``functional.rot3d_matrix``)."""
    cos, sin = theta.cos(), theta.sin()
    one, zero = torch.ones_like(cos[:, 0]), torch.zeros_like(cos[:, 0])
    rx = torch.stack([one, zero, zero, zero, cos[:, 0], sin[:, 0], zero, -sin[:, 0], cos[:, 0]], 1).view(-1, 3, 3)
    ry = torch.stack([cos[:, 1], zero, -sin[:, 1], zero, one, zero, sin[:, 1], zero, cos[:, 1]], 1).view(-1, 3, 3)
    rz = torch.stack([cos[:, 2], sin[:, 2], zero, -sin[:, 2], cos[:, 2], zero, zero, zero, one], 1).view(-1, 3, 3)
    return rz @ (ry @ rx)


def _rot2d(theta: torch.Tensor) -> torch.Tensor:
    cos, sin = theta.cos(), theta.sin()
    return torch.stack([cos, -sin, sin, cos], 1).view(-1, 2, 2)


def _op_matrix(op: Any, width: int, b: int, device: torch.device, generator: torch.Generator | None
               ) -> torch.Tensor:
    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        u = torch.rand(*shape, dtype=torch.float64, device=device, generator=generator)
        return low + (high - low) * u

    if type(op).__name__ == "RandomScale":
        scale = (op.scale,) * width if isinstance(op.scale, (int, float)) else tuple(op.scale)
        if len(scale) != width:
            raise ConfigError(f"data.device_pipeline: RandomScale has {len(scale)} scale values for "
                              f"{width} channels")
        u = uniform(-1.0, 1.0, b, width)
        # python floats, not a tensor of them: a host-to-device copy per batch would wait for the device
        factor = torch.stack([1 + u[:, c] * float(s) for c, s in enumerate(scale)], dim=1)
        return torch.diag_embed(factor)
    if width == 3:
        return _rot3d(uniform(-op.theta, op.theta, b, 3))
    if width == 2:
        return _rot2d(uniform(-op.theta, 1.0, b))  # PYSKL's uniform(-theta): U(-theta, 1.0), kept
    raise ConfigError(f"data.device_pipeline: RandomRot needs 2 or 3 coordinate channels, got {width}")


def linear_maps(plan: DevicePlan, channels: int, b: int, device: torch.device,
                generator: torch.Generator | None = None) -> torch.Tensor | None:
    """One ``[B, C, C]`` float64 matrix per sample composing the plan's RandomScale/RandomRot in order.

    An op before GenSkeFeat maps each of the ``feat_groups`` coordinate groups alike (block diagonal).
    """
    if not plan.linear_ops:
        return None
    total = torch.eye(channels, dtype=torch.float64, device=device).expand(b, channels, channels)
    for op, before in plan.linear_ops:
        width = channels // plan.feat_groups if before else channels
        m = _op_matrix(op, width, b, device, generator)
        if before and plan.feat_groups > 1:
            full = torch.zeros(b, channels, channels, dtype=torch.float64, device=device)
            for g in range(plan.feat_groups):
                full[:, g * width:(g + 1) * width, g * width:(g + 1) * width] = m
            m = full
        total = m @ total
    return total


# ----------------------------------------------------------------------------------------------- storage
def _base_dataset(dataset: Any) -> tuple[Any, int]:
    """The PoseDataset under ``dataset`` and how many times a RepeatDataset repeats it."""
    times = 1
    while not hasattr(dataset, "video_infos"):
        if type(dataset).__name__ != "RepeatDataset":
            raise ConfigError(f"data.device_pipeline: the train set is a {type(dataset).__name__}; the device "
                              "path loads a PoseDataset, optionally inside a RepeatDataset")
        times *= dataset.times
        dataset = dataset.dataset
    return dataset, times


class DeviceSkeletonSet:
    """Every sample's load-time features in one flat tensor on the device, plus where each sample starts.

    Args:
        frames: ``[sum of T, M, V, C]``: the samples' frames one after another (persons padded to M).
        starts: ``[N]`` int64: where sample i's first frame sits in ``frames``.
        lengths: ``[N]`` int64: its frame count (>= 1).
        labels: ``[N]`` int64.
    """

    def __init__(self, frames: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor,
                 labels: torch.Tensor) -> None:
        if not (starts.shape == lengths.shape == labels.shape) or frames.dim() != 4:
            raise ValueError(f"frames [sum T, M, V, C] and starts/lengths/labels [N] expected, got "
                             f"{tuple(frames.shape)}, {tuple(starts.shape)}, {tuple(lengths.shape)}, "
                             f"{tuple(labels.shape)}")
        if len(lengths) and int(lengths.min()) < 1:
            raise ValueError("every sample needs at least one frame")
        self.frames, self.starts, self.lengths, self.labels = frames, starts, lengths, labels

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_dataset(cls, dataset: Any, plan: DevicePlan, device: torch.device,
                     dtype: torch.dtype = torch.float32) -> "DeviceSkeletonSet":
        """Run ``plan.load_ops`` on every sample of a PoseDataset (numpy, once) and move the result to
        ``device`` as ``dtype``."""
        base, _ = _base_dataset(dataset)
        if getattr(base, "start_index", 0) != 0:
            raise ConfigError(f"data.device_pipeline: PoseDataset(start_index={base.start_index}) is not supported")
        arrays, lengths, labels = [], [], []
        for i in range(len(base)):
            results = copy.deepcopy(base.video_infos[i])
            results.update(modality=base.modality, start_index=0, test_mode=False)
            for op in plan.load_ops:
                results = op(results)
            kp = np.asarray(results["keypoint"])
            if "keypoint_score" in results:
                if plan.linear_ops:
                    raise ConfigError("data.device_pipeline: keypoint_score survives the load-time ops, and "
                                      "RandomScale/RandomRot would then act on the score channel")
                kp = np.concatenate([kp, np.asarray(results["keypoint_score"])[..., None]], axis=-1)
            if kp.ndim != 4 or kp.shape[1] < 1:
                raise ConfigError(f"data.device_pipeline: sample {results.get('frame_dir', i)!r} has keypoint of "
                                  f"shape {kp.shape} after the load-time ops (need [M, T >= 1, V, C])")
            if arrays and kp.shape[2:] != arrays[0].shape[2:]:
                raise ConfigError(f"data.device_pipeline: sample {results.get('frame_dir', i)!r} has keypoint "
                                  f"{kp.shape}, the first sample {arrays[0].shape[2:]} joints x channels")
            padded = np.zeros((plan.num_person,) + kp.shape[1:], dtype=np.float32)
            keep = min(kp.shape[0], plan.num_person)
            padded[:keep] = kp[:keep]
            arrays.append(padded.transpose(1, 0, 2, 3))  # [T, M, V, C]
            lengths.append(kp.shape[1])
            labels.append(int(np.asarray(results["label"]).reshape(-1)[0]))
        lengths_t = torch.tensor(lengths, dtype=torch.int64)
        starts = torch.cumsum(lengths_t, 0) - lengths_t
        frames = torch.from_numpy(np.concatenate(arrays)).to(device=device, dtype=dtype)
        return cls(frames, starts.to(device), lengths_t.to(device), torch.tensor(labels, device=device))

    def clips(self, index: torch.Tensor, plan: DevicePlan, generator: torch.Generator | None = None
              ) -> torch.Tensor:
        """Augmented clips ``[B, num_clips, M, clip_len, V, C]`` float32 of the samples ``index``."""
        b, nc, clip = index.shape[0], plan.num_clips, plan.clip_len
        rows = self.lengths[index].repeat_interleave(nc)
        if plan.whole:  # PadTo made every sample plan.whole frames long; PoseDecode takes them all
            inds = torch.arange(plan.whole, device=rows.device).expand(len(rows), plan.whole)
        else:
            inds = sample_indices(rows, clip, plan.p_interval, draw_indices(rows, clip, generator), plan.loop_short)
        x = self.frames[self.starts[index].repeat_interleave(nc)[:, None] + inds].float()  # [B*nc, clip, M, V, C]
        channels = x.shape[-1]
        maps = linear_maps(plan, channels, b, x.device, generator)
        if maps is not None:
            maps = maps.to(torch.float32).repeat_interleave(nc, 0)
            x = torch.einsum("ntmvc,ndc->ntmvd", x, maps)
        return x.view(b, nc, clip, *x.shape[2:]).transpose(2, 3).contiguous()


class DeviceTrainData:
    """Training batches ``{'keypoint': [B, nc, M, T, V, C], 'label': [B]}`` made on the device.

    The epoch's order comes from the same ``DistributedSampler`` as the numpy loader's (over the
    RepeatDataset's length, index ``i`` meaning sample ``i % N``), and the augmentation draws from a torch
    generator seeded by ``(seed, epoch, rank)``, so a resumed epoch draws the same numbers.

    Args:
        data: the loaded samples.
        plan: the device ops.
        batch_size: clips per batch.
        times: RepeatDataset's repeat count.
        rank, world_size: this process among the training processes.
        seed: the run's seed.
        shuffle, drop_last: as the DataLoader's.
    """

    def __init__(self, data: DeviceSkeletonSet, plan: DevicePlan, batch_size: int, times: int = 1, rank: int = 0,
                 world_size: int = 1, seed: int = 0, shuffle: bool = True, drop_last: bool = False) -> None:
        from torch.utils.data import DistributedSampler

        self.data, self.plan, self.batch_size, self.drop_last = data, plan, batch_size, drop_last
        self.seed, self.rank = seed, rank
        self.sampler = DistributedSampler(range(times * len(data)), num_replicas=world_size, rank=rank,
                                          shuffle=shuffle, seed=seed)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        device = self.data.frames.device
        order = torch.tensor(list(self.sampler), dtype=torch.int64).remainder_(len(self.data)).to(device)
        generator = torch.Generator(device=device)
        generator.manual_seed((self.seed * 1_000_003 + self.sampler.epoch * 1_009 + self.rank) % 2**63)
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield {"keypoint": self.data.clips(index, self.plan, generator), "label": self.data.labels[index]}


def build_device_train_data(dataset: Any, options: dict, batch_size: int, device: torch.device, rank: int,
                            world_size: int, seed: int, shuffle: bool = True, drop_last: bool = False
                            ) -> DeviceTrainData:
    """``DeviceTrainData`` for a built train set (a PoseDataset or RepeatDataset of one) and its pipeline.

    Args:
        options: ``data.device_pipeline`` as a dict: ``storage`` ('float32' default, 'float16', 'bfloat16').
    """
    base, times = _base_dataset(dataset)
    plan = plan_device_pipeline(base.pipeline)
    storage = options.get("storage", "float32")
    if storage not in STORAGE_DTYPES:
        raise ConfigError(f"data.device_pipeline.storage must be one of {', '.join(STORAGE_DTYPES)}, got {storage!r}")
    data = DeviceSkeletonSet.from_dataset(base, plan, device, STORAGE_DTYPES[storage])
    import logging

    size = data.frames.numel() * data.frames.element_size() / 2**30
    logging.getLogger("pyskl").info(f"device pipeline: {len(data)} samples, {data.frames.shape[0]} frames "
                                    f"({size:.2f} GiB {storage}) on {device}; ops {plan}")
    return DeviceTrainData(data, plan, batch_size, times, rank, world_size, seed, shuffle, drop_last)
