"""Annotation validation: every error names the file, the sample (frame_dir and index) and the field."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from pyskl.datasets import AnnotationError, load_annotations, loads_annotations, validate_annotations

NAME = "S001C001P001R001A001"


def _ntu(name: str = NAME, label: int = 3, frames: int = 6, persons: int = 2) -> dict:
    rng = np.random.default_rng(0)
    return {"frame_dir": name, "label": label, "total_frames": frames,
            "keypoint": rng.normal(size=(persons, frames, 25, 3)).astype(np.float16)}


def _coco(name: str = "S002C001P001R001A002", frames: int = 4) -> dict:
    return {"frame_dir": name, "label": 1, "total_frames": frames, "img_shape": (1080, 1920),
            "original_shape": (1080, 1920), "keypoint": np.ones((1, frames, 17, 2), np.float32) * 100,
            "keypoint_score": np.ones((1, frames, 17), np.float32)}


def _file(samples: list, split: dict | None = None) -> dict:
    if split is None:
        split = {"xsub_train": [s["frame_dir"] for s in samples if "frame_dir" in s]}
    return {"split": split, "annotations": samples}


def _error(obj, **kwargs) -> str:
    with pytest.raises(AnnotationError) as info:
        validate_annotations(obj, "data/x.pkl", **kwargs)
    return str(info.value)


def _broken(index: int = 3, **changes) -> dict:
    """A file whose sample ``index`` has the given fields changed (``None`` deletes the field)."""
    samples = [_ntu(f"S001C001P001R001A00{i}") for i in range(index)] + [_ntu()]
    for key, value in changes.items():
        if value is None:
            del samples[index][key]
        else:
            samples[index][key] = value
    return _file(samples)


def test_valid_files_pass():
    validate_annotations(_file([_ntu(), _coco()]), "ok.pkl", split="xsub_train", num_classes=4)
    validate_annotations([_ntu(), _coco()], "ok.pkl")
    validate_annotations(_file([_ntu(label=np.int64(2))]), "ok.pkl")  # numpy ints are ints


def test_wrong_ndim_message_is_exact():
    msg = _error(_broken(keypoint=np.zeros((25, 3), np.float32)))
    assert msg == (f"data/x.pkl: sample '{NAME}' (index 3): keypoint has shape (25, 3); expected [M, T, V, C]")


@pytest.mark.parametrize("changes, field, words", [
    (dict(keypoint=np.full((1, 6, 25, 3), np.nan, np.float32)), "keypoint", "non-finite"),
    (dict(keypoint=np.full((1, 6, 25, 3), np.inf, np.float16)), "keypoint", "non-finite"),
    (dict(keypoint=None), "keypoint", "missing"),
    (dict(label=None), "label", "missing"),
    (dict(total_frames=None), "total_frames", "missing"),
    (dict(frame_dir=None), "frame_dir", "missing"),
    (dict(total_frames=7), "total_frames", "T=6"),
    (dict(keypoint=np.zeros((0, 6, 25, 3), np.float32)), "keypoint", "empty person axis"),
    (dict(keypoint=np.zeros((1, 6, 25, 4), np.float32)), "keypoint", "C (last axis) of 2 or 3"),
    (dict(keypoint=np.zeros((1, 6, 25, 2), np.float32)), "keypoint_score", "missing"),
    (dict(keypoint=np.zeros((1, 6, 25, 3), np.complex64)), "keypoint", "dtype complex64"),
    (dict(keypoint=np.zeros((1, 6, 25, 3), object)), "keypoint", "dtype object"),
    (dict(keypoint=np.zeros((1, 6, 25, 3), bool)), "keypoint", "dtype bool"),
    (dict(keypoint=[[0.0]]), "keypoint", "is a list"),
    (dict(keypoint_score=np.ones((2, 6, 24), np.float32)), "keypoint_score", "expected (2, 6, 25)"),
    (dict(label=-2), "label", "expected >= 0"),
    (dict(label=2.0), "label", "expected an int"),
    (dict(label=True), "label", "expected an int"),
    (dict(label="3"), "label", "expected an int"),
    (dict(total_frames=6.0), "total_frames", "expected an int"),
    (dict(img_shape=(1080,)), "img_shape", "(height, width)"),
])
def test_each_error_names_file_sample_and_field(changes, field, words):
    msg = _error(_broken(**changes))
    where = "sample at index 3" if "frame_dir" in changes else f"sample '{NAME}' (index 3)"
    assert msg.startswith(f"data/x.pkl: {where}: {field} "), msg
    assert words in msg


def test_label_out_of_range_needs_num_classes():
    validate_annotations(_broken(label=60), "data/x.pkl")
    msg = _error(_broken(label=60), num_classes=60)
    assert f"sample '{NAME}' (index 3): label is 60" in msg and "num_classes=60" in msg


def test_unknown_split_lists_available():
    msg = _error(_file([_ntu()]), split="xview_train")
    assert msg == "data/x.pkl: split 'xview_train' not found; available splits: xsub_train"
    msg = _error([_ntu()], split="xsub_train")
    assert "no 'split' dict" in msg


def test_split_structure_and_membership():
    assert "names 1 frame_dir(s) not in annotations, e.g. 'ghost'" in _error(
        _file([_ntu()], split={"xsub_train": [NAME, "ghost"]}))
    assert "expected a list of str" in _error(_file([_ntu()], split={"xsub_train": NAME}))
    assert "expected only str" in _error(_file([_ntu()], split={"xsub_train": [1]}))
    assert "'split' is a list" in _error({"split": [NAME], "annotations": [_ntu()]})


def test_top_level_shapes():
    assert "expected a dict with an 'annotations' list" in _error({"split": {}})
    assert "'annotations' is a dict" in _error({"annotations": {}})
    assert "holds a str" in _error("annotations")
    assert "sample at index 0 is a int" in _error([1])


def test_compressed_kinetics_schema():
    rng = np.random.default_rng(1)
    sample = {"frame_dir": "k400_a", "label": 12, "total_frames": 90, "img_shape": (360, 640),
              "original_shape": (360, 640), "keypoint": rng.random((189, 17, 3)).astype(np.float16),
              "frame_inds": np.sort(rng.integers(0, 90, 189)), "box_score": rng.random(189).astype(np.float32)}
    validate_annotations(_file([sample]), "k400.pkl")
    bad = dict(sample, frame_inds=sample["frame_inds"] + 90)
    assert "frame_inds has values in" in _error(_file([bad]))
    bad = dict(sample, frame_inds=sample["frame_inds"][:-1])
    assert "frame_inds is a int64 array of shape (188,)" in _error(_file([bad]))
    bad = dict(sample, box_score=sample["box_score"][:5])
    assert "box_score has shape (5,)" in _error(_file([bad]))
    memcached = {"frame_dir": "k400_b", "label": 3, "total_frames": 30, "raw_file": "part_0.pkl"}
    validate_annotations(_file([memcached]), "k400.pkl")


def test_load_validates_and_names_the_file(tmp_path):
    path = tmp_path / "ntu.pkl"
    path.write_bytes(pickle.dumps(_broken(keypoint=np.zeros((1, 6, 25, 3), np.float64) * np.nan)))
    expected = f"{path}: sample '{NAME}' \\(index 3\\): keypoint has 450 non-finite"
    with pytest.raises(AnnotationError, match=expected):
        load_annotations(path)
    with pytest.raises(AnnotationError, match="bytes.pkl: split 'nope' not found"):
        loads_annotations(pickle.dumps(_file([_ntu()])), "bytes.pkl", split="nope")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble, ">f4", "<f8"])
def test_non_finite_count_every_float_dtype(dtype):
    kp = np.zeros((2, 6, 25, 3), dtype)
    kp[0, 1, 2, 0], kp[1, 5, 24, 2], kp[1, 0, 0, 1] = np.nan, np.inf, -np.inf
    kp[0, 0, 0, 0] = np.finfo(np.float16).max  # large but finite
    msg = _error(_broken(keypoint=kp[:, :, :, :]))
    assert "keypoint has 3 non-finite value(s)" in msg
    msg = _error(_broken(keypoint=np.asfortranarray(kp)[:, :, ::-1]))  # non-contiguous view
    assert "keypoint has 3 non-finite value(s)" in msg
    kp[np.isnan(kp) | np.isinf(kp)] = 0
    validate_annotations(_broken(keypoint=kp), "ok.pkl")
