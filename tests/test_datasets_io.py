"""Restricted unpickling of annotation files, and atomic saving."""
from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from pyskl.datasets import AnnotationError, load_annotations, loads_annotations, save_annotations
from pyskl.datasets.io import AnnotationFileNotFoundError


def _sample(name: str = "S001C001P001R001A001", label: int = 0, frames: int = 5) -> dict:
    return {"frame_dir": name, "label": label, "total_frames": frames,
            "keypoint": np.arange(2 * frames * 25 * 3, dtype=np.float16).reshape(2, frames, 25, 3) / 100}


def _marker_payload(marker: str, func_module: str = "os", func: str = "system") -> bytes:
    """A pickle whose loading would run ``os.system('touch marker')`` (or another callable)."""

    class Evil:
        def __reduce__(self):
            import builtins
            import os as os_module
            import subprocess

            targets = {"os.system": os_module.system, "builtins.eval": builtins.eval,
                       "subprocess.Popen": subprocess.Popen, "builtins.exec": builtins.exec}
            target = targets[f"{func_module}.{func}"]
            if func == "system":
                return target, (f"touch {marker}",)
            if func == "Popen":
                return target, (["touch", marker],)
            return target, (f"open({marker!r}, 'w').close()",)

    return pickle.dumps({"split": {}, "annotations": [Evil()]}, protocol=2)


@pytest.mark.parametrize("target", ["os.system", "builtins.eval", "builtins.exec", "subprocess.Popen"])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, target):
    marker = tmp_path / "pwned"
    module, name = target.split(".")
    path = tmp_path / "evil.pkl"
    path.write_bytes(_marker_payload(str(marker), module, name))
    with pytest.raises(AnnotationError) as info:
        load_annotations(path)
    message = str(info.value)
    assert str(path) in message
    # os.system pickles as posix.system on Linux
    assert f"'{target}'" in message or (target == "os.system" and "'posix.system'" in message)
    assert "refused" in message
    assert not marker.exists()


def test_reduce_with_allowed_container_but_forbidden_callable_is_refused(tmp_path):
    # A hand-written protocol-0 pickle: GLOBAL 'os system' then REDUCE.
    payload = b"cos\nsystem\n(S'touch " + str(tmp_path / "m").encode() + b"'\ntR."
    with pytest.raises(AnnotationError, match="refused to load global 'os.system'"):
        loads_annotations(payload, "hand.pkl")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_round_trips_numpy_and_builtins(protocol):
    data = {"split": {"xsub_train": ["a"], "xsub_val": ["b"]},
            "annotations": [dict(_sample("a"), extra=(1, 2.5, None, True, "s", b"x", {1, 2}, frozenset([3]),
                                                      complex(1, 2), slice(1, 3), collections.OrderedDict(k=1),
                                                      np.float32(1.5), np.int64(7), np.dtype("f4"),
                                                      np.arange(6).reshape(2, 3).T, np.bool_(True),
                                                      collections.defaultdict(list, a=[1]), b"")),
                            dict(_sample("b", label=np.int64(1)))]}
    loaded = loads_annotations(pickle.dumps(data, protocol=protocol), "p.pkl")
    assert loaded["split"] == data["split"]
    for got, want in zip(loaded["annotations"], data["annotations"]):
        assert got["keypoint"].dtype == np.float16
        np.testing.assert_array_equal(got["keypoint"], want["keypoint"])
    extra = loaded["annotations"][0]["extra"]
    assert extra[:11] == data["annotations"][0]["extra"][:11]
    np.testing.assert_array_equal(extra[14], np.arange(6).reshape(2, 3).T)
    assert extra[13] == np.dtype("f4") and type(extra[12]) is np.int64
    assert extra[16] == {"a": [1]} and extra[16].default_factory is list and extra[17] == b""


def test_numpy1_module_names_load():
    # numpy 1.x pickles name numpy.core.multiarray; numpy 2.x names numpy._core.multiarray.
    data = pickle.dumps([_sample()], protocol=2)
    other = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") if b"numpy._core" in data \
        else data.replace(b"numpy.core.multiarray", b"numpy._core.multiarray")
    assert other != data
    loaded = loads_annotations(other, "np1.pkl")
    np.testing.assert_array_equal(loaded[0]["keypoint"], _sample()["keypoint"])


@pytest.mark.parametrize("module, name", [
    ("builtins", "getattr"), ("builtins", "__import__"), ("builtins", "range"), ("builtins", "str"),
    ("copyreg", "_reconstructor"), ("posix", "system"), ("nt", "system"), ("numpy", "load"),
    ("numpy", "frompyfunc"), ("numpy._core.multiarray", "array"), ("numpy.core.multiarray", "_vec_string"),
    ("numpy.dtypes", "StringDType.__init__"), ("torch", "load"), ("pyskl.datasets.io", "save_annotations"),
])
def test_other_globals_are_refused(module, name):
    with pytest.raises(AnnotationError, match=f"refused to load global '{module}.{name}'"):
        loads_annotations(f"c{module}\n{name}\n.".encode(), "g.pkl")


def test_memmapped_arrays_load_as_plain_arrays(tmp_path):
    np.save(tmp_path / "kp.npy", _sample()["keypoint"])
    mapped = np.load(tmp_path / "kp.npy", mmap_mode="r")
    data = pickle.dumps([dict(_sample(), keypoint=mapped)], protocol=2)
    assert b"memmap" in data
    loaded = loads_annotations(data, "mm.pkl")
    assert type(loaded[0]["keypoint"]) is np.ndarray
    np.testing.assert_array_equal(loaded[0]["keypoint"], mapped)


def test_only_latin1_codecs_encode_is_allowed():
    payload = b"c_codecs\nencode\n(Vabc\nVrot13\ntR."
    with pytest.raises(AnnotationError, match="latin1"):
        loads_annotations(payload, "codec.pkl", validate=False)


@pytest.mark.parametrize("cut", [0, 1, 10, 100, -1])
def test_truncated_bytes_name_the_file(tmp_path, cut):
    data = pickle.dumps({"split": {}, "annotations": [_sample()]})
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[:cut] if cut >= 0 else data[:-1])
    with pytest.raises(AnnotationError, match="cut.pkl"):
        load_annotations(path)


def test_random_bytes_and_text_files(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(20):
        path = tmp_path / f"junk{i}.pkl"
        path.write_bytes(rng.integers(0, 256, size=int(rng.integers(1, 300)), dtype=np.uint8).tobytes())
        with pytest.raises(AnnotationError, match=f"junk{i}.pkl"):
            load_annotations(path)
    text = tmp_path / "config.py"
    text.write_text("model = dict(type='STGCN')\n")
    with pytest.raises(AnnotationError, match="config.py"):
        load_annotations(text)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(AnnotationFileNotFoundError, match="nope.pkl"):
        load_annotations(tmp_path / "nope.pkl")
    with pytest.raises(FileNotFoundError):
        load_annotations(tmp_path / "nope.pkl")
    with pytest.raises(AnnotationError, match="directory"):
        load_annotations(tmp_path)


def test_validation_can_be_skipped(tmp_path):
    bad = [dict(_sample(), label=-2)]
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(bad))
    with pytest.raises(AnnotationError, match="label"):
        load_annotations(path)
    assert load_annotations(path, validate=False)[0]["label"] == -2


def test_save_is_atomic_and_round_trips(tmp_path):
    data = {"split": {"train": ["a"]}, "annotations": [_sample("a")]}
    path = save_annotations(data, tmp_path / "sub" / "ann.pkl")
    assert path.exists() and os.listdir(path.parent) == ["ann.pkl"]
    loaded = load_annotations(path, split="train")
    np.testing.assert_array_equal(loaded["annotations"][0]["keypoint"], data["annotations"][0]["keypoint"])

    # A sample that cannot be pickled must leave the old file untouched and no temp file behind.
    broken = {"split": {}, "annotations": [dict(_sample("a"), bad=lambda: None)]}
    with pytest.raises(Exception):
        save_annotations(broken, path, validate=False)
    assert os.listdir(path.parent) == ["ann.pkl"]
    assert load_annotations(path)["split"] == {"train": ["a"]}

    # Invalid annotations are not written when validating.
    with pytest.raises(AnnotationError, match="label"):
        save_annotations([dict(_sample("z"), label="x")], tmp_path / "never.pkl")
    assert not (tmp_path / "never.pkl").exists()
