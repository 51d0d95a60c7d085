"""``pyskl data check``: summary figures and every problem listed by sample."""

from __future__ import annotations

import json
import pickle

import numpy as np

from pyskl.cli import main
from pyskl.commands.data_check import check_annotations
from pyskl.datasets.packed import write_packed


def _anns():
    rng = np.random.default_rng(0)
    anns = []
    for i in range(6):
        m, t = 1 + i % 2, 10 + i
        anns.append(
            {
                "frame_dir": f"s{i}",
                "label": i % 3,
                "total_frames": t,
                "keypoint": rng.normal(size=(m, t, 25, 3)).astype(np.float16),
            }
        )
    anns.append(
        {
            "frame_dir": "c0",
            "label": 1,
            "total_frames": 8,
            "img_shape": (360, 640),
            "keypoint": rng.random((4, 17, 3)).astype(np.float16),
            "frame_inds": np.array([0, 0, 3, 7]),
        }
    )
    return anns


def test_report_figures():
    anns = _anns()
    report = check_annotations({"train": ["s0", "s1"]}, anns, "x.pkl")
    assert report["num_samples"] == 7 and report["num_problems"] == 0
    assert report["layouts"] == {"V=25 (nturgb+d)": 6, "V=17 (coco)": 1}
    assert report["kinds"]["3D, C=3, float16"] == 6
    assert report["kinds"]["2D, C=3, compressed (K400-style), float16"] == 1
    assert report["persons"] == {"1": 3, "2": 3}
    assert report["frames"] == {"min": 8, "median": 12.0, "mean": 11.9, "max": 15, "total": 83}
    assert report["label_histogram"] == {"0": 2, "1": 3, "2": 2}
    assert report["splits"] == {"train": 2}


def test_every_problem_listed_by_sample(tmp_path, capsys):
    anns = _anns()
    anns[1]["keypoint"] = anns[1]["keypoint"][0]  # wrong ndim
    anns[3]["label"] = -2
    anns[4]["keypoint"][0, 0, 0, 0] = np.nan
    path = tmp_path / "bad.pkl"
    with open(path, "wb") as f:
        pickle.dump({"split": {"train": ["s0", "nope"]}, "annotations": anns}, f)
    assert main(["data", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert "7 samples" in captured.out and "problems" not in captured.out  # the summary on stdout
    err = captured.err  # the problems on stderr, every one
    assert "problems: 4" in err
    assert "'s1' (index 1): keypoint has shape" in err
    assert "'s3' (index 3): label is -2" in err
    assert "'s4' (index 4): keypoint has 1 non-finite" in err
    assert "split 'train' names 1 frame_dir(s) not in annotations" in err
    assert not any(line.startswith("error:") for line in err.splitlines())  # the file was read: status 1


def test_cli_on_packed_and_json(tmp_path, capsys):
    anns = _anns()[:6]
    out = write_packed({"split": {"xsub_train": ["s0", "s2"]}, "annotations": anns}, tmp_path / "p")
    assert main(["data", "check", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_samples"] == 6 and report["splits"] == {"xsub_train": 2}
    assert main(["data", "check", str(out), "--label-map", "ntu60"]) == 0
    text = capsys.readouterr().out
    assert "0 drink water: 2" in text and "problems: none" in text
    assert main(["data", "check", str(tmp_path / "missing.pkl")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and "not found" in captured.err
    # --json: a script still gets a report naming the error; the error line goes to stderr as always
    assert main(["data", "check", str(tmp_path / "missing.pkl"), "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["num_problems"] == 1 and "not found" in report["problems"][0]
    assert captured.err.startswith("error: ") and "not found" in captured.err


def test_annotations_that_are_not_a_list_are_one_problem():
    for samples, found in [({"s0": {}}, "'annotations' is a dict"), (None, "no 'annotations' list")]:
        report = check_annotations(None, samples, "x.pkl")
        assert report["num_problems"] == 1
        assert report["problems"] == [f"x.pkl: {found}; expected a list of samples (dicts)"]
