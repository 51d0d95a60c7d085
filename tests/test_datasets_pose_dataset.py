"""PoseDataset, RepeatDataset/ConcatDataset and build_dataset: PYSKL's dataset semantics."""
from __future__ import annotations

import copy
import json
import pickle
import sys
import types

import numpy as np
import pytest

from conftest import require_shared
from pyskl.datasets import (AnnotationError, ConcatDataset, PoseDataset, RepeatDataset, build_dataset,
                            save_annotations)
from pyskl.registry import DATASETS


def _sample(name: str, label: int, frames: int = 4, **extra) -> dict:
    kp = np.full((1, frames, 25, 3), label + 1, np.float16)
    return dict({"frame_dir": name, "label": label, "total_frames": frames, "keypoint": kp}, **extra)


@pytest.fixture
def ann_file(tmp_path):
    names = ["c", "a", "e", "b", "d"]
    samples = [_sample(n, i) for i, n in enumerate(names)]
    # split lists are in a different order from the annotations: the annotation order must win
    split = {"train": ["b", "c", "a"], "val": ["e", "d"]}
    return save_annotations({"split": split, "annotations": samples}, tmp_path / "ann.pkl")


def test_split_filtering_keeps_annotation_order(ann_file):
    train = PoseDataset(ann_file, [], split="train")
    assert [x["frame_dir"] for x in train.video_infos] == ["c", "a", "b"]
    assert train.labels.tolist() == [0, 1, 3] and train.labels.dtype == np.int64
    assert len(train) == 3 and train.num_classes == 4
    everything = PoseDataset(ann_file, [])
    assert [x["frame_dir"] for x in everything.video_infos] == ["c", "a", "e", "b", "d"]
    assert PoseDataset(ann_file, [], split="val", num_classes=60).num_classes == 60


def test_getitem_injects_keys_and_runs_pipeline(ann_file):
    seen = []

    def record(results):
        seen.append(list(results))
        return dict(results, touched=True)

    ds = PoseDataset(ann_file, [record], split="val", test_mode=True)
    out = ds[1]
    assert seen[0] == ["frame_dir", "label", "total_frames", "keypoint", "modality", "start_index", "test_mode"]
    assert out["modality"] == "Pose" and out["start_index"] == 0 and out["test_mode"] is True and out["touched"]
    assert out["frame_dir"] == "d"


def test_data_prefix_is_joined(ann_file):
    ds = PoseDataset(ann_file, [], split="train", data_prefix="data/ntu")
    assert ds[0]["frame_dir"] == "data/ntu/c"
    assert PoseDataset(ann_file, [], split="train", data_prefix="")[0]["frame_dir"] == "c"


def test_deepcopy_isolation(ann_file):
    def vandal(results):
        results["keypoint"] *= 0
        results["keypoint"][0, 0, 0, 0] = 99
        results["label"] = -5
        results["new"] = 1
        return results

    ds = PoseDataset(ann_file, [vandal], split="train")
    before = copy.deepcopy(ds.video_infos)
    ds[0]
    ds[0]
    for got, want in zip(ds.video_infos, before):
        assert got.keys() == want.keys()
        np.testing.assert_array_equal(got["keypoint"], want["keypoint"])
        assert got["label"] == want["label"]


def test_op_dicts_go_through_compose(ann_file):
    ops = [dict(type="UniformSampleFrames", clip_len=2, num_clips=1), dict(type="PoseDecode")]
    ds = PoseDataset(ann_file, ops, split="train", test_mode=True)
    out = ds[0]
    assert out["keypoint"].shape == (1, 2, 25, 3) and out["keypoint"].dtype == np.float32


def test_errors_name_file_and_split(ann_file, tmp_path):
    with pytest.raises(AnnotationError, match="split 'xsub_train' not found; available splits: train, val"):
        PoseDataset(ann_file, [], split="xsub_train")
    for bad in (0.55, "x", [0.5], True):
        with pytest.raises(ValueError, match="box_thr"):
            PoseDataset(ann_file, [], box_thr=bad)
    assert PoseDataset(ann_file, [], box_thr="0.6").box_thr == 0.6  # PYSKL's older string thresholds
    with pytest.raises(TypeError, match="valid_ratio"):
        PoseDataset(ann_file, [], valid_ratio="0.5")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps([_sample("x", -2)]))
    with pytest.raises(AnnotationError, match="bad.pkl: sample 'x' \\(index 0\\): label"):
        PoseDataset(bad, [])
    assert len(PoseDataset(bad, [], validate=False)) == 1


def test_valid_ratio_and_box_thr(tmp_path):
    def k400(name, valid, total=10):
        return {"frame_dir": name, "label": 0, "total_frames": total,
                "keypoint": np.ones((4, 17, 3), np.float16), "frame_inds": np.array([0, 1, 2, 3]),
                "box_score": np.array([0.9, 0.4, 0.6, 0.55], np.float32), "valid": {0.5: valid, 0.6: 1}}

    path = save_annotations({"split": {"train": ["a", "b"]}, "annotations": [k400("a", 8), k400("b", 2)]},
                            tmp_path / "k400.pkl")
    # valid_ratio 0.0 (what K400 configs use): nothing filtered, no anno_inds, valid/box_score popped
    ds = PoseDataset(path, [], split="train", valid_ratio=0.0, box_thr=0.5)
    assert len(ds) == 2 and all(set(x) == {"frame_dir", "label", "total_frames", "keypoint", "frame_inds"}
                                for x in ds.video_infos)
    ds = PoseDataset(path, [], split="train", valid_ratio=0.5, box_thr=0.5)
    assert [x["frame_dir"] for x in ds.video_infos] == ["a"]
    np.testing.assert_array_equal(ds.video_infos[0]["anno_inds"], [True, False, True, True])
    assert "valid" not in ds[0] and "box_score" not in ds[0]
    ds = PoseDataset(path, [], valid_ratio=0.05, box_thr=0.6)
    assert len(ds) == 2
    np.testing.assert_array_equal(ds.video_infos[1]["anno_inds"], [True, False, True, False])


def test_memcached_fetches_by_frame_dir(tmp_path):
    samples = [{"frame_dir": "k1", "label": 1, "total_frames": 3, "raw_file": str(tmp_path / "raw.pkl")},
               {"frame_dir": "k2", "label": 0, "total_frames": 3, "raw_file": str(tmp_path / "raw.pkl")}]
    path = save_annotations({"split": {"val": ["k1", "k2"]}, "annotations": samples}, tmp_path / "mc.pkl")
    raw = {"k1": {"keypoint": np.ones((3, 17, 3), np.float16), "frame_inds": np.arange(3)},
           "k2": {"keypoint": np.zeros((3, 17, 3), np.float16), "frame_inds": np.arange(3)}}
    save_annotations(raw, tmp_path / "raw.pkl", validate=False)

    class FakeClient:
        def __init__(self):
            self.store = {}

        def get(self, key):
            return self.store.get(key)

        def set(self, key, value):
            self.store[key] = value

    ds = PoseDataset(path, [], split="val", memcached=True, mc_cfg=["localhost", 22077])
    assert ds.mc_cfg == ("localhost", 22077) and ds.video_infos[0]["key"] == "k1"
    ds.cli = FakeClient()
    out = ds[0]
    assert "key" not in out and out["keypoint"].shape == (3, 17, 3) and out["keypoint"].max() == 1
    assert set(ds.cli.store) == {"k1", "k2"}  # the whole raw file is cached on the first miss
    assert ds[1]["keypoint"].max() == 0


def test_multi_class_labels_become_one_hot(tmp_path):
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps([dict(_sample("a", 0), label=[0, 2])]))
    with pytest.raises(AnnotationError, match="label"):
        PoseDataset(path, [])  # lists are labels only for multi_class
    ds = PoseDataset(path, [], multi_class=True, num_classes=4)
    assert ds[0]["label"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_packed_directory_is_opened_lazily(ann_file, monkeypatch):
    from pyskl.datasets import load_annotations

    data = load_annotations(ann_file)
    calls = []

    class Lazy:
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            calls.append(i)
            return copy.deepcopy(self.items[i])

    fake = types.ModuleType("pyskl.datasets.packed")
    fake.open_packed = lambda path: (data["split"], Lazy(data["annotations"]))
    monkeypatch.setitem(sys.modules, "pyskl.datasets.packed", fake)
    ds = PoseDataset(ann_file.parent, [], split="train", data_prefix="p")
    assert len(ds) == 3
    calls.clear()
    assert ds[2]["frame_dir"] == "p/b" and calls == [3]


def test_repeat_concat_and_build_dataset(ann_file):
    cfg = dict(type="RepeatDataset", times=3,
               dataset=dict(type="PoseDataset", ann_file=str(ann_file), split="train", pipeline=[]))
    ds = build_dataset(cfg)
    assert isinstance(ds, RepeatDataset) and len(ds) == 9
    assert [ds[i]["frame_dir"] for i in range(9)] == ["c", "a", "b"] * 3
    assert ds[-1]["frame_dir"] == "b" and ds.labels.tolist() == [0, 1, 3] * 3
    with pytest.raises(IndexError):
        ds[9]
    assert ds.dataset.test_mode is False

    test = build_dataset(cfg["dataset"] | {"split": "val"}, dict(test_mode=True))
    assert test.test_mode is True and test[0]["test_mode"] is True
    wrapped = build_dataset(cfg, dict(test_mode=True))  # defaults reach the wrapped dataset
    assert wrapped.dataset.test_mode is True
    explicit = build_dataset(dict(cfg["dataset"], test_mode=False), dict(test_mode=True))
    assert explicit.test_mode is False  # the config wins over defaults

    # ConcatDataset: PYSKL's offset bug (idx - cumsum[i]) is fixed
    both = build_dataset(dict(type="ConcatDataset", datasets=[cfg["dataset"], dict(cfg["dataset"], split="val")]))
    assert isinstance(both, ConcatDataset) and len(both) == 5
    assert [both[i]["frame_dir"] for i in range(5)] == ["c", "a", "b", "e", "d"]
    assert "PoseDataset" in DATASETS and "RepeatDataset" in DATASETS
    with pytest.raises(KeyError, match="PoseDataset"):
        build_dataset(dict(type="PoseDatset", ann_file=str(ann_file), pipeline=[]))


# ----------------------------------------------------------------------------------------- PYSKL oracle
def _oracle_cases():
    folder = require_shared("oracle", "pipelines", "public", "pipelines")
    return sorted(folder.glob("*.json"))


def test_dataset_matches_pyskl_video_infos(tmp_path):
    """video_infos and the injected keys equal PYSKL's PoseDataset for every public pipeline case."""
    from oracle import blobs, decode_results

    samples_dir = require_shared("oracle", "pipelines", "public", "samples")
    for case_path in _oracle_cases():
        case = json.loads(case_path.read_text())
        family = json.loads((samples_dir / f"{case['family']}.json").read_text())
        npz = blobs(str(samples_dir))
        annotations = [decode_results(s, npz) for s in family["samples"]]
        cfg = copy.deepcopy(case["dataset_cfg"])
        inner = cfg["dataset"] if cfg["type"] == "RepeatDataset" else cfg
        names = [a["frame_dir"] for a in annotations]
        path = save_annotations({"split": {inner["split"]: names}, "annotations": annotations},
                                tmp_path / f"{case['family']}.pkl")
        inner.update(ann_file=str(path), pipeline=[])
        dataset = build_dataset(cfg, dict(test_mode=case["test_mode"]))  # as PYSKL's train/test scripts do
        base = dataset.dataset if isinstance(dataset, RepeatDataset) else dataset
        assert base.test_mode is case["test_mode"]
        for sample in case["samples"]:
            want = decode_results(sample["input"], blobs(str(case_path.parent)))
            got = base.video_infos[sample["index"]]
            assert list(got) == list(want), case_path.name
            for key, value in want.items():
                if isinstance(value, np.ndarray):
                    assert got[key].dtype == value.dtype and np.array_equal(got[key], value), (case_path.name, key)
                else:
                    assert got[key] == value and type(got[key]) is type(value), (case_path.name, key)
            out = dataset[sample["index"]]
            assert list(out)[-3:] == ["modality", "start_index", "test_mode"]
            assert (out["modality"], out["start_index"], out["test_mode"]) == ("Pose", 0, case["test_mode"])
