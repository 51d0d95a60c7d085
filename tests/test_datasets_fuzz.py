"""Property-based fuzzing of annotation loading: malformed content and corrupted bytes.

Every input must end in ``AnnotationError`` (the project's own error, naming the file) or load data that
really is valid (checked here independently of the validator). 500 + 300 + 500 generated examples.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyskl.datasets import AnnotationError, loads_annotations

SOURCE = "fuzz/ann.pkl"


def _ntu() -> dict:
    kp = np.linspace(-1, 1, 2 * 5 * 25 * 3, dtype=np.float32).reshape(2, 5, 25, 3).astype(np.float16)
    return {"frame_dir": "S001C001P001R001A001", "label": 3, "total_frames": 5, "keypoint": kp}


def _coco() -> dict:
    return {"frame_dir": "S001C002P001R001A002", "label": 1, "total_frames": 4, "img_shape": (1080, 1920),
            "original_shape": (1080, 1920), "keypoint": np.full((1, 4, 17, 2), 500.0, np.float32),
            "keypoint_score": np.full((1, 4, 17), 0.9, np.float32)}


def _k400() -> dict:
    return {"frame_dir": "k400_a", "label": 12, "total_frames": 9, "keypoint": np.ones((6, 17, 3), np.float16),
            "frame_inds": np.array([0, 1, 1, 4, 7, 8]), "box_score": np.full(6, 0.7, np.float32)}


def _memcached() -> dict:
    return {"frame_dir": "k400_b", "label": 0, "total_frames": 30, "raw_file": "raw/part_0.pkl"}


BASES = [_ntu, _coco, _k400, _memcached]
FIELDS = ["keypoint", "keypoint_score", "total_frames", "label", "frame_inds", "box_score", "img_shape",
          "frame_dir", "raw_file", "original_shape"]

DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_,
                          np.complex64, "U3", "S2", "M8[s]"])
SMALL_ARRAYS = hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-(10 ** 20), 10 ** 20), st.floats(), st.text(max_size=6),
    st.binary(max_size=6), st.lists(st.integers(-3, 3), max_size=4), st.tuples(st.integers(-5, 5), st.integers()),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), SMALL_ARRAYS,
    st.sampled_from([np.int64(2), np.float32(np.nan), np.bool_(True), np.empty((2, 2), object), np.int8(-1),
                     set(), frozenset([1]), complex(1, 1), (1080, 1920), [0, 1]]),
)


@st.composite
def mutated_sample(draw) -> dict:
    sample = draw(st.sampled_from(BASES))()
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["poison", "reshape", "retype", "replace", "frames", "label", "delete"]))
        key = draw(st.sampled_from(FIELDS))
        if op == "delete":
            sample.pop(key, None)
        elif op == "replace":
            sample[key] = draw(JUNK)
        elif op == "reshape":
            shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6))
            field = draw(st.sampled_from(["keypoint", "keypoint_score", "frame_inds"]))
            sample[field] = np.zeros(shape, np.float32)
        elif op == "poison" and isinstance(sample.get("keypoint"), np.ndarray) and sample["keypoint"].size:
            kp = sample["keypoint"].astype(np.float32)
            kp.flat[draw(st.integers(0, kp.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            sample["keypoint"] = kp
        elif op == "retype" and isinstance(sample.get(key), np.ndarray):
            try:
                sample[key] = sample[key].astype(draw(DTYPES))
            except (TypeError, ValueError):
                pass
        elif op == "frames":
            sample["total_frames"] = draw(st.one_of(st.integers(-3, 12), JUNK))
        elif op == "label":
            sample["label"] = draw(st.one_of(st.integers(-3, 70), JUNK))
    return sample


@st.composite
def annotation_file(draw) -> tuple:
    sample = st.one_of(mutated_sample(), mutated_sample(), st.sampled_from(BASES).map(lambda f: f()), JUNK)
    samples = draw(st.lists(sample, min_size=0, max_size=3))
    names = [s.get("frame_dir") for s in samples if isinstance(s, dict) and isinstance(s.get("frame_dir"), str)]
    split = draw(st.one_of(st.just({"train": names}), st.just({"train": names + ["ghost"]}), JUNK,
                           st.dictionaries(st.text(max_size=3), st.lists(st.text(max_size=3), max_size=2),
                                           max_size=2)))
    top = draw(st.sampled_from(["dict", "list", "no_split", "dict", "junk"]))
    obj = {"dict": {"split": split, "annotations": samples}, "list": samples,
           "no_split": {"annotations": samples}, "junk": draw(JUNK)}[top]
    return obj, draw(st.sampled_from([None, "train", "val"])), draw(st.sampled_from([None, 4, 60]))


def _assert_really_valid(obj, split, num_classes) -> None:
    """Independent check of what the validator promises, for inputs it accepted."""
    anns = obj["annotations"] if isinstance(obj, dict) else obj
    assert isinstance(anns, (list, tuple))
    for a in anns:
        assert isinstance(a, dict) and isinstance(a.get("filename", a.get("frame_dir")), str)
        label, frames = a["label"], a["total_frames"]
        # -1 is PYSKL's unlabelled marker, which the validator accepts (the trainer refuses it later)
        assert isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_))
        assert label >= -1
        assert num_classes is None or label < num_classes
        assert isinstance(frames, (int, np.integer)) and not isinstance(frames, (bool, np.bool_)) and frames >= 1
        if "keypoint" not in a:
            assert isinstance(a["raw_file"], str)
            continue
        kp = a["keypoint"]
        assert isinstance(kp, np.ndarray) and kp.dtype.kind in "iuf" and np.isfinite(kp).all()
        score = a.get("keypoint_score")
        if score is not None:
            assert isinstance(score, np.ndarray) and score.dtype.kind in "iuf" and np.isfinite(score).all()
        if "frame_inds" in a and kp.ndim == 3:
            inds = a["frame_inds"]
            assert kp.shape[0] >= 1 and kp.shape[2] in (2, 3) and inds.shape == (kp.shape[0],)
            assert inds.dtype.kind in "iu" and 0 <= inds.min() and inds.max() < frames
        else:
            assert kp.ndim == 4 and kp.shape[0] >= 1 and kp.shape[1] == frames and kp.shape[3] in (2, 3)
            assert kp.shape[3] == 3 or score is not None
            assert score is None or score.shape == kp.shape[:3]
    if split is not None:
        assert isinstance(obj, dict) and split in obj["split"]
    if isinstance(obj, dict) and "split" in obj:
        known = {a.get("filename", a.get("frame_dir")) for a in anns}
        assert isinstance(obj["split"], dict)
        assert all(isinstance(v, (list, tuple)) and set(v) <= known for v in obj["split"].values())


def _load_or_reject(data: bytes, split, num_classes):
    try:
        return loads_annotations(data, SOURCE, split=split, num_classes=num_classes)
    except AnnotationError as err:
        assert str(err).startswith(SOURCE), str(err)
        return None


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_sample(), st.sampled_from([None, 4, 60]))
def test_malformed_sample_fields_end_in_annotation_error(sample, num_classes):
    names = [sample["frame_dir"]] if isinstance(sample.get("frame_dir"), str) else []
    obj = {"split": {"train": names}, "annotations": [sample]}
    loaded = _load_or_reject(pickle.dumps(obj, protocol=4), "train", num_classes)
    if loaded is not None:
        _assert_really_valid(loaded, "train", num_classes)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(annotation_file(), st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_malformed_annotations_end_in_annotation_error(case, protocol):
    obj, split, num_classes = case
    loaded = _load_or_reject(pickle.dumps(obj, protocol=protocol), split, num_classes)
    if loaded is not None:
        _assert_really_valid(loaded, split, num_classes)


@st.composite
def corrupted_bytes(draw) -> bytes:
    obj = {"split": {"train": ["S001C001P001R001A001"]}, "annotations": [_ntu(), _coco(), _k400()]}
    data = bytearray(pickle.dumps(obj, protocol=draw(st.integers(0, pickle.HIGHEST_PROTOCOL))))
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "random"]))
    if kind == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return bytes(data[:at]) + draw(st.binary(min_size=1, max_size=16)) + bytes(data[at:])
    return draw(st.binary(min_size=0, max_size=200))


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(corrupted_bytes())
def test_corrupted_bytes_end_in_annotation_error(data):
    loaded = _load_or_reject(data, None, None)
    if loaded is not None:
        _assert_really_valid(loaded, None, None)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\x80\x05", b"N.", b"I1\n.", b"\x80\x04\x95\xff\xff\xff\xff"])
def test_tiny_pickles(data):
    assert _load_or_reject(data, None, None) is None
