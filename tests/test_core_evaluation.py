"""Metrics against PYSKL's recorded values (oracle metrics.json/npz) and small hand cases."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import require_shared
from pyskl.core import evaluation as ev


@pytest.fixture(scope="module")
def golden():
    folder = require_shared("oracle", "pipelines", "public")
    return json.loads((folder / "metrics.json").read_text()), np.load(folder / "metrics.npz")


def test_top_k_accuracy_golden(golden):
    meta, z = golden
    case = meta["top_k_accuracy"]
    got = ev.top_k_accuracy(list(z["scores"]), list(z["labels"]), case["topk"])
    np.testing.assert_allclose(got, case["value"], atol=1e-12)


def test_top_k_accuracy_ties_golden(golden):
    meta, z = golden
    case = meta["top_k_accuracy_ties"]
    got = ev.top_k_accuracy(z["tie_scores"], z["labels"], case["topk"])
    np.testing.assert_allclose(got, case["value"], atol=1e-12)


def test_mean_class_accuracy_golden(golden):
    meta, z = golden
    want = meta["mean_class_accuracy"]["value"]
    assert ev.mean_class_accuracy(z["scores"], z["labels"]) == pytest.approx(want, abs=1e-12)
    quirk = meta["mean_class_accuracy_quirk"]["value"]
    assert ev.mean_class_accuracy(z["mca_quirk_scores"], z["mca_quirk_labels"]) == pytest.approx(quirk, abs=1e-12)
    ties = meta["mean_class_accuracy_ties"]["value"]
    assert ev.mean_class_accuracy(z["tie_scores"], z["labels"]) == pytest.approx(ties, abs=1e-12)


def test_confusion_matrix_golden(golden):
    _, z = golden
    pred = z["scores"].argmax(1)
    np.testing.assert_array_equal(ev.confusion_matrix(pred, z["labels"]), z["confusion_matrix_pred_vs_labels"])
    for norm in ("true", "pred", "all"):
        np.testing.assert_allclose(ev.confusion_matrix(pred, z["labels"], norm), z[f"confusion_matrix_{norm}"],
                                   atol=1e-12)


def test_mean_average_precision_golden(golden):
    meta, z = golden
    got = ev.mean_average_precision(z["map_scores"], z["map_labels"])
    assert got == pytest.approx(meta["mean_average_precision"]["value"], abs=1e-10)
    p, r, t = ev.binary_precision_recall_curve(z["map_scores"][:, 0], z["map_labels"][:, 0])
    np.testing.assert_allclose(p, z["bprc_class0_precision"], atol=1e-12)
    np.testing.assert_allclose(r, z["bprc_class0_recall"], atol=1e-12)
    np.testing.assert_array_equal(t, z["bprc_class0_thresholds"])


def test_evaluate_keys_golden(golden):
    meta, z = golden
    got = ev.evaluate(z["scores"], z["labels"], ["top_k_accuracy", "mean_class_accuracy"])
    want = meta["BaseDataset.evaluate"]["value"]
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-12)


def test_average_clip_golden(golden):
    _, z = golden
    np.testing.assert_allclose(ev.average_clip(z["clip_scores"], "prob"), z["average_clip_prob"], atol=1e-6)
    np.testing.assert_allclose(ev.average_clip(z["clip_scores"], "score"), z["average_clip_score"], atol=1e-6)
    clips = z["clip_scores"]
    assert ev.average_clip(clips, None) is clips


def test_hand_cases():
    scores = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = [1, 0, 1, 2]
    assert ev.top_k_accuracy(scores, labels, (1, 2, 3)) == [0.5, 0.75, 1.0]
    # classes 0,1,2: acc 1/1, 1/2, 0/1 -> mean 0.5
    assert ev.mean_class_accuracy(scores, labels) == pytest.approx(0.5)
    # predicted-only class 3 counts as 0 (PYSKL quirk)
    s2 = np.eye(4)[[0, 3]]
    assert ev.mean_class_accuracy(s2, [0, 1]) == pytest.approx(1 / 3)


def test_errors():
    with pytest.raises(ValueError, match="labels"):
        ev.top_k_accuracy(np.zeros((3, 4)), [0, 1], 1)
    with pytest.raises(KeyError, match="not supported"):
        ev.evaluate(np.zeros((2, 3)), [0, 1], ["bogus"])
    with pytest.raises(ValueError, match="normalize"):
        ev.confusion_matrix([0], [0], "rows")
