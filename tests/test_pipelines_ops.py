"""GCN pipeline ops: Compose semantics, exact small-array values, pickling/repr, clear errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pyskl.datasets.pipelines import Compose, MissingKeyError, PipelineError
from pyskl.registry import TRANSFORMS
from pyskl.utils.layouts import get_layout

OP_CONFIGS = [
    dict(type="PreNormalize3D"),
    dict(type="PreNormalize3D", align_spine=False),
    dict(type="PreNormalize2D"),
    dict(type="PreNormalize2D", mode="auto", img_shape=(720, 1280)),
    dict(type="GenSkeFeat", dataset="coco", feats=["j", "b", "jm", "bm"]),
    dict(type="JointToBone", dataset="openpose", target="b"),
    dict(type="ToMotion", source="j", target="jm"),
    dict(type="MergeSkeFeat", feat_list=["j", "b"]),
    dict(type="Rename", mapping={"a": "b"}),
    dict(type="UniformSampleFrames", clip_len=48, num_clips=10, p_interval=(0.5, 1)),
    dict(type="UniformSample", clip_len=100),
    dict(type="UniformSampleDecode", clip_len=100, num_clips=2),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=3, mode="loop"),
    dict(type="PadTo", length=300),
    dict(type="Collect", keys=["keypoint", "label"], meta_keys=[]),
    dict(type="ToTensor", keys=["keypoint"]),
    dict(type="RandomRot", theta=0.2),
    dict(type="RandomScale", scale=(0.1, 0.2, 0.3)),
    dict(type="RandomGaussianNoise", sigma=0.02, base="video", shared=True),
]


def ntu_sample(m=2, t=40, seed=0, dtype=np.float32) -> dict:
    rng = np.random.default_rng(seed)
    kp = (rng.normal(0, 0.3, (m, t, 25, 3)) + [0, 0.2, 3.0]).astype(dtype)
    return dict(keypoint=kp, total_frames=t, label=3, frame_dir="x", start_index=0, modality="Pose")


# ----------------------------------------------------------------------------- Compose
def test_compose_builds_dicts_and_callables_in_order():
    calls = []
    pipeline = Compose([dict(type="Rename", mapping={"a": "b"}), lambda r: calls.append(dict(r)) or r])
    assert pipeline({"a": 1}) == {"b": 1} and calls == [{"b": 1}]
    assert len(pipeline) == 2 and type(pipeline[0]).__name__ == "Rename"
    assert "Rename(mapping={'a': 'b'})" in repr(pipeline)


def test_compose_returns_none_and_stops_when_an_op_drops_the_sample():
    def boom(_):
        raise AssertionError("must not run after a None")

    assert Compose([lambda r: None, boom])({"a": 1}) is None


def test_compose_rejects_bad_entries_with_clear_errors():
    with pytest.raises(TypeError, match="entry 1"):
        Compose([lambda r: r, 3])
    with pytest.raises(TypeError, match="list of op dicts"):
        Compose(dict(type="PoseDecode"))
    with pytest.raises(KeyError, match="UniformSample"):
        Compose([dict(type="UniformSampel", clip_len=3)])


def test_pipeline_importable_from_package_root():
    import pyskl

    pipeline = pyskl.build_pipeline([dict(type="PoseDecode")])
    assert isinstance(pipeline, Compose)


# ----------------------------------------------------------------------------- pickling / repr
@pytest.mark.parametrize("cfg", OP_CONFIGS, ids=lambda c: c["type"])
def test_ops_pickle_and_repr(cfg):
    op = TRANSFORMS.build(cfg)
    clone = pickle.loads(pickle.dumps(op))
    assert type(clone) is type(op) and repr(clone) == repr(op)
    for key, value in cfg.items():
        if key != "type":
            assert f"{key}={value!r}" in repr(op)


def test_compose_pickles_with_its_ops():
    pipeline = Compose([dict(type="PreNormalize3D"), dict(type="UniformSample", clip_len=10)])
    sample = ntu_sample()
    np.random.seed(0)
    expected = pipeline(dict(sample))
    np.random.seed(0)
    got = pickle.loads(pickle.dumps(pipeline))(dict(sample))
    np.testing.assert_array_equal(got["frame_inds"], expected["frame_inds"])


# ----------------------------------------------------------------------------- exact values
def test_joint_to_bone_root_and_pairs():
    kp = np.random.default_rng(0).normal(size=(1, 4, 25, 3))
    out = TRANSFORMS.build(dict(type="JointToBone"))({"keypoint": kp})["keypoint"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 20, :], 0)  # spine_shoulder is the root: pair (20, 20)
    for v1, v2 in get_layout("nturgb+d").bone_pairs:
        np.testing.assert_allclose(out[..., v1, :], (kp[..., v1, :] - kp[..., v2, :]).astype(np.float32))


def test_joint_to_bone_coco_score_channel_is_pair_mean():
    kp = np.random.default_rng(1).uniform(size=(2, 3, 17, 3)).astype(np.float32)
    out = TRANSFORMS.build(dict(type="JointToBone", dataset="coco"))({"keypoint": kp})["keypoint"]
    for v1, v2 in get_layout("coco").bone_pairs:
        np.testing.assert_allclose(out[..., v1, 2], (kp[..., v1, 2] + kp[..., v2, 2]) / 2)
        np.testing.assert_allclose(out[..., v1, :2], kp[..., v1, :2] - kp[..., v2, :2])


def test_to_motion_last_frame_zero_and_dtype_kept():
    x = np.arange(2 * 4 * 2 * 3, dtype=np.float64).reshape(2, 4, 2, 3) ** 2
    out = TRANSFORMS.build(dict(type="ToMotion", source="k", target="m"))({"k": x})["m"]
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[:, :3], x[:, 1:] - x[:, :3])
    np.testing.assert_array_equal(out[:, 3], 0)


def test_gen_ske_feat_keeps_order_and_leftovers_like_pyskl():
    kp = np.random.default_rng(2).normal(size=(1, 5, 25, 3))
    out = TRANSFORMS.build(dict(type="GenSkeFeat", feats=["b", "j"]))({"keypoint": kp.copy()})
    assert out["keypoint"].shape == (1, 5, 25, 6) and out["keypoint"].dtype == np.float64
    np.testing.assert_array_equal(out["keypoint"][..., 3:], kp)
    assert set(out) == {"keypoint"}
    out = TRANSFORMS.build(dict(type="GenSkeFeat", feats=["bm"]))({"keypoint": kp.copy()})
    assert set(out) == {"keypoint", "j", "b"} and out["keypoint"].dtype == np.float32


def test_uniform_sample_frames_test_mode_reseeds_global_rng():
    op = TRANSFORMS.build(dict(type="UniformSampleFrames", clip_len=8, num_clips=3))
    np.random.seed(1)
    a = op(dict(total_frames=50, start_index=0, test_mode=True))["frame_inds"].copy()
    after_a = np.random.rand()
    np.random.seed(2)
    b = op(dict(total_frames=50, start_index=0, test_mode=True))["frame_inds"]
    np.testing.assert_array_equal(a, b)
    np.random.seed(255)
    for _ in range(3):  # per clip: rand(), randint(1) (no draw), randint(segment sizes)
        np.random.rand()
        np.random.randint(np.diff(np.arange(9) * 50 // 8))
    assert after_a == np.random.rand()


@pytest.mark.parametrize("total", [5, 20, 64, 300])
def test_uniform_sample_frames_shapes_and_range(total):
    out = TRANSFORMS.build(dict(type="UniformSample", clip_len=16, num_clips=4))(
        dict(total_frames=total, start_index=2)
    )
    inds = out["frame_inds"]
    assert inds.dtype == np.int64 and inds.shape == (64,)
    assert inds.min() >= 2 and inds.max() < total + 2
    assert out["clip_len"] == 16 and out["num_clips"] == 4 and out["frame_interval"] is None


def test_p_interval_list_is_accepted_as_a_tuple():
    a = TRANSFORMS.build(dict(type="UniformSampleFrames", clip_len=8, p_interval=[0.5, 1.0]))
    b = TRANSFORMS.build(dict(type="UniformSampleFrames", clip_len=8, p_interval=(0.5, 1.0)))
    np.random.seed(3)
    x = a(dict(total_frames=100, start_index=0))["frame_inds"]
    np.random.seed(3)
    np.testing.assert_array_equal(x, b(dict(total_frames=100, start_index=0))["frame_inds"])


def test_pose_decode_format_collect_to_tensor_chain():
    torch = pytest.importorskip("torch")
    sample = ntu_sample(m=1, t=30)
    sample["frame_inds"] = np.arange(20) % 30
    sample["num_clips"] = 2
    out = Compose(
        [
            dict(type="PoseDecode"),
            dict(type="FormatGCNInput", num_person=2),
            dict(type="Collect", keys=["keypoint", "label"], meta_keys=["frame_dir"]),
            dict(type="ToTensor", keys=["keypoint", "label"]),
        ]
    )(sample)
    assert out["keypoint"].shape == (2, 2, 10, 25, 3) and out["keypoint"].dtype == torch.float32
    assert torch.equal(out["keypoint"][:, 1], torch.zeros(2, 10, 25, 3))  # padded person is zeros
    assert out["label"].tolist() == [3] and out["img_metas"] == {"frame_dir": "x"}


def test_pad_to_zero_and_loop():
    kp = np.arange(1 * 3 * 1 * 2, dtype=np.float64).reshape(1, 3, 1, 2) + 1
    loop = TRANSFORMS.build(dict(type="PadTo", length=7))(dict(keypoint=kp, total_frames=3))
    np.testing.assert_array_equal(loop["keypoint"][0, :, 0, 0], [1, 3, 5, 1, 3, 5, 1])
    zero = TRANSFORMS.build(dict(type="PadTo", length=7, mode="zero"))(dict(keypoint=kp, total_frames=3))
    np.testing.assert_array_equal(zero["keypoint"][0, :, 0, 0], [1, 3, 5, 0, 0, 0, 0])
    assert zero["total_frames"] == 7


def test_random_rot_keeps_lengths_and_consumes_three_uniforms():
    sample = ntu_sample(t=5)
    kp = sample["keypoint"].astype(np.float64)
    np.random.seed(4)
    out = TRANSFORMS.build(dict(type="RandomRot"))(dict(sample))["keypoint"]
    after = np.random.rand()
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(kp, axis=-1), rtol=1e-6)
    np.random.seed(4)
    np.random.uniform(-0.3, 0.3, size=3)
    assert np.random.rand() == after


def test_random_rot_all_zero_draws_nothing():
    np.random.seed(5)
    out = TRANSFORMS.build(dict(type="RandomRot"))(dict(keypoint=np.zeros((1, 3, 25, 3))))
    after = np.random.rand()
    np.random.seed(5)
    assert np.random.rand() == after and out["keypoint"].dtype == np.float64


def test_pre_normalize_3d_all_zero_unchanged():
    kp = np.zeros((2, 10, 25, 3), np.float16)
    out = TRANSFORMS.build(dict(type="PreNormalize3D"))(dict(keypoint=kp, total_frames=10))
    assert out["keypoint"] is kp and "body_center" not in out


def test_pre_normalize_3d_centres_rotates_and_aligns_shoulders():
    sample = ntu_sample(m=1, t=6, dtype=np.float64)
    raw = sample["keypoint"].copy()
    kp = TRANSFORMS.build(dict(type="PreNormalize3D"))(sample)["keypoint"]
    shoulders = kp[0, 0, 8] - kp[0, 0, 4]
    np.testing.assert_allclose(kp[0, 0, 1], 0, atol=1e-12)  # centred on spine_mid of frame 0
    np.testing.assert_allclose(shoulders[1:], 0, atol=1e-12)  # last rotation puts them on +x
    assert shoulders[0] > 0
    centred = raw - raw[0, 0, 1]
    np.testing.assert_allclose(np.linalg.norm(kp, axis=-1), np.linalg.norm(centred, axis=-1), rtol=1e-9)


def test_pre_normalize_3d_drops_empty_frames_and_swaps_persons():
    sample = ntu_sample(m=2, t=10)
    sample["keypoint"][0, 6:] = 0  # person 0 present 6 frames, person 1 all 10
    raw = sample["keypoint"].copy()
    out = TRANSFORMS.build(dict(type="PreNormalize3D", align_spine=False))(sample)
    assert out["total_frames"] == 10 and out["keypoint"].dtype == np.float32
    np.testing.assert_array_equal(out["body_center"], raw[1, 0, 1])  # person 1 became the main person
    np.testing.assert_allclose(out["keypoint"][0], raw[1] - raw[1, 0, 1], rtol=1e-6)
    np.testing.assert_array_equal(out["keypoint"][1, 6:], 0)  # absent joints stay 0

    sample = ntu_sample(m=2, t=10)
    sample["keypoint"][:, [0, 4, 9]] = 0  # frames where the main person is absent are removed
    sample["keypoint"][1, 2] = 0
    raw = sample["keypoint"].copy()
    out = TRANSFORMS.build(dict(type="PreNormalize3D", align_spine=False))(sample)
    assert out["total_frames"] == 7 and out["keypoint"].shape == (2, 7, 25, 3)
    np.testing.assert_array_equal(out["body_center"], raw[0, 1, 1])
    np.testing.assert_array_equal(out["keypoint"][1, 1], 0)  # frame 2 of the second person


# ----------------------------------------------------------------------------- clear errors
MISSING_KEY_CASES = [
    (dict(type="PreNormalize3D"), "keypoint"),
    (dict(type="PreNormalize2D"), "keypoint"),
    (dict(type="GenSkeFeat"), "keypoint"),
    (dict(type="UniformSample", clip_len=4), "total_frames"),
    (dict(type="UniformSampleDecode", clip_len=4), "keypoint"),
    (dict(type="PoseDecode"), "total_frames"),
    (dict(type="FormatGCNInput"), "keypoint"),
    (dict(type="PadTo", length=4), "keypoint"),
    (dict(type="Collect", keys=["keypoint"], meta_keys=[]), "keypoint"),
    (dict(type="ToTensor", keys=["imgs"]), "imgs"),
    (dict(type="RandomRot"), "keypoint"),
    (dict(type="RandomScale"), "keypoint"),
    (dict(type="RandomGaussianNoise"), "keypoint"),
    (dict(type="MergeSkeFeat", feat_list=["j"]), "j"),
    (dict(type="ToMotion"), "keypoint"),
    (dict(type="JointToBone"), "keypoint"),
]


@pytest.mark.parametrize("cfg,key", MISSING_KEY_CASES, ids=lambda x: x["type"] if isinstance(x, dict) else x)
def test_missing_key_names_op_and_key(cfg, key):
    with pytest.raises(MissingKeyError) as info:
        TRANSFORMS.build(cfg)({"label": 1})
    assert cfg["type"] in str(info.value) and repr(key) in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


BAD_INPUT_CASES = [
    (
        dict(type="PreNormalize2D"),
        dict(keypoint=np.random.default_rng(0).normal(3, 1, (1, 4, 17, 3))),
        "PreNormalize2D.*3D skeleton",
    ),
    (
        dict(type="PreNormalize2D"),
        dict(keypoint=np.zeros((1, 4, 17, 3)), keypoint_score=np.zeros((1, 4, 17))),
        "PreNormalize2D.*keypoint_score",
    ),
    (dict(type="PreNormalize3D"), dict(keypoint=np.ones((1, 4, 17, 2))), "PreNormalize3D.*'keypoint'"),
    (dict(type="PreNormalize3D"), dict(keypoint=np.ones((4, 17, 3))), "PreNormalize3D.*4 dims"),
    (
        dict(type="PreNormalize3D"),
        dict(keypoint=np.ones((1, 4, 25, 3)), total_frames=5),
        "PreNormalize3D.*total_frames",
    ),
    (dict(type="PreNormalize3D"), dict(keypoint=np.ones((3, 4, 25, 3))), "PreNormalize3D.*1 or 2 persons"),
    (dict(type="PreNormalize3D", align_center=False), dict(keypoint=np.ones((1, 4, 25, 3))), "align_center"),
    (dict(type="PreNormalize3D"), dict(keypoint=np.array([["a"]])), "numeric numpy array"),
    (
        dict(type="GenSkeFeat"),
        dict(keypoint=np.ones((1, 2, 25, 2)), keypoint_score=np.ones((1, 2, 25))),
        "GenSkeFeat.*nturgb",
    ),
    (
        dict(type="GenSkeFeat", dataset="coco", feats=["b"]),
        dict(keypoint=np.ones((1, 2, 10, 3))),
        "JointToBone.*coco",
    ),
    (
        dict(type="UniformSample", clip_len=4),
        dict(total_frames=5, keypoint=np.ones((1, 6, 25, 3))),
        "UniformSample.*total_frames",
    ),
    (dict(type="UniformSample", clip_len=4), dict(total_frames=0), "UniformSample.*total_frames"),
    (
        dict(type="PoseDecode"),
        dict(frame_inds=np.array([0, 9]), keypoint=np.ones((1, 5, 25, 3))),
        "PoseDecode.*out of range",
    ),
    (
        dict(type="PoseDecode"),
        dict(frame_inds=np.array([0.5]), keypoint=np.ones((1, 5, 25, 3))),
        "PoseDecode.*int",
    ),
    (
        dict(type="FormatGCNInput"),
        dict(keypoint=np.ones((1, 7, 25, 3)), num_clips=2),
        "FormatGCNInput.*num_clips",
    ),
    (
        dict(type="RandomScale", scale=(0.1, 0.2)),
        dict(keypoint=np.ones((1, 2, 25, 3))),
        "RandomScale.*channels",
    ),
    (dict(type="Rename", mapping={"a": "b"}), dict(a=1, b=2), "Rename.*already exists"),
    (dict(type="ToTensor", keys=["x"]), dict(x=object()), "ToTensor.*'x'"),
    (
        dict(type="PadTo", length=9),
        dict(keypoint=np.ones((1, 3, 25, 3)), total_frames=4),
        "PadTo.*total_frames",
    ),
    (
        dict(type="PadTo", length=2),
        dict(keypoint=np.ones((1, 3, 25, 3)), total_frames=3),
        "PadTo.*exceeds length",
    ),
]


@pytest.mark.parametrize(
    "cfg,results,match",
    BAD_INPUT_CASES,
    ids=lambda x: x["type"] if isinstance(x, dict) and "type" in x else "",
)
def test_bad_input_raises_pipeline_error(cfg, results, match):
    with pytest.raises(PipelineError, match=match):
        TRANSFORMS.build(cfg)(results)


def test_non_dict_results_is_a_clear_error():
    with pytest.raises(PipelineError, match="PoseDecode: expects a results dict"):
        TRANSFORMS.build(dict(type="PoseDecode"))([1, 2])


@pytest.mark.parametrize(
    "cfg",
    [
        dict(type="UniformSample", clip_len=0),
        dict(type="UniformSample", clip_len=4, p_interval="x"),
        dict(type="PreNormalize2D", mode="box"),
        dict(type="FormatGCNInput", mode="repeat"),
        dict(type="PadTo", length=3, mode="x"),
        dict(type="GenSkeFeat", feats=["kb"]),
        dict(type="GenSkeFeat", dataset="kinect"),
        dict(type="RandomGaussianNoise", shared=True),
        dict(type="RandomScale", scale="big"),
        dict(type="Rename", mapping={"a": 1}),
    ],
)
def test_bad_constructor_args_raise(cfg):
    with pytest.raises((ValueError, TypeError), match=cfg["type"]):
        TRANSFORMS.build(cfg)


FUZZ_OPS = [
    dict(type="PreNormalize3D"),
    dict(type="PreNormalize3D", align_spine=False),
    dict(type="PreNormalize2D"),
    dict(type="PreNormalize2D", mode="auto"),
    dict(type="GenSkeFeat", feats=["j", "b", "jm", "bm"]),
    dict(type="GenSkeFeat", dataset="coco", feats=["j", "b", "jm", "bm"]),
    dict(type="UniformSampleFrames", clip_len=8, num_clips=2),
    dict(type="UniformSample", clip_len=100, num_clips=10),
    dict(type="UniformSampleDecode", clip_len=8, num_clips=2),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput"),
    dict(type="PadTo", length=30, mode="zero"),
    dict(type="RandomRot"),
    dict(type="RandomScale"),
    dict(type="RandomGaussianNoise"),
    dict(type="RandomGaussianNoise", base="video", shared=True),
    dict(type="Collect", keys=["keypoint"], meta_keys=["label"]),
]


def _fuzz_keypoints() -> dict:
    rng = np.random.default_rng(0)
    return {
        "ok3d": rng.normal(size=(2, 10, 25, 3)).astype(np.float32),
        "ok2d": rng.normal(size=(1, 10, 17, 2)).astype(np.float32) * 100 + 500,
        "nan": np.full((1, 10, 25, 3), np.nan, np.float32),
        "inf": np.full((1, 10, 25, 3), np.inf, np.float16),
        "no_frames": np.zeros((1, 0, 25, 3), np.float32),
        "no_person": np.zeros((0, 10, 25, 3), np.float32),
        "int": np.ones((1, 10, 25, 3), np.int64),
        "bool": np.ones((1, 10, 25, 3), bool),
        "object": np.full((1, 10, 25, 3), None, dtype=object),
        "3dims": np.ones((10, 25, 3), np.float32),
        "5dims": np.ones((1, 1, 10, 25, 3), np.float32),
        "4channels": np.ones((1, 10, 25, 4), np.float32),
        "few_joints": np.ones((1, 10, 3, 3), np.float32),
        "3persons": rng.normal(size=(3, 10, 25, 3)),
        "list": [[1, 2, 3]],
        "str": "abc",
    }


FUZZ_EXTRAS = [
    {},
    {"total_frames": 10},
    {"total_frames": 10, "keypoint_score": np.ones((1, 10, 17), np.float32)},
    {"total_frames": -1},
    {"total_frames": "x"},
    {"total_frames": 10.0},
    {"total_frames": 10, "frame_inds": np.arange(5), "num_clips": 3},
    {"total_frames": 10, "keypoint_score": np.ones((2,), np.float32), "img_shape": 5},
    {"total_frames": 10, "test_mode": True, "start_index": 0},
    {"total_frames": 10, "frame_inds": np.array([[1, 2]]), "offset": "a"},
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("cfg", FUZZ_OPS, ids=lambda c: c["type"])
def test_malformed_inputs_end_in_pipeline_error(cfg):
    """Every malformed input either works (PYSKL would accept it too) or raises our PipelineError."""
    op = TRANSFORMS.build(cfg)
    for name, kp in _fuzz_keypoints().items():
        for extra in FUZZ_EXTRAS:
            results = dict(extra, label=1, keypoint=kp.copy() if hasattr(kp, "copy") else kp)
            try:
                op(results)
            except PipelineError:
                pass
            except Exception as err:  # noqa: BLE001
                pytest.fail(f"{cfg} on keypoint={name} with {sorted(extra)}: {type(err).__name__}: {err}")
