"""Layout converters and CTR-GCN / 2s-AGCN NTU array import."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pyskl.datasets.ctrgcn_import import (
    CTRGCNImportError,
    import_agcn_npy,
    import_ctrgcn_npz,
    split_prefix_for,
    unpad_sample,
)
from pyskl.datasets.layout_convert import (
    MEDIAPIPE_POSE_JOINTS,
    convert_annotation,
    convert_keypoints,
    normalize_hand21,
)
from pyskl.utils.layouts import get_layout


def test_mediapipe33_to_coco17_picks_named_joints():
    kp = np.arange(2 * 4 * 33 * 2, dtype=np.float32).reshape(2, 4, 33, 2)
    score = np.random.default_rng(0).random((2, 4, 33)).astype(np.float32)
    out, out_score = convert_keypoints(kp, score, "mediapipe33", "coco")
    expected = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    np.testing.assert_array_equal(out, kp[..., expected, :])
    np.testing.assert_array_equal(out_score, score[..., expected])
    coco = get_layout("coco").joint_names
    assert [MEDIAPIPE_POSE_JOINTS[i] for i in expected] == list(coco)


def test_openpose_coco_round_trip_and_neck():
    rng = np.random.default_rng(1)
    op = rng.random((1, 3, 18, 2)).astype(np.float32) + 1
    score = rng.random((1, 3, 18)).astype(np.float32)
    coco, coco_score = convert_keypoints(op, score, "openpose18", "coco17")
    assert coco.shape == (1, 3, 17, 2)
    np.testing.assert_array_equal(coco[..., 1, :], op[..., 15, :])  # left eye
    np.testing.assert_array_equal(coco[..., 6, :], op[..., 2, :])  # right shoulder
    back, back_score = convert_keypoints(coco, coco_score, "coco", "openpose")
    keep = [i for i in range(18) if i != 1]
    np.testing.assert_array_equal(back[..., keep, :], op[..., keep, :])
    np.testing.assert_allclose(back[..., 1, :], (op[..., 2, :] + op[..., 5, :]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(back_score[..., 1], np.minimum(score[..., 2], score[..., 5]))
    coco[0, 0, 5] = 0  # a missing left shoulder -> no neck in that frame
    back, back_score = convert_keypoints(coco, coco_score, "coco", "openpose")
    assert not back[0, 0, 1].any() and back_score[0, 0, 1] == 0 and back[0, 1, 1].all()


def test_convert_errors_and_identity():
    kp = np.zeros((1, 2, 17, 3), np.float32)
    with pytest.raises(ValueError, match="layout 'mediapipe' needs"):
        convert_keypoints(kp, None, "mediapipe33", "coco")
    with pytest.raises(ValueError, match="unknown layout 'body99'"):
        convert_keypoints(kp, None, "body99", "coco")
    with pytest.raises(ValueError, match="no conversion from 'coco' to 'mediapipe'"):
        convert_keypoints(kp, None, "coco", "mediapipe")
    same, _ = convert_keypoints(kp, None, "coco", "coco17")
    assert same is not kp and same.shape == kp.shape
    ann = {
        "frame_dir": "a",
        "label": 0,
        "total_frames": 2,
        "keypoint": np.ones((1, 2, 18, 2), np.float32),
        "keypoint_score": np.ones((1, 2, 18), np.float32),
    }
    out = convert_annotation(ann, "openpose", "coco")
    assert out["keypoint"].shape == (1, 2, 17, 2) and out["keypoint_score"].shape == (1, 2, 17)
    assert ann["keypoint"].shape == (1, 2, 18, 2)


def test_normalize_hand21():
    rng = np.random.default_rng(2)
    hand = rng.random((5, 21, 2))
    out = normalize_hand21(hand)
    np.testing.assert_allclose(out[:, 0], 0)
    np.testing.assert_allclose(np.linalg.norm(out[:, 9], axis=-1), 1)
    assert not np.isnan(normalize_hand21(np.zeros((1, 21, 2)))).any()


def _padded(length, persons, rng):
    x = np.zeros((300, 2, 25, 3), np.float32)
    x[:length, :persons] = rng.normal(size=(length, persons, 25, 3))
    return x


def test_unpad_sample():
    rng = np.random.default_rng(3)
    kp = unpad_sample(_padded(40, 1, rng))
    assert kp.shape == (1, 40, 25, 3) and kp.dtype == np.float16
    assert unpad_sample(_padded(12, 2, rng), np.float32).shape == (2, 12, 25, 3)


@pytest.mark.parametrize("compressed", [False, True])
def test_ctrgcn_npz_import(tmp_path, compressed):
    rng = np.random.default_rng(4)
    lengths, persons = [30, 300, 7], [1, 2, 2]
    x_train = np.stack([_padded(t, m, rng) for t, m in zip(lengths, persons)]).reshape(3, 300, 150)
    x_test = np.stack([_padded(20, 1, rng)]).reshape(1, 300, 150)
    y_train, y_test = np.eye(60)[[5, 59, 0]], np.eye(60)[[17]]
    path = tmp_path / "NTU60_CS.npz"
    (np.savez_compressed if compressed else np.savez)(
        path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
    )
    data = import_ctrgcn_npz(path)
    assert set(data["split"]) == {"xsub_train", "xsub_val"}
    assert data["split"]["xsub_val"] == ["xsub_test_000000"]
    anns = data["annotations"]
    assert [a["label"] for a in anns] == [5, 59, 0, 17]
    assert [a["keypoint"].shape for a in anns] == [
        (1, 30, 25, 3),
        (2, 300, 25, 3),
        (2, 7, 25, 3),
        (1, 20, 25, 3),
    ]
    expected = x_train[1].reshape(300, 2, 25, 3).transpose(1, 0, 2, 3).astype(np.float16)
    np.testing.assert_array_equal(anns[1]["keypoint"], expected)
    assert all(a["total_frames"] == a["keypoint"].shape[1] for a in anns)


def test_ctrgcn_bad_inputs(tmp_path):
    bad = tmp_path / "NTU60_CV.npz"
    np.savez(
        bad,
        x_train=np.zeros((2, 300, 75)),
        y_train=np.zeros((2, 60)),
        x_test=np.zeros((1, 300, 75)),
        y_test=np.zeros((1, 60)),
    )
    assert split_prefix_for(bad) == "xview" and split_prefix_for("NTU120_CSet.npz") == "xset"
    with pytest.raises(CTRGCNImportError, match="x_train has shape \\(2, 300, 75\\)"):
        import_ctrgcn_npz(bad)
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((1, 300, 150)))
    with pytest.raises(CTRGCNImportError, match="missing arrays"):
        import_ctrgcn_npz(tmp_path / "partial.npz")


def test_agcn_npy_import(tmp_path):
    rng = np.random.default_rng(5)
    frames = np.stack([_padded(25, 2, rng), _padded(9, 1, rng)])  # [N, T, M, V, C]
    x = frames.transpose(0, 4, 1, 3, 2)  # [N, C, T, V, M]
    np.save(tmp_path / "train_data_joint.npy", x)
    with open(tmp_path / "train_label.pkl", "wb") as f:
        pickle.dump((["S001C001P001R001A001.skeleton", "S001C002P001R001A002.skeleton"], [0, 1]), f)
    data = import_agcn_npy(tmp_path / "train_data_joint.npy", tmp_path / "train_label.pkl", "xsub_train")
    assert data["split"]["xsub_train"] == ["S001C001P001R001A001", "S001C002P001R001A002"]
    np.testing.assert_array_equal(
        data["annotations"][0]["keypoint"], frames[0, :25].transpose(1, 0, 2, 3).astype(np.float16)
    )
    assert data["annotations"][1]["keypoint"].shape == (1, 9, 25, 3)


def test_cli_convert(tmp_path, capsys):
    from pyskl.cli import main
    from pyskl.datasets.io import load_annotations, save_annotations

    rng = np.random.default_rng(6)
    anns = [
        {
            "frame_dir": f"v{i}",
            "label": i,
            "total_frames": 4,
            "img_shape": (480, 640),
            "keypoint": rng.random((1, 4, 33, 2)).astype(np.float32),
            "keypoint_score": rng.random((1, 4, 33)).astype(np.float32),
        }
        for i in range(2)
    ]
    save_annotations({"split": {"train": ["v0", "v1"]}, "annotations": anns}, tmp_path / "mp.pkl")
    assert (
        main(
            [
                "data",
                "convert",
                "layout",
                str(tmp_path / "mp.pkl"),
                str(tmp_path / "coco.pkl"),
                "--src",
                "mediapipe33",
                "--dst",
                "coco17",
            ]
        )
        == 0
    )
    out = load_annotations(tmp_path / "coco.pkl")
    assert out["split"] == {"train": ["v0", "v1"]} and out["annotations"][1]["keypoint"].shape == (
        1,
        4,
        17,
        2,
    )
    x = np.stack([_padded(10, 1, rng)]).reshape(1, 300, 150)
    np.savez(
        tmp_path / "NTU120_CSub.npz", x_train=x, y_train=np.eye(120)[[3]], x_test=x, y_test=np.eye(120)[[4]]
    )
    assert (
        main(["data", "convert", "ctrgcn", str(tmp_path / "NTU120_CSub.npz"), str(tmp_path / "n.pkl")]) == 0
    )
    assert "xsub_train 1, xsub_val 1" in capsys.readouterr().out
    assert load_annotations(tmp_path / "n.pkl")["annotations"][1]["label"] == 4
