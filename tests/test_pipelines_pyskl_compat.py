"""Differences from PYSKL found by an outside test suite (issue 18), each pinned to PYSKL's result,
and the ops PYSKL registers for MMAction2-style RGB configs."""
from __future__ import annotations

import pickle
import warnings

import cv2
import numpy as np
import pytest

from pyskl.datasets.pipelines import PipelineError, UnknownArgumentWarning
from pyskl.datasets.pipelines.compose import Transform
from pyskl.datasets.pipelines.potion import heatmaps_to_potion
from pyskl.registry import TRANSFORMS


def B(op: str, **kwargs):
    return TRANSFORMS.build(dict(type=op, **kwargs))


# ------------------------------------------------------------------ 1. handmp motion: plain difference
def test_to_motion_handmp_takes_the_plain_score_difference():
    kp = np.random.RandomState(0).rand(1, 3, 21, 3)
    motion = B("ToMotion", dataset="handmp")(dict(keypoint=kp))["motion"]
    assert motion[0, 0, 0, 2] == pytest.approx(-0.2340, abs=1e-4)  # PYSKL's value
    np.testing.assert_array_equal(motion[:, :-1], kp[:, 1:] - kp[:, :-1])


@pytest.mark.parametrize("feat", ["jm", "bm"])
def test_gen_ske_feat_motion_handmp_matches_to_motion(feat):
    kp = np.random.RandomState(1).rand(1, 4, 21, 2).astype(np.float32)
    score = np.random.RandomState(2).rand(1, 4, 21).astype(np.float32)
    out = B("GenSkeFeat", dataset="handmp", feats=[feat])(dict(keypoint=kp, keypoint_score=score))["keypoint"]
    source = np.concatenate([kp, score[..., None]], -1)
    if feat == "bm":
        source = B("JointToBone", dataset="handmp")(dict(keypoint=source))["keypoint"]
    np.testing.assert_array_equal(out[:, :-1], source[:, 1:] - source[:, :-1])


def test_to_motion_coco_still_averages_the_score():
    kp = np.random.RandomState(0).rand(1, 3, 17, 3)
    motion = B("ToMotion", dataset="coco")(dict(keypoint=kp))["motion"]
    np.testing.assert_allclose(motion[:, :-1, :, 2], (kp[:, 1:, :, 2] + kp[:, :-1, :, 2]) / 2)


# ------------------------------------------------------------------ 2. MMPad with a score channel
def test_mmpad_shifts_only_x_and_y():
    out = B("MMPad", hw_ratio=1.0)(dict(img_shape=(100, 60), keypoint=np.ones((1, 4, 17, 3), np.float32)))
    assert out["img_shape"] == (100, 100)
    np.testing.assert_array_equal(out["keypoint"][0, 0, 0], [21, 1, 1])  # x + 20; y and score unchanged


# ------------------------------------------------------------------ 3. MMDecode rescales to given frames
def test_mmdecode_rescales_keypoints_to_the_frames():
    results = dict(modality=["Pose"], Pose_inds=np.array([0]), keypoint=np.full((1, 1, 2, 2), 100.0),
                   img_shape=(200, 400), imgs=[np.zeros((100, 200, 3), np.uint8)])
    out = B("MMDecode")(results)
    np.testing.assert_array_equal(out["keypoint"][0, 0, 0], [50, 50])
    assert out["img_shape"] == (100, 200) and out["original_shape"] == (100, 200)


def test_mmdecode_leaves_matching_frames_alone():
    results = dict(modality=["Pose"], Pose_inds=np.array([0]), keypoint=np.full((1, 1, 2, 2), 100.0),
                   img_shape=(100, 200), imgs=[np.zeros((100, 200, 3), np.uint8)])
    np.testing.assert_array_equal(B("MMDecode")(results)["keypoint"][0, 0, 0], [100, 100])


# ------------------------------------------------------------------ 4. PadTo ignores start_index
def test_pad_to_ignores_start_index():
    kp = np.arange(3.0).reshape(1, 3, 1, 1)
    out = B("PadTo", length=6, mode="zero")(dict(keypoint=kp, total_frames=3, start_index=1))
    np.testing.assert_array_equal(out["keypoint"].ravel(), [0, 1, 2, 0, 0, 0])


# ------------------------------------------------------------------ 5. unknown constructor arguments
REQUIRED = dict(CenterCrop=dict(crop_size=4), Collect=dict(keys=["label"]),
                FormatShape=dict(input_format="NCTHW"), Heatmap2Potion=dict(C=3),
                MMUniformSampleFrames=dict(clip_len=dict(Pose=4)),
                Normalize=dict(mean=[0, 0, 0], std=[1, 1, 1]), PadTo=dict(length=4), RandomCrop=dict(size=4),
                Rename=dict(mapping={"a": "b"}), Resize=dict(scale=(8, 8)), SampleFrames=dict(clip_len=4),
                TenCrop=dict(crop_size=4), ThreeCrop=dict(crop_size=4), ToTensor=dict(keys=["label"]),
                UniformSample=dict(clip_len=4), UniformSampleDecode=dict(clip_len=4),
                UniformSampleFrames=dict(clip_len=4))


@pytest.mark.parametrize("op", sorted(TRANSFORMS))
def test_every_op_warns_once_about_an_unknown_argument(op):
    assert issubclass(TRANSFORMS.get(op), Transform)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = B(op, **REQUIRED.get(op, {}), num_clip=10)
    messages = [str(w.message) for w in caught if issubclass(w.category, UnknownArgumentWarning)]
    assert messages == [f"{op}: ignoring unknown argument(s) 'num_clip'"]
    assert not hasattr(built, "num_clip")
    assert "num_clip=" not in repr(built)


def test_unknown_test_mode_does_not_change_sampling():
    with pytest.warns(UnknownArgumentWarning, match="UniformSampleFrames.*'test_mode'"):
        op = B("UniformSampleFrames", clip_len=4, test_mode=True)
    np.random.seed(0)
    train = op(dict(total_frames=20))["frame_inds"]
    np.random.seed(0)
    plain = B("UniformSampleFrames", clip_len=4)(dict(total_frames=20))["frame_inds"]
    np.testing.assert_array_equal(train, plain)


def test_known_arguments_still_checked():
    with pytest.raises(TypeError, match="clip_len"):
        B("MMUniformSampleFrames")


# ------------------------------------------------------------------ 6. SampleFrames
def test_sample_frames_test_mode_takes_segment_middles():
    out = B("SampleFrames", clip_len=4, frame_interval=2, num_clips=3)(dict(total_frames=30, test_mode=True,
                                                                           start_index=0))
    np.testing.assert_array_equal(out["frame_inds"], [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25])
    assert (out["clip_len"], out["frame_interval"], out["num_clips"]) == (4, 2, 3)


def test_sample_frames_train_draws_from_the_global_rng():
    np.random.seed(5)
    shift = np.random.randint(7, size=3)  # avg interval (30 - 8 + 1) // 3 = 7
    np.random.seed(5)
    out = B("SampleFrames", clip_len=4, frame_interval=2, num_clips=3)(dict(total_frames=30, start_index=1))
    starts = np.arange(3) * 7 + shift
    np.testing.assert_array_equal(out["frame_inds"], (starts[:, None] + np.arange(0, 8, 2)).ravel() + 1)


def test_sample_frames_out_of_bound_options():
    loop = B("SampleFrames", clip_len=4, frame_interval=2)(dict(total_frames=5, test_mode=True))
    np.testing.assert_array_equal(loop["frame_inds"], [0, 2, 4, 1])
    last = B("SampleFrames", clip_len=4, frame_interval=2, out_of_bound_opt="repeat_last")(
        dict(total_frames=5, test_mode=True))
    np.testing.assert_array_equal(last["frame_inds"], [0, 2, 4, 4])


# ------------------------------------------------------------------ 6. ThreeCrop / TenCrop
def _frames(n: int, h: int, w: int) -> list:
    return [np.arange(h * w * 3).reshape(h, w, 3) + 1000 * i for i in range(n)]


def test_three_crop_views_along_the_long_side():
    imgs = _frames(2, 4, 10)
    out = B("ThreeCrop", crop_size=4)(dict(imgs=imgs))
    assert len(out["imgs"]) == 6 and out["img_shape"] == (4, 4)
    for view, x in enumerate([0, 6, 3]):  # start, end, centre
        np.testing.assert_array_equal(out["imgs"][2 * view + 1], imgs[1][:, x:x + 4])
    np.testing.assert_array_equal(out["crop_bbox"][::2], [[0, 0, 4, 4], [6, 0, 10, 4], [3, 0, 7, 4]])


def test_three_crop_needs_one_full_side():
    with pytest.raises(PipelineError, match="must span"):
        B("ThreeCrop", crop_size=3)(dict(imgs=_frames(1, 4, 10)))


def test_ten_crop_corners_centre_and_flips():
    imgs = _frames(1, 9, 13)
    out = B("TenCrop", crop_size=(5, 3))(dict(imgs=imgs))  # (w, h)
    assert len(out["imgs"]) == 10 and out["img_shape"] == (3, 5)
    offsets = [(0, 0), (8, 0), (0, 4), (8, 4), (4, 2)]  # steps (13 - 5) // 4 = 2, (9 - 3) // 4 = 1
    for view, (x, y) in enumerate(offsets):
        crop = imgs[0][y:y + 3, x:x + 5]
        np.testing.assert_array_equal(out["imgs"][2 * view], crop)
        np.testing.assert_array_equal(out["imgs"][2 * view + 1], crop[:, ::-1])


# ------------------------------------------------------------------ 6. Heatmap2Potion
def test_potion_colours_one_joint_by_time():
    heat = np.zeros((3, 1, 2, 2), np.float32)  # T=3, K=1
    heat[0, 0, 0, 0] = heat[1, 0, 0, 1] = heat[2, 0, 1, 1] = 1.0
    out = B("Heatmap2Potion", C=3, option="U")(dict(imgs=heat, clip_len=3))["imgs"]
    assert out.shape == (1, 2, 2, 3)
    scale = 1 / (1 + 1e-4)  # each colour's max is 1
    np.testing.assert_allclose(out[0, 0, 0], [scale, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(out[0, 0, 1], [0, scale, 0], rtol=1e-6)
    np.testing.assert_allclose(out[0, 1, 1], [0, 0, scale], rtol=1e-6)


def test_potion_full_is_u_i_n_per_joint():
    heat = np.random.RandomState(0).rand(8, 2, 5, 6).astype(np.float32)  # 2 clips of 4, K=2
    full = heatmaps_to_potion(heat, 4, 2, "full")
    u, i, n = (heatmaps_to_potion(heat, 4, 2, o) for o in ("U", "I", "N"))
    assert full.shape == (2, 5, 6, 2 * 5)
    per_joint = full.reshape(2, 5, 6, 2, 5)
    np.testing.assert_allclose(per_joint[..., :2], u.reshape(2, 5, 6, 2, 2))
    np.testing.assert_allclose(per_joint[..., 2:3], i.reshape(2, 5, 6, 2, 1))
    u, i = u.reshape(2, 5, 6, 2, 2), i.reshape(2, 5, 6, 2, 1)
    np.testing.assert_allclose(n.reshape(2, 5, 6, 2, 2), u / (i + 1))


# ------------------------------------------------------------------ 6. ArrayDecode, DecordInit/DecordDecode
def test_array_decode_rgb_and_flow():
    array = np.random.RandomState(0).rand(6, 4, 5, 2)
    out = B("ArrayDecode")(dict(array=array, frame_inds=np.array([[1, 3]]), modality="RGB", offset=1))
    np.testing.assert_array_equal(out["imgs"], [array[2], array[4]])
    assert out["img_shape"] == (4, 5)
    flow = B("ArrayDecode")(dict(array=array, frame_inds=np.array([0]), modality="Flow"))
    np.testing.assert_array_equal(flow["imgs"], [array[0, ..., 0], array[0, ..., 1]])


def _write_video(path, values, size=(48, 32)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
    for v in values:
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[..., 2] = v  # BGR: red carries the frame's number
        writer.write(frame)
    writer.release()


def test_decord_init_and_decode_read_exact_frames(tmp_path):
    path = tmp_path / "clip.mp4"
    _write_video(path, [20 * i for i in range(10)])
    results = B("DecordInit")(dict(filename=str(path)))
    assert results["total_frames"] == 10
    pickle.loads(pickle.dumps(results))  # crosses DataLoader workers
    results["frame_inds"] = np.array([7, 0, 7, 3])
    out = B("DecordDecode")(results)
    assert out["img_shape"] == (32, 48) and out["video_reader"] is None
    red = [float(img[..., 0].mean()) for img in out["imgs"]]  # RGB order
    np.testing.assert_allclose(red, [140, 0, 140, 60], atol=4)  # mp4v is lossy on flat frames by a few levels


def test_decode_past_the_end_names_the_file(tmp_path):
    path = tmp_path / "short.mp4"
    _write_video(path, [0, 50])
    results = B("DecordInit")(dict(filename=str(path)))
    results["frame_inds"] = np.array([0, 5])
    with pytest.raises(PipelineError, match="short.mp4.*has 2 frames"):
        B("DecordDecode")(results)


# ------------------------------------------------------------------ random crops: explicit RNGs
def test_random_crop_functions_take_an_explicit_rng():
    import random

    from pyskl.datasets.pipelines.cropping import random_crop_offset, random_resized_crop_box

    box = random_resized_crop_box((60, 80), (0.3, 0.6), (3 / 4, 4 / 3), rng=np.random.RandomState(4),
                                  py_rng=random.Random(4))
    again = random_resized_crop_box((60, 80), (0.3, 0.6), (3 / 4, 4 / 3), rng=np.random.RandomState(4),
                                    py_rng=random.Random(4))
    assert box == again
    left, top, right, bottom = box
    assert 0 <= left < right <= 80 and 0 <= top < bottom <= 60
    assert 0.3 * 4800 * 0.8 <= (right - left) * (bottom - top) <= 0.6 * 4800 * 1.2  # rounding of w and h
    rng = np.random.RandomState(7)
    y, x = rng.randint(0, 60 - 20), rng.randint(0, 80 - 20)  # y first, as PYSKL
    assert random_crop_offset((60, 80), 20, np.random.RandomState(7)) == (x, y)
    assert random_crop_offset((20, 80), 20, np.random.RandomState(7))[1] == 0


def test_random_crop_ops_still_draw_from_the_global_rngs():
    import random

    np.random.seed(3)
    random.seed(3)
    out = B("RandomResizedCrop", area_range=(0.3, 0.6))(dict(img_shape=(60, 80)))
    from pyskl.datasets.pipelines.cropping import random_resized_crop_box

    np.random.seed(3)
    random.seed(3)
    expected = random_resized_crop_box((60, 80), (0.3, 0.6), (3 / 4, 4 / 3))
    np.testing.assert_array_equal(out["crop_bbox"], expected)
