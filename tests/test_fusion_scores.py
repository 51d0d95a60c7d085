"""Late fusion on synthetic results with known answers; misaligned result sets are refused."""

import numpy as np
import pytest

from pyskl.core.fusion import (
    FusionError,
    StreamScores,
    check_aligned,
    default_weights,
    format_report,
    fuse_scores,
    fusion_report,
    search_weights,
    stream_metrics,
)

LABELS = np.array([0, 1, 2, 0])
NAMES = ["s0", "s1", "s2", "s3"]
# joint stream right on samples 0, 1 (confidently), wrong on 2, 3 (narrowly)
J = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.4, 0.5, 0.1], [0.35, 0.45, 0.2]], np.float32)
# bone stream right on samples 2, 3 (confidently), wrong on 0, 1 (narrowly)
B = np.array([[0.3, 0.4, 0.3], [0.45, 0.35, 0.2], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]], np.float32)


def test_default_weights_follow_pyskl():
    assert default_weights(4) == [2, 2, 1, 1]
    assert default_weights(6) == [1] * 6  # ProtoGCN's six streams: equal (its own weights are unpublished)
    assert default_weights(2) == [1, 1]
    assert default_weights(3) == [1, 1, 1]
    with pytest.raises(FusionError):
        default_weights(0)


def test_fuse_scores_is_the_normalised_weighted_sum():
    fused = fuse_scores([J, B], [3, 1])
    np.testing.assert_allclose(fused, (3 * J + B) / 4, rtol=0, atol=1e-7)
    np.testing.assert_allclose(fuse_scores([J, B]), (J + B) / 2, atol=1e-7)  # default 1:1
    four = fuse_scores([J, B, J, B])  # 2:2:1:1
    np.testing.assert_allclose(four, (2 * J + 2 * B + J + B) / 6, atol=1e-7)


def test_known_answer_fusion_beats_each_stream():
    report = fusion_report([StreamScores("j", J, LABELS, NAMES), StreamScores("b", B, LABELS, NAMES)])
    assert report["streams"]["j"]["top1_acc"] == 0.5
    assert report["streams"]["b"]["top1_acc"] == 0.5
    assert report["fused"]["top1_acc"] == 1.0
    assert report["fused"]["mean_class_accuracy"] == 1.0
    assert report["fused"]["top3_acc"] == 1.0  # k capped at the class count
    assert report["weights"] == {"j": 1.0, "b": 1.0}
    table = format_report(report)
    assert "| fused | 1:1 | 100.00 |" in table and "| j | 1 | 50.00 |" in table


def test_weights_change_the_answer():
    # j weighted 10:1 decides every sample: right on 0, 1, wrong on 2, 3
    fused = fuse_scores([J, B], [10, 1])
    assert stream_metrics(fused, LABELS)["top1_acc"] == 0.5
    with pytest.raises(FusionError, match="2 weights for 3 streams|weights for"):
        fuse_scores([J, B, J], [1, 1])
    with pytest.raises(FusionError, match="non-negative"):
        fuse_scores([J, B], [1, -1])


def test_misordered_samples_are_refused_naming_the_first():
    order = [1, 0, 2, 3]
    with pytest.raises(FusionError, match=r"sample 0 is 's0' in j but 's1' in b.*other order"):
        check_aligned(
            [
                StreamScores("j", J, LABELS, NAMES),
                StreamScores("b", B[order], LABELS[order], [NAMES[i] for i in order]),
            ]
        )


def test_mismatched_labels_counts_and_classes_are_refused():
    with pytest.raises(FusionError, match=r"labels differ: sample 2 \('s2'\) has label 2 in j but 1 in b"):
        check_aligned([StreamScores("j", J, LABELS, NAMES), StreamScores("b", B, [0, 1, 1, 0], NAMES)])
    with pytest.raises(FusionError, match="b has 3 samples but j has 4"):
        check_aligned([StreamScores("j", J, LABELS), StreamScores("b", B[:3], LABELS[:3])])
    with pytest.raises(FusionError, match="b has 2 classes but j has 3"):
        check_aligned([StreamScores("j", J, LABELS), StreamScores("b", B[:, :2], LABELS)])
    with pytest.raises(FusionError, match="4 score rows but 3 labels"):
        StreamScores("j", J, LABELS[:3])
    with pytest.raises(FusionError, match="other frame_dir|sample order"):
        check_aligned([StreamScores("j", J, LABELS, NAMES), StreamScores("b", B, LABELS, ["x"] + NAMES[1:])])


def test_search_drops_a_useless_stream():
    rng = np.random.default_rng(0)
    n, k = 200, 5
    labels = rng.integers(0, k, n)
    good = rng.random((n, k)).astype(np.float32)
    good[np.arange(n), labels] += 1.0  # always right
    noise = rng.random((n, k)).astype(np.float32) * 3  # uninformative, large
    weights, metrics = search_weights([noise, good], labels)
    assert weights[0] == 0 and weights[1] > 0
    assert metrics["top1_acc"] == 1.0
    assert stream_metrics(fuse_scores([noise, good], weights), labels)["top1_acc"] == 1.0


def test_search_ties_keep_pyskl_proportions():
    weights, _ = search_weights([J, J, J, J], LABELS)  # every weighting is equal: keep 2:2:1:1
    w = np.asarray(weights) / sum(weights)
    np.testing.assert_allclose(w, np.array([2, 2, 1, 1]) / 6)
