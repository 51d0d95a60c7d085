"""RGB+Pose (RGBPoseConv3D) ops: PYSKL's ``MMUniformSampleFrames``, ``MMDecode``, ``MMCompact`` and
``MMPad``. RGB video is decoded with OpenCV (PYSKL uses decord), frame-exactly.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...registry import TRANSFORMS
from .compose import PipelineError, Transform, require
from .cropping import _pair, compact_box, require_2d_pose
from .functional import uniform_sample_indices
from .video_io import read_video_frames

__all__ = ["MMUniformSampleFrames", "MMDecode", "MMCompact", "MMPad"]


@TRANSFORMS.register()
class MMUniformSampleFrames(Transform):
    """``UniformSampleFrames`` per modality, PYSKL's ``MMUniformSampleFrames``.

    For each ``modality, clip_len`` in dict order: train draws from the global ``np.random``; test
    reseeds it with ``seed`` (255) before *each* modality, as PYSKL does.

    Required keys: ``total_frames``, ``test_mode``, ``modality``.
    Added keys: ``<modality>_inds`` (int64), ``clip_len`` (the dict), ``frame_interval`` (None),
    ``num_clips``. Modified keys: ``modality`` becomes the list of modalities when not a list.

    Args:
        clip_len: ``{modality: clip_len}``, e.g. ``{'RGB': 8, 'Pose': 32}``.
        num_clips: clips per modality.
        p_interval: kept fraction of the video (number or ``(low, high)``).
        seed: test-mode seed.
    """

    def __init__(self, clip_len: dict, num_clips: int = 1, p_interval: Any = 1, seed: int = 255) -> None:
        if not isinstance(clip_len, dict) or not clip_len:
            raise TypeError("MMUniformSampleFrames: clip_len must be a {modality: int} dict, "
                            f"got {clip_len!r}")
        self.clip_len = dict(clip_len)
        self.num_clips = num_clips
        self.p_interval = p_interval
        self._interval = _pair(p_interval)
        self.seed = seed

    def __call__(self, results: dict) -> dict:
        total = int(results["total_frames"])
        test_mode = bool(results.get("test_mode", False))
        for modality, clip_len in self.clip_len.items():
            inds = uniform_sample_indices(total, clip_len, self.num_clips, self._interval, test_mode,
                                          self.seed)
            results[f"{modality}_inds"] = inds.astype(np.int64)
        results["clip_len"] = self.clip_len
        results["frame_interval"] = None
        results["num_clips"] = self.num_clips
        if not isinstance(results.get("modality"), list):
            results["modality"] = list(self.clip_len)
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(clip_len={self.clip_len}, num_clips={self.num_clips}, "
                f"p_interval={self.p_interval}, seed={self.seed})")


@TRANSFORMS.register()
class MMDecode(Transform):
    """Decode each modality's sampled frames, PYSKL's ``MMDecode``.

    ``'RGB'``: frames ``RGB_inds`` of ``results['filename']`` (default ``frame_dir + '.mp4'``), read
    with OpenCV as RGB uint8, into ``imgs``. ``'Pose'``: frames ``Pose_inds`` of ``keypoint`` and
    ``keypoint_score`` (ones when absent), as float32. When ``imgs`` (decoded here or given) differ in
    size from ``img_shape``, keypoints are rescaled to the frames and ``img_shape``/``original_shape``
    become the frames' size, as PYSKL does.

    Required keys: ``modality`` (list), ``<modality>_inds``; RGB: ``filename`` or ``frame_dir``;
    Pose: ``keypoint`` (optional ``keypoint_score``).
    Added keys: ``imgs`` (RGB), ``filename`` (RGB, when absent).
    Modified keys: ``keypoint``, ``keypoint_score``, ``img_shape``, ``original_shape``.

    Args:
        io_backend: only ``'disk'``.
        num_threads: video decoder threads.
    """

    def __init__(self, io_backend: str = "disk", num_threads: int = 1) -> None:
        if io_backend != "disk":
            raise ValueError(f"MMDecode: only io_backend='disk' is supported, got {io_backend!r}")
        self.io_backend = io_backend
        self.num_threads = num_threads

    def __call__(self, results: dict) -> dict:
        modalities = require(self, results, "modality")
        modalities = [modalities] if isinstance(modalities, str) else modalities
        for mod in modalities:
            inds = np.asarray(require(self, results, f"{mod}_inds"))
            if inds.ndim != 1:
                inds = results[f"{mod}_inds"] = np.squeeze(inds)
            if mod == "RGB":
                if "filename" not in results:
                    results["filename"] = str(require(self, results, "frame_dir")) + ".mp4"
                results["imgs"] = read_video_frames(results["filename"], inds.reshape(-1), self.num_threads)
            elif mod == "Pose":
                kp = require(self, results, "keypoint")
                if "keypoint_score" not in results:
                    results["keypoint_score"] = np.ones(kp.shape[:-1], dtype=np.float32)
                results["keypoint"] = kp[:, inds].astype(np.float32)
                results["keypoint_score"] = results["keypoint_score"][:, inds].astype(np.float32)
            else:
                raise PipelineError(f"MMDecode: unknown modality {mod!r} (PYSKL decodes 'RGB' and 'Pose')")
        if "imgs" in results and "keypoint" in results:
            self._rescale_to_frames(results)
        return results

    @staticmethod
    def _rescale_to_frames(results: dict) -> None:
        """Keypoints annotated at ``img_shape`` moved onto the frames' own resolution."""
        frame_shape = tuple(results["imgs"][0].shape[:2])
        old_h, old_w = require("MMDecode", results, "img_shape")
        if frame_shape == (old_h, old_w):
            return
        new_h, new_w = frame_shape
        kp = results["keypoint"]
        if kp.shape[-1] not in (2, 3):
            raise PipelineError(f"MMDecode: keypoint must have 2 or 3 channels to rescale, "
                                f"got shape {kp.shape}")
        kp = kp.astype(np.result_type(kp.dtype, np.float32))
        kp[..., 0] *= new_w / old_w
        kp[..., 1] *= new_h / old_h
        results["keypoint"] = kp
        results["img_shape"] = frame_shape
        results["original_shape"] = frame_shape

    def __repr__(self) -> str:
        return f"{type(self).__name__}(io_backend={self.io_backend!r}, num_threads={self.num_threads})"


def _pad_crop_images(imgs: list, img_shape: Sequence[int], box: Sequence[int]) -> list:
    """Crop ``box`` (may extend beyond the frame: zero padding there) from each ``[H, W, C]`` image."""
    h, w = img_shape
    min_x, min_y, max_x, max_y = box
    pad_l, pad_u = max(0, -min_x), max(0, -min_y)
    pad_r, pad_d = max(0, max_x - w), max(0, max_y - h)
    if pad_l or pad_u or pad_r or pad_d:
        imgs = [np.pad(img, ((pad_u, pad_d), (pad_l, pad_r), (0, 0))) for img in imgs]
    return [img[min_y + pad_u:max_y + pad_u, min_x + pad_l:max_x + pad_l] for img in imgs]


@TRANSFORMS.register()
class MMCompact(Transform):
    """``PoseCompact`` applied to keypoints and RGB frames together, PYSKL's ``MMCompact``.

    Unlike ``PoseCompact`` it does not touch ``crop_quadruple``; a box below ``threshold`` is the
    whole frame. Images are zero-padded where the box leaves the frame.

    Required keys: ``keypoint`` (modified in place), ``img_shape``, ``imgs``.
    Modified keys: ``keypoint``, ``img_shape``, ``imgs``.
    """

    def __init__(self, padding: float = 0.25, threshold: float = 10, hw_ratio: Any = 1,
                 allow_imgpad: bool = True) -> None:
        self.padding = padding
        self.threshold = threshold
        self.hw_ratio = _pair(hw_ratio) if hw_ratio is not None else None
        self.allow_imgpad = allow_imgpad

    def __call__(self, results: dict) -> dict:
        require_2d_pose(results, "MMCompact")
        img_shape = results["img_shape"]
        h, w = img_shape
        kp = results["keypoint"]
        kp[np.isnan(kp)] = 0.0
        box = compact_box(kp, img_shape, self.padding, self.threshold, self.hw_ratio, self.allow_imgpad)
        min_x, min_y, max_x, max_y = box if box is not None else (0, 0, w, h)
        kp_x, kp_y = kp[..., 0], kp[..., 1]
        kp_x[kp_x != 0] -= min_x
        kp_y[kp_y != 0] -= min_y
        results["img_shape"] = (max_y - min_y, max_x - min_x)
        if "imgs" in results:
            results["imgs"] = _pad_crop_images(results["imgs"], img_shape, (min_x, min_y, max_x, max_y))
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(padding={self.padding}, threshold={self.threshold}, "
                f"hw_ratio={self.hw_ratio}, allow_imgpad={self.allow_imgpad})")


@TRANSFORMS.register()
class MMPad(Transform):
    """Pad the frame around its centre, PYSKL's ``MMPad`` (no config uses it).

    The new size grows by ``padding`` and, with ``hw_ratio``, to that ratio (rounded); keypoints
    (all of them, zeros included) shift by the left/top padding, images pad with 127.

    Required keys: ``img_shape``; optional ``keypoint``, ``imgs``.
    Modified keys: ``img_shape``, ``keypoint``, ``imgs``.
    """

    def __init__(self, hw_ratio: Any = None, padding: float = 0.) -> None:
        self.hw_ratio = _pair(hw_ratio) if hw_ratio is not None else None
        self.padding = padding

    def __call__(self, results: dict) -> dict:
        old_h, old_w = results["img_shape"]
        h, w = old_h * (1 + self.padding), old_w * (1 + self.padding)
        if self.hw_ratio is not None:
            h = max(self.hw_ratio[0] * w, h)
            w = max(1 / self.hw_ratio[1] * h, w)
        h, w = int(h + 0.5), int(w + 0.5)
        pad_y, pad_x = h - old_h, w - old_w
        if "keypoint" in results:
            kp = results["keypoint"]
            kp = kp.astype(np.result_type(kp.dtype, np.float32))  # as adding PYSKL's float32 offset
            kp[..., 0] += pad_x // 2
            kp[..., 1] += pad_y // 2  # a score channel, if any, stays as it is
            results["keypoint"] = kp
        if "imgs" in results:
            results["imgs"] = self._pad_images(results["imgs"], (old_h, old_w), (h, w))
        results["img_shape"] = (h, w)
        return results

    @staticmethod
    def _pad_images(imgs: list, old: tuple, new: tuple) -> list:
        """Pad with 127 around the centre; frames at another resolution than ``img_shape`` are padded
        in proportion, as PYSKL does."""
        real_h, real_w = imgs[0].shape[:2]
        if real_h != old[0]:
            new = (int(new[0] / (old[0] / real_h) + 0.5), int(new[1] / (old[1] / real_w) + 0.5))
            old = (real_h, real_w)
        pad_y, pad_x = new[0] - old[0], new[1] - old[1]
        pads = ((pad_y // 2, pad_y - pad_y // 2), (pad_x // 2, pad_x - pad_x // 2), (0, 0))
        return [np.pad(img, pads, constant_values=127) for img in imgs]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(hw_ratio={self.hw_ratio}, padding={self.padding})"
