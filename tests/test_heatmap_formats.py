"""FormatShape layouts, Normalize and the crop/flip helpers on small hand-made inputs."""
from __future__ import annotations

import numpy as np
import pytest

import pyskl.datasets.pipelines  # noqa: F401  (registers)
from pyskl.datasets.pipelines.cropping import combine_quadruple, compact_box, rescale_size
from pyskl.registry import TRANSFORMS


def _frames(n: int, shape: tuple) -> np.ndarray:
    return np.arange(n * int(np.prod(shape)), dtype=np.float32).reshape((n,) + shape)


def test_ncthw_heatmap_views_clips_order():
    """[views * clips * T, K, H, W] -> [views * clips, K, T, H, W], frame order kept inside a clip."""
    imgs = _frames(2 * 3 * 4, (5, 2, 2))  # 2 views, 3 clips, clip_len 4, K=5
    out = TRANSFORMS.build(dict(type="FormatShape", input_format="NCTHW_Heatmap"))(
        dict(imgs=imgs, num_clips=3, clip_len=4))
    assert out["imgs"].shape == (6, 5, 4, 2, 2) and out["input_shape"] == (6, 5, 4, 2, 2)
    for view_clip in range(6):
        for t in range(4):
            np.testing.assert_array_equal(out["imgs"][view_clip, :, t], imgs[view_clip * 4 + t])


def test_ncthw_rgb_and_collapse():
    imgs = [f for f in _frames(4, (3, 2, 3))]  # a list of [H, W, C] frames
    out = TRANSFORMS.build(dict(type="FormatShape", input_format="NCTHW", collapse=True))(
        dict(imgs=imgs, num_clips=1, clip_len=4))
    assert out["imgs"].shape == (3, 4, 3, 2)
    np.testing.assert_array_equal(out["imgs"][:, 2], np.transpose(imgs[2], (2, 0, 1)))
    with pytest.raises(ValueError, match="collapse"):
        TRANSFORMS.build(dict(type="FormatShape", input_format="NCTHW", collapse=True))(
            dict(imgs=_frames(8, (3, 2, 3)), num_clips=2, clip_len=4))


def test_nchw_and_nptchw():
    imgs = _frames(6, (3, 2, 3))
    out = TRANSFORMS.build(dict(type="FormatShape", input_format="NCHW"))(dict(imgs=imgs.copy()))
    np.testing.assert_array_equal(out["imgs"], imgs.transpose(0, 3, 1, 2))
    out = TRANSFORMS.build(dict(type="FormatShape", input_format="NPTCHW"))(
        dict(imgs=imgs.copy(), num_proposals=2, num_clips=1, clip_len=3))
    assert out["imgs"].shape == (2, 3, 3, 3, 2)


def test_normalize_bgr_swap():
    img = np.array([[[10, 20, 30]]], np.uint8)
    out = TRANSFORMS.build(dict(type="Normalize", mean=[1, 2, 3], std=[2, 4, 8], to_bgr=True))(
        dict(imgs=[img], modality="RGB"))
    np.testing.assert_allclose(out["imgs"][0, 0, 0], [(30 - 1) / 2, (20 - 2) / 4, (10 - 3) / 8])
    with pytest.raises(NotImplementedError, match="RGB"):
        TRANSFORMS.build(dict(type="Normalize", mean=[0], std=[1]))(dict(imgs=[img], modality="Flow"))


def test_helpers():
    assert combine_quadruple((0.1, 0.2, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)) == (0.35, 0.45, 0.25, 0.25)
    assert rescale_size(1920, 1080, (np.inf, 64)) == (114, 64)
    assert rescale_size(100, 50, 0.5) == (50, 25)
    kp = np.zeros((1, 2, 3, 2), np.float32)
    assert compact_box(kp, (100, 100), 0.25, 10, None, True) is None  # nothing but missing joints
    kp[0, 0] = [[10, 10], [50, 20], [30, 60]]
    box = compact_box(kp, (100, 100), 0.25, 10, (1.0, 1.0), False)
    assert box == (0, 3, 61, 66)  # centre (30, 35), half sizes 25 / 31.25 -> both 31.25; clipped at 0, int()


def test_flip_without_keypoints_and_label_map():
    img = np.arange(6, dtype=np.uint8).reshape(1, 3, 2)
    results = dict(imgs=[img], img_shape=(1, 3), modality="RGB", label=3)
    out = TRANSFORMS.build(dict(type="Flip", flip_ratio=1.0, flip_label_map={3: 4}))(results)
    assert out["flip"] is True and out["label"] == 4
    np.testing.assert_array_equal(out["imgs"][0][0, :, 0], [4, 2, 0])
