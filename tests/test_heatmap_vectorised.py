"""The vectorised numpy heatmaps and the torch ones against a per-frame/per-joint loop reference.

The loop reference (``benchmarks/bench_heatmap.py:LoopGeneratePoseTarget``) states PYSKL's
GeneratePoseTarget semantics the straightforward way; the goldens (test_heatmap_ops) pin both to
PYSKL. Here: random and adversarial inputs (off-frame and negative coordinates, missing joints,
float64 keypoints after a crop, tiny frames, zero-length limbs, large sigma), all within 1e-5, and
the error for 3D annotations.
"""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from pyskl.datasets.pipelines import Compose, PipelineError
from pyskl.datasets.pipelines import heatmap as H
from pyskl.datasets.pipelines.heatmap_torch import BatchGeneratePoseTarget, render_heatmaps
from pyskl.registry import TRANSFORMS

ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-5


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_heatmap", ROOT / "benchmarks" / "bench_heatmap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _load_bench()


def make_pose(seed: int, num_person: int = 2, num_frame: int = 6, size: tuple = (40, 48), dtype=np.float32,
              spread: float = 1.0) -> dict:
    """Random COCO-17 poses: mostly inside the frame, some outside / negative / missing (0, 0)."""
    rng = np.random.default_rng(seed)
    h, w = size
    kp = rng.uniform(-0.2, 1.2, size=(num_person, num_frame, 17, 2)) * np.array([w, h]) * spread
    kp[rng.random(kp.shape[:3]) < 0.1] = 0  # missing joints
    score = rng.uniform(0, 1, size=(num_person, num_frame, 17)).astype(np.float32)
    score[rng.random(score.shape) < 0.1] = 0.0005  # below EPS
    kp[0, 0, 1] = kp[0, 0, 0] + 0.3  # a limb shorter than 1 px
    return dict(keypoint=kp.astype(dtype), keypoint_score=score, img_shape=size, frame_dir=f"rand{seed}")


CONFIGS = [
    dict(with_kp=True, with_limb=False),
    dict(with_kp=False, with_limb=True),
    dict(with_kp=True, with_limb=False, double=True),
    dict(with_kp=False, with_limb=True, double=True),
    dict(with_kp=True, with_limb=False, sigma=1.7, use_score=False),
    dict(with_kp=False, with_limb=True, sigma=2.3),
    dict(with_kp=True, with_limb=False, sigma=0.7, scaling=0.5),
]


def _copy(results: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in results.items()}


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("seed,dtype,size", [(0, np.float32, (40, 48)), (1, np.float64, (33, 20)),
                                             (2, np.float32, (5, 7)), (3, np.float64, (64, 64))])
def test_vectorised_equals_loop_reference(cfg, seed, dtype, size):
    results = make_pose(seed, dtype=dtype, size=size)
    ours = TRANSFORMS.build(dict(type="GeneratePoseTarget", **cfg))(_copy(results))["imgs"]
    ref = BENCH.LoopGeneratePoseTarget(**cfg)(_copy(results))["imgs"]
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=ATOL, rtol=0)
    assert (ours > 0).sum() == (ref > 0).sum()  # same windows: identical support


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("seed,dtype", [(4, np.float32), (5, np.float64)])
def test_torch_op_equals_numpy(cfg, seed, dtype):
    results = make_pose(seed, dtype=dtype)
    ours = TRANSFORMS.build(dict(type="GeneratePoseTarget", **cfg))(_copy(results))
    tor = TRANSFORMS.build(dict(type="GeneratePoseTargetTorch", **cfg))(_copy(results))
    assert tor["imgs"].dtype == np.float32
    np.testing.assert_allclose(tor["imgs"], ours["imgs"], atol=ATOL, rtol=0)
    np.testing.assert_array_equal(tor["keypoint"], ours["keypoint"])  # same in-place scaling


@pytest.mark.parametrize("double,num_clips", [(False, 1), (True, 1), (True, 2)])
def test_in_step_rendering_matches_pipeline(double, num_clips):
    """PoseToHeatmapInput + collate + BatchGeneratePoseTarget == per-sample GeneratePoseTarget+FormatShape."""
    cfg = dict(type="GeneratePoseTarget", with_kp=True, with_limb=False, double=double)
    samples = [dict(make_pose(10 + i, num_person=1 + i, num_frame=4 * num_clips), num_clips=num_clips,
                    clip_len=4) for i in range(3)]
    expected, inputs = [], []
    for s in samples:
        out = TRANSFORMS.build(cfg)(_copy(s))
        expected.append(TRANSFORMS.build(dict(type="FormatShape", input_format="NCTHW_Heatmap"))(out)["imgs"])
        inputs.append(TRANSFORMS.build(dict(type="PoseToHeatmapInput", num_person=2))(_copy(s)))
    assert inputs[2]["keypoint"].shape == (2, 4 * num_clips, 17, 2)  # 3 persons truncated to 2 ...
    two_persons = dict(_copy(samples[2]), keypoint=samples[2]["keypoint"][:2],
                       keypoint_score=samples[2]["keypoint_score"][:2])  # ... and rendered so
    expected[2] = TRANSFORMS.build(dict(type="FormatShape", input_format="NCTHW_Heatmap"))(
        TRANSFORMS.build(cfg)(two_persons))["imgs"]
    kps = torch.from_numpy(np.stack([r["keypoint"] for r in inputs]))
    scores = torch.from_numpy(np.stack([r["keypoint_score"] for r in inputs]))
    render = BatchGeneratePoseTarget.from_config(cfg)
    got = render(kps, scores, tuple(inputs[0]["heatmap_shape"]), num_clips=num_clips)
    assert got.shape == (3, (1 + double) * num_clips, 17, 4, 40, 48)
    np.testing.assert_allclose(got.numpy(), np.stack(expected), atol=ATOL, rtol=0)
    assert "BatchGeneratePoseTarget(GeneratePoseTarget(" in repr(render)
    assert pickle.loads(pickle.dumps(render)) is not None


def test_render_heatmaps_shape_and_no_scores():
    kps = torch.tensor([[[[[3.0, 4.0]]]]])  # N=1, M=1, T=1, V=1
    heat = render_heatmaps(kps, None, 8, 8, sigma=0.6)
    assert heat.shape == (1, 1, 1, 8, 8)
    assert heat[0, 0, 0, 4, 3] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\[N, M, T, V, C\]"):
        render_heatmaps(kps[0], None, 8, 8)


def test_point_heatmap_exact_values():
    """A joint at (10.3, 5.6) with score 0.8: PYSKL's window [8, 13) x [3, 8) and Gaussian values."""
    kp = np.array([[[[10.3, 5.6]]]], np.float32)
    heat = H.keypoint_heatmaps(kp, np.array([[[0.8]]], np.float32), 16, 16, sigma=0.6)[0, 0]
    ys, xs = np.nonzero(heat)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (8, 12, 3, 7)
    x, y = np.float32(11), np.float32(6)
    value = np.exp(-((x - np.float32(10.3)) ** 2 + (y - np.float32(5.6)) ** 2) / 2 / 0.36) * np.float32(0.8)
    assert heat[6, 11] == pytest.approx(value, abs=1e-7)


def test_negative_coordinates_follow_int_truncation():
    """int() truncates toward zero: x = -2.3 (sigma 0.6) still draws column 0, x = -3.0 draws nothing."""
    scores = np.ones((1, 1, 2), np.float32)
    kp = np.array([[[[-2.3, 4.0], [-3.0, 4.0]]]], np.float32)
    heat = H.keypoint_heatmaps(kp, scores, 8, 8)
    assert heat[0, 0, 4, 0] == pytest.approx(np.exp(-2.3 ** 2 / 0.72), rel=1e-6)
    assert heat[0, 0, :, 1:].max() == 0
    assert heat[0, 1].max() == 0


def test_maximum_over_persons_not_sum():
    kp = np.array([[[[4.0, 4.0]]], [[[4.0, 4.0]]]], np.float32)
    scores = np.array([[[0.5]], [[0.7]]], np.float32)
    heat = H.keypoint_heatmaps(kp, scores, 8, 8)
    assert heat.max() == pytest.approx(0.7)


def test_double_is_pixel_mirror_with_swapped_channels():
    results = make_pose(7)
    op = TRANSFORMS.build(dict(type="GeneratePoseTarget", double=True))
    heat = op(_copy(results))["imgs"]
    t = heat.shape[0] // 2
    order = H.flip_channel_order(17, H.COCO_LEFT_KP, H.COCO_RIGHT_KP)
    np.testing.assert_array_equal(heat[t:], heat[:t][:, order, :, ::-1])


def test_3d_annotation_gives_clear_error():
    """NTU 3D skeletons (C=3, no keypoint_score, no img_shape) into a heatmap pipeline."""
    results = dict(keypoint=np.zeros((2, 10, 25, 3), np.float32), total_frames=10,
                   frame_dir="S001C001P001R001A001")
    for op_cfg in (dict(type="PoseCompact", hw_ratio=1.0), dict(type="GeneratePoseTarget"),
                   dict(type="GeneratePoseTargetTorch"), dict(type="MMCompact")):
        with pytest.raises(ValueError, match="3D skeleton annotation") as err:
            TRANSFORMS.build(op_cfg)(_copy(results))
        assert "S001C001P001R001A001" in str(err.value) and "keypoint_score" in str(err.value)
    for op_cfg in (dict(type="Resize", scale=(64, 64)), dict(type="CenterCrop", crop_size=56),
                   dict(type="RandomResizedCrop")):
        with pytest.raises(ValueError, match="3D skeleton annotation"):
            TRANSFORMS.build(op_cfg)(_copy(results))


def test_2d_without_img_shape_names_the_key():
    results = dict(keypoint=np.ones((1, 4, 17, 2), np.float32),
                   keypoint_score=np.ones((1, 4, 17), np.float32))
    with pytest.raises(KeyError, match="img_shape"):
        TRANSFORMS.build(dict(type="GeneratePoseTarget"))(results)


def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one of with_kp and with_limb"):
        TRANSFORMS.build(dict(type="GeneratePoseTarget", with_kp=True, with_limb=True))
    with pytest.raises(ValueError, match="joint 20"):
        op = TRANSFORMS.build(dict(type="GeneratePoseTarget", with_kp=False, with_limb=True,
                                   skeletons=[(0, 20)]))
        op(make_pose(0))
    with pytest.raises(TypeError, match="scale"):
        TRANSFORMS.build(dict(type="Resize", scale="big"))
    with pytest.raises(ValueError, match="input_format"):
        TRANSFORMS.build(dict(type="FormatShape", input_format="NTCHW"))


def test_mmdecode_rgb_names_the_missing_video(tmp_path):
    results = dict(modality=["RGB", "Pose"], RGB_inds=np.arange(4), Pose_inds=np.arange(4),
                   keypoint=np.zeros((1, 8, 17, 2), np.float32), frame_dir=str(tmp_path / "S001"))
    with pytest.raises(PipelineError, match="S001.mp4.*does not exist"):
        TRANSFORMS.build(dict(type="MMDecode"))(results)


def test_random_crop_draws_like_pyskl():
    results = dict(keypoint=np.full((1, 2, 17, 2), 10, np.float32), img_shape=(40, 50))
    np.random.seed(3)
    expected_y, expected_x = np.random.randint(0, 40 - 32), np.random.randint(0, 50 - 32)
    np.random.seed(3)
    out = TRANSFORMS.build(dict(type="RandomCrop", size=32))(results)
    np.testing.assert_array_equal(out["crop_bbox"],
                                  [expected_x, expected_y, expected_x + 32, expected_y + 32])
    assert out["img_shape"] == (32, 32) and out["keypoint"].dtype == np.float64
    np.testing.assert_allclose(out["keypoint"][..., 0], 10 - expected_x)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cfg", CONFIGS[:4], ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_torch_on_cuda_equals_numpy(cfg):
    results = make_pose(8, num_frame=12, size=(64, 64))
    ours = TRANSFORMS.build(dict(type="GeneratePoseTarget", **cfg))(_copy(results))
    gpu = TRANSFORMS.build(dict(type="GeneratePoseTargetTorch", device="cuda", **cfg))(_copy(results))
    np.testing.assert_allclose(gpu["imgs"], ours["imgs"], atol=ATOL, rtol=0)


def test_3d_annotation_through_posec3d_pipeline():
    """The PoseC3D train pipeline fed an NTU 3D sample fails at PoseCompact with the mismatch named."""
    compose = Compose(BENCH.TRAIN)
    sample = dict(frame_dir="S001C001P001R001A001", label=0, total_frames=100, modality="Pose", start_index=0,
                  test_mode=False,
                  keypoint=np.random.default_rng(0).random((2, 100, 25, 3)).astype(np.float16))
    message = r"PoseCompact: 'keypoint' has 3 coordinates .* 3D skeleton annotation"
    with pytest.raises(ValueError, match=message):
        compose(sample)
