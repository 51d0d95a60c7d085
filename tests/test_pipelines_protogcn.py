"""ProtoGCN's pipeline ops (JointToKB, Kinetics_Transform, Spatial_Flip, Part_Drop) and its GenSkeFeat /
JointToBone options, on small arrays with hand-computed values (exact: integer-valued float32)."""
from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from pyskl.datasets.pipelines import Compose, GenSkeFeat, JointToBone, PipelineError
from pyskl.datasets.pipelines.protogcn import JointToKB, Kinetics_Transform, Part_Drop, Spatial_Flip
from pyskl.registry import TRANSFORMS


def _indexed(v: int, c: int = 3) -> np.ndarray:
    """[M=1, T=2, V, C]: joint v at frame t is (v, 10 v, 100 v) + 1000 t (channels cut to C)."""
    joint = np.arange(v, dtype=np.float32)[:, None] * np.array([1, 10, 100], dtype=np.float32)[:c]
    return np.stack([joint, joint + 1000])[None]


def test_jointtokb_ntu_hub_differences():
    kp = _indexed(25)
    k = JointToKB()({"keypoint": kp})["keypoint"]
    assert k.dtype == np.float32 and k.shape == (1, 2, 25, 3)
    scale = np.array([1, 10, 100], dtype=np.float32)
    # k[v1] = joint[v1] - joint[v2]: (0, 20) -> -20, (21, 7) -> 14, (24, 10) -> 14, (13, 0) -> 13
    for v1, diff in ((0, -20), (21, 14), (24, 14), (13, 13), (6, 2), (3, -17)):
        np.testing.assert_array_equal(k[0, :, v1], np.tile(diff * scale, (2, 1)))
    # self pairs (hubs) are zero
    for hub in (1, 2, 4, 8, 20):
        assert not k[..., hub, :].any()


def test_jointtokb_coco_new_score_is_a_difference():
    kp = _indexed(20)
    k = JointToKB("coco_new", target="k")({"keypoint": kp})
    assert "k" in k and k["keypoint"] is kp
    # (1, 19): all three channels subtract, the score channel too (no averaging)
    np.testing.assert_array_equal(k["k"][0, 0, 1], [-18, -180, -1800])
    np.testing.assert_array_equal(k["k"][0, 0, 11], [-7, -70, -700])  # (11, 18)
    assert not k["k"][..., 0, :].any()  # (0, 0)


def test_jointtobone_coco_new_averages_the_score():
    b = JointToBone("coco_new")({"keypoint": _indexed(20)})["keypoint"]
    # (0, 19): x, y subtract; score = (s0 + s19) / 2 = (0 + 1900) / 2; frame 1 adds 1000 to both
    np.testing.assert_array_equal(b[0, :, 0], [[-19, -190, 950], [-19, -190, 1950]])
    np.testing.assert_array_equal(b[0, 0, 19], [0, 0, 1900])  # (19, 19): the score stays


def test_genskefeat_k_km_order_and_coco_new_motion():
    kp = _indexed(20)
    out = GenSkeFeat("coco_new", feats=["km", "k", "jm"])({"keypoint": kp.copy()})
    feat = out["keypoint"]
    assert feat.shape == (1, 2, 20, 9) and "j" in out  # j stays, as PYSKL leaves unconsumed features
    np.testing.assert_array_equal(feat[0, 0, :, 0:3], 0)  # km: the hub difference is constant over time
    np.testing.assert_array_equal(feat[0, 0, 1, 3:6], [-18, -180, -1800])  # k
    # jm on coco_new: a plain difference, score too (ProtoGCN's ToMotion averages only coco/openpose)
    np.testing.assert_array_equal(feat[0, 0, 5, 6:9], [1000, 1000, 1000])
    np.testing.assert_array_equal(feat[0, 1, :, [0, 1, 2, 6, 7, 8]], 0)  # last frame of both motions is 0


def test_genskefeat_ntu_six_features_channels():
    out = GenSkeFeat(feats=["j", "b", "k", "jm", "bm", "km"])({"keypoint": _indexed(25)})
    assert out["keypoint"].shape == (1, 2, 25, 18)
    np.testing.assert_array_equal(out["keypoint"][0, 0, 0, 6:9], [-20, -200, -2000])  # k[0] = j0 - j20


def test_genskefeat_rejects_k_on_a_layout_without_hub_pairs():
    with pytest.raises(ValueError, match="JointToKB: dataset must be one of 'nturgb\\+d', 'coco_new'"):
        GenSkeFeat("coco", feats=["k"])
    with pytest.raises(ValueError, match="feats must be"):
        GenSkeFeat(feats=["kb"])


def test_kinetics_transform_appends_centres_with_scores():
    kp = np.zeros((1, 1, 17, 2), dtype=np.float32)
    score = np.zeros((1, 1, 17), dtype=np.float32)
    kp[0, 0, 11], kp[0, 0, 12], score[0, 0, 11], score[0, 0, 12] = (2, 4), (6, 8), 0.5, 1.0
    kp[0, 0, 5], kp[0, 0, 6], score[0, 0, 5], score[0, 0, 6] = (10, 20), (30, 40), 0.25, 0.75
    kp[0, 0, 0], score[0, 0, 0] = (1, 2), 0.125
    out = Kinetics_Transform()({"keypoint": kp.astype(np.float64), "keypoint_score": score})
    assert "keypoint_score" not in out
    got = out["keypoint"]
    assert got.shape == (1, 1, 20, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got[0, 0, 0], [1, 2, 0.125])
    np.testing.assert_array_equal(got[0, 0, 17], [4, 6, 0.75])      # hips (11, 12)
    np.testing.assert_array_equal(got[0, 0, 19], [20, 30, 0.5])     # shoulders (5, 6)
    np.testing.assert_array_equal(got[0, 0, 18], [12, 18, 0.625])   # mean of 17 and 19


def test_kinetics_transform_errors_name_the_key():
    with pytest.raises(PipelineError, match="needs 17 joints"):
        Kinetics_Transform()({"keypoint": np.zeros((1, 1, 20, 3))})
    with pytest.raises(PipelineError, match="'keypoint_score' is missing"):
        Kinetics_Transform()({"keypoint": np.zeros((1, 1, 17, 2))})
    with pytest.raises(PipelineError, match="keypoint_score is given too"):
        Kinetics_Transform()({"keypoint": np.zeros((1, 1, 17, 3)), "keypoint_score": np.zeros((1, 1, 17))})


def test_spatial_flip_permutes_limbs():
    kp = _indexed(25, c=1)
    flipped = Spatial_Flip(p=1.0)({"keypoint": kp})["keypoint"]
    expected = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22]
    np.testing.assert_array_equal(flipped[0, 0, :, 0], expected)
    assert Spatial_Flip(p=0.0)({"keypoint": kp})["keypoint"] is kp


def test_spatial_flip_draws_python_random():
    random.seed(3)
    draws = [random.random() < 0.5 for _ in range(8)]
    assert 0 < sum(draws) < 8
    random.seed(3)
    op, kp = Spatial_Flip(p=0.5), _indexed(25, c=1)
    flips = [op({"keypoint": kp})["keypoint"][0, 0, 4, 0] == 8 for _ in range(8)]
    assert flips == draws


def test_part_drop_zeroes_one_limb_group():
    groups = {0: [4, 5, 6, 7, 21, 22], 1: [12, 13, 14, 15], 2: [8, 9, 10, 11, 23, 24], 3: [16, 17, 18, 19]}
    kp = _indexed(25) + 1  # no zero joint before the drop
    seen = set()
    for seed in range(100):
        random.seed(seed)
        drop = random.random() < 0.2
        group = random.randint(0, 3) if drop else None
        random.seed(seed)
        out = Part_Drop()({"keypoint": kp})["keypoint"]
        zero = sorted(np.flatnonzero(~out.any(axis=(0, 1, 3))).tolist())
        assert zero == (groups[group] if drop else []), seed
        seen.add(group)
    assert seen == {None, 0, 1, 2, 3}
    assert kp.all()  # the input array is not modified in place


@pytest.mark.parametrize("op, kwargs, match", [
    (Spatial_Flip, {"dataset": "coco"}, "dataset must be one of 'nturgb\\+d'"),
    (Spatial_Flip, {"p": 1.5}, "p must be a probability"),
    (Part_Drop, {"p": -0.1}, "p must be a probability"),
    (JointToKB, {"dataset": "openpose"}, "dataset must be one of"),
])
def test_bad_arguments(op, kwargs, match):
    with pytest.raises(ValueError, match=match):
        op(**kwargs)


@pytest.mark.parametrize("op", [Part_Drop(), Spatial_Flip(), JointToKB()])
def test_ntu_ops_refuse_other_joint_counts(op):
    with pytest.raises(PipelineError, match=r"25 joints, results\['keypoint'\] has shape \(1, 2, 20, 3\)"):
        op({"keypoint": _indexed(20)})


@pytest.mark.parametrize("cfg, text", [
    (dict(type="JointToKB", dataset="coco_new"), "JointToKB(dataset='coco_new', target='keypoint')"),
    (dict(type="Kinetics_Transform"), "Kinetics_Transform()"),
    (dict(type="Spatial_Flip", dataset="nturgb+d", p=0.5), "Spatial_Flip(dataset='nturgb+d', p=0.5)"),
    (dict(type="Part_Drop"), "Part_Drop(p=0.2)"),
])
def test_registered_pickle_and_repr(cfg, text):
    op = TRANSFORMS.build(cfg)
    assert repr(op) == text
    clone = pickle.loads(pickle.dumps(op))
    assert repr(clone) == text
    kp = _indexed(25 if cfg["type"] != "JointToKB" else 20)
    if cfg["type"] == "Kinetics_Transform":
        sample = {"keypoint": _indexed(17, c=2), "keypoint_score": np.ones((1, 2, 17), np.float32)}
    else:
        sample = {"keypoint": kp}
    random.seed(0)
    a = op(dict(sample))["keypoint"]
    random.seed(0)
    np.testing.assert_array_equal(clone(dict(sample))["keypoint"], a)


def test_protogcn_finegym_style_pipeline():
    pipeline = Compose([dict(type="Kinetics_Transform"),
                        dict(type="GenSkeFeat", dataset="coco_new", feats=["k"])])
    out = pipeline({"keypoint": _indexed(17, c=2), "keypoint_score": np.ones((1, 2, 17), np.float32)})
    assert out["keypoint"].shape == (1, 2, 20, 3)
    np.testing.assert_array_equal(out["keypoint"][0, 0, 13], [1.5, 15, 0])  # (13, 17): 13 - (11 + 12) / 2
