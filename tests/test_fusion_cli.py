"""``pyskl fuse``: results files in, report and fused results out; bad inputs give clear errors."""

import json
import pickle

import numpy as np

from pyskl.cli import main
from pyskl.engine.test import load_results, save_results

LABELS = np.array([0, 1, 2, 0])
NAMES = ["s0", "s1", "s2", "s3"]
J = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.4, 0.5, 0.1], [0.35, 0.45, 0.2]], np.float32)
B = np.array([[0.3, 0.4, 0.3], [0.45, 0.35, 0.2], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]], np.float32)


def _write(tmp_path, name, scores, labels=LABELS, names=NAMES):
    return str(save_results(tmp_path / name, scores, labels, names, {}, "prob"))


def test_fuse_two_streams_writes_report_and_results(tmp_path, capsys):
    j, b = _write(tmp_path, "j.pkl", J), _write(tmp_path, "b.json", B)
    out, rep = tmp_path / "fused.pkl", tmp_path / "report.json"
    assert main(["fuse", j, b, "--out", str(out), "--report", str(rep)]) == 0
    text = capsys.readouterr().out
    assert "| fused | 1:1 | 100.00 |" in text and "| j | 1 | 50.00 |" in text
    fused = load_results(out)
    np.testing.assert_allclose(fused["scores"], (J + B) / 2, atol=1e-7)
    assert fused["frame_dir"] == NAMES and fused["labels"].tolist() == LABELS.tolist()
    report = json.loads(rep.read_text())
    assert report["fused"]["top1_acc"] == 1.0 and report["streams"]["b"]["top1_acc"] == 0.5


def test_fuse_refuses_misordered_files(tmp_path, capsys):
    order = [1, 0, 2, 3]
    j = _write(tmp_path, "j.pkl", J)
    b = _write(tmp_path, "b.pkl", B[order], LABELS[order], [NAMES[i] for i in order])
    assert main(["fuse", j, b]) == 2
    err = capsys.readouterr().err
    assert "sample order differs: sample 0 is 's0' in j but 's1' in b" in err


def test_fuse_refuses_a_non_results_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    assert main(["fuse", _write(tmp_path, "j.pkl", J), str(bad)]) == 2
    assert "not a results file" in capsys.readouterr().err


def test_search_on_val_then_apply_to_test(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n, k = 60, 4
    labels = rng.integers(0, k, n)
    names = [f"v{i}" for i in range(n)]

    def streams(seed):
        r = np.random.default_rng(seed)
        good = r.random((n, k)).astype(np.float32)
        good[np.arange(n), labels] += 0.7
        return (r.random((n, k)) * 3).astype(np.float32), good

    vn, vg = streams(2)
    tn, tg = streams(3)
    val = [
        _write(tmp_path, "val_noise.pkl", vn, labels, names),
        _write(tmp_path, "val_good.pkl", vg, labels, names),
    ]
    test = [_write(tmp_path, "noise.pkl", tn, labels, names), _write(tmp_path, "good.pkl", tg, labels, names)]
    rep = tmp_path / "r.json"
    assert main(["fuse", *test, "--search", "--val", *val, "--report", str(rep)]) == 0
    report = json.loads(rep.read_text())
    assert report["weights"]["noise"] == 0 and report["weights"]["good"] > 0
    assert report["fused"]["top1_acc"] == report["streams"]["good"]["top1_acc"]
    assert "searched weights on validation: 0 " in capsys.readouterr().out
    assert main(["fuse", *test, "--search"]) == 2  # no --val


def test_pyskl_list_results_take_labels_from_the_annotation_file(tmp_path, capsys):
    anns = {
        "split": {"val": NAMES},
        "annotations": [
            {
                "frame_dir": n,
                "label": int(lab),
                "total_frames": 1,
                "keypoint": np.zeros((1, 1, 17, 2), np.float32),
            }
            for n, lab in zip(NAMES, LABELS)
        ]
        + [
            {
                "frame_dir": "other",
                "label": 1,
                "total_frames": 1,
                "keypoint": np.zeros((1, 1, 17, 2), np.float32),
            }
        ],
    }
    ann = tmp_path / "ann.pkl"
    ann.write_bytes(pickle.dumps(anns))
    paths = []
    for name, scores in (("j", J), ("b", B)):
        p = tmp_path / f"{name}_pyskl.pkl"
        p.write_bytes(pickle.dumps([row for row in scores]))  # PYSKL's --out: a list of arrays
        paths.append(str(p))
    assert main(["fuse", *paths]) == 2
    assert "has no labels" in capsys.readouterr().err
    assert main(["fuse", *paths, "--ann-file", str(ann), "--split", "val"]) == 0
    assert "| fused | 1:1 | 100.00 |" in capsys.readouterr().out
