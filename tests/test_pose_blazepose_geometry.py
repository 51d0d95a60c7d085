"""BlazePose's pure geometry, against hand-computed cases: SSD anchors, decoding, weighted NMS, rotated
ROIs and the warps in and out of them, heatmap refinement, and the assignment solver."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pyskl.pose._assignment import linear_assignment
from pyskl.pose._nms import weighted_nms
from pyskl.pose._roi import RotatedRect, alignment_rect, crop_matrix, from_crop, warp_crop
from pyskl.pose._ssd import decode_detections, ssd_anchors
from pyskl.pose.blazepose import refine_on_heatmap


def test_anchors_count_order_and_centres():
    anchors = ssd_anchors(224)
    assert anchors.shape == (28 * 28 * 2 + 14 * 14 * 2 + 7 * 7 * 6, 2) == (2254, 2)
    # stride 8: 28 cells, two anchors per cell, row by row
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[2 * 28], [0.5 / 28, 1.5 / 28])
    # stride 16 starts after 1568 anchors; the three stride-32 layers share a 7x7 map, 6 anchors per cell
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    tail = anchors[1568 + 392 :]
    np.testing.assert_allclose(tail[:6], np.full((6, 2), 0.5 / 7))
    np.testing.assert_allclose(tail[6], [1.5 / 7, 0.5 / 7])
    np.testing.assert_allclose(tail[-1], [6.5 / 7, 6.5 / 7])


def test_decode_box_keypoints_and_score_threshold():
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    raw = np.zeros((2, 12), np.float32)
    # anchor 0: centre moved by (+22.4, -11.2) px of 224, box 44.8 x 22.4 px, keypoint 0 at +(0, 44.8)
    raw[0, :4] = [22.4, -11.2, 44.8, 22.4]
    raw[0, 4:6] = [0.0, 44.8]
    logits = np.array([[np.log(0.9 / 0.1)], [np.log(0.3 / 0.7)]])  # scores 0.9 and 0.3
    boxes, kps, scores = decode_detections(raw, logits, anchors, 224, min_score=0.5)
    assert len(boxes) == 1
    np.testing.assert_allclose(scores, [0.9], rtol=1e-6)
    # centre (0.35, 0.45), size (0.2, 0.1)
    np.testing.assert_allclose(boxes[0], [0.25, 0.40, 0.45, 0.50], atol=1e-6)
    np.testing.assert_allclose(kps[0, 0], [0.25, 0.7], atol=1e-6)
    np.testing.assert_allclose(kps[0, 1:], np.tile([0.25, 0.5], (3, 1)), atol=1e-6)
    # clipping at +-100 keeps huge logits finite
    _, _, s = decode_detections(raw, np.array([1e6, -1e6]), anchors, 224, min_score=0.0)
    np.testing.assert_allclose(s, [1.0, 1.0 / (1.0 + np.exp(100.0))])


def test_weighted_nms_merges_overlaps_and_keeps_the_others():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 5, 10, 15]], np.float64)
    kps = boxes[:, None, :2] + np.zeros((4, 2, 2))
    scores = np.array([0.6, 0.9, 0.7, 0.5])
    out_b, out_k, out_s = weighted_nms(boxes, kps, scores, 0.3)
    # best (0.9, box 1) takes box 0 (IoU 90/110); box 3 overlaps box 1 by 45/155 < 0.3: stays on its own
    np.testing.assert_allclose(out_s, [0.9, 0.7, 0.5])
    w = np.array([0.9, 0.6]) / 1.5
    np.testing.assert_allclose(out_b[0], w @ boxes[[1, 0]])
    np.testing.assert_allclose(out_k[0], np.tensordot(w, kps[[1, 0]], axes=1))
    np.testing.assert_allclose(out_b[1:], boxes[[2, 3]])
    empty = weighted_nms(np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0))
    assert [a.shape for a in empty] == [(0, 4), (0, 4, 2), (0,)]


def test_alignment_rect_upright_and_rotated():
    # upright person: scale point 100 px above the hip centre -> 250 px square, no rotation
    r = alignment_rect(np.array([300.0, 400.0]), np.array([300.0, 300.0]), 1.25)
    assert (r.cx, r.cy, r.size) == (300.0, 400.0, 250.0) and r.angle == pytest.approx(0.0)
    np.testing.assert_allclose(r.box(), [175, 275, 425, 525])
    # lying person, head to the right: the crop's "up" points right (+90 degrees)
    r = alignment_rect(np.array([0.0, 0.0]), np.array([30.0, 40.0]), 1.0)
    assert r.size == pytest.approx(100.0)
    assert r.angle == pytest.approx(np.pi / 2 - np.arctan2(-40.0, 30.0))
    top_centre = r.corners()[:2].mean(axis=0)
    np.testing.assert_allclose(top_centre, [30.0, 40.0], atol=1e-9)  # half the side along the vector
    # angles are normalised into [-pi, pi)
    r = alignment_rect(np.array([0.0, 0.0]), np.array([-1.0, 1.0]), 1.0)
    assert -np.pi <= r.angle < np.pi and r.angle == pytest.approx(-3 * np.pi / 4)


def test_crop_matrix_inverts_from_crop():
    rect = RotatedRect(120.0, 80.0, 64.0, 0.7)
    crop_pts = np.array([[0.0, 0.0], [256.0, 0.0], [128.0, 128.0], [10.0, 200.0]])
    image_pts = from_crop(rect, crop_pts, 256)
    np.testing.assert_allclose(image_pts[2], [120.0, 80.0])  # the crop's centre is the rect's
    m = crop_matrix(rect, 256)
    back = image_pts @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(back, crop_pts, atol=1e-9)
    # corners are 64 px apart in the image
    np.testing.assert_allclose(np.linalg.norm(image_pts[1] - image_pts[0]), 64.0)


def test_warp_crop_places_a_marked_pixel():
    image = np.zeros((100, 200, 3), np.uint8)
    image[30, 150] = 255  # 20 px right of and 20 px above the centre (130, 50)
    # rotated by 90 degrees: the crop's up is the image's right, so the mark is up and to the left
    rect = RotatedRect(130.0, 50.0, 80.0, np.pi / 2)
    crop = warp_crop(image, rect, 80, border_zero=True)
    y, x = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
    u, v = np.array([x, y], np.float64)
    np.testing.assert_allclose(from_crop(rect, np.array([u, v]), 80), [150, 30], atol=1.0)
    assert (u, v) == (20, 20)


def test_refine_on_heatmap_moves_to_the_weighted_peak():
    heatmap = np.full((64, 64, 2), -20.0, np.float32)
    heatmap[10, 20, 0] = heatmap[10, 22, 0] = 20.0  # two equal peaks: refined to the cell between them
    xy = np.array([[21.0 / 64, 10.0 / 64], [0.5, 0.5]])
    out = refine_on_heatmap(xy, heatmap)
    np.testing.assert_allclose(out[0], [21.0 / 64, 10.0 / 64], atol=1e-6)
    np.testing.assert_allclose(out[1], xy[1])  # landmark 1: no confident cell, kept
    heatmap[12, 24, 0] = 20.0  # a third peak at (24, 12) within the 7x7 window: the mean moves
    out = refine_on_heatmap(np.array([[21.0 / 64, 10.0 / 64]]), heatmap[..., :1])
    np.testing.assert_allclose(out[0], [(20 + 22 + 24) / 3 / 64, (10 + 10 + 12) / 3 / 64], atol=1e-6)
    assert (refine_on_heatmap(np.array([[1.5, 0.5]]), heatmap[..., :1]) == [[1.5, 0.5]]).all()


def test_linear_assignment_is_optimal_against_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(100):
        r, c = (int(n) for n in rng.integers(1, 6, 2))
        cost = rng.uniform(0, 10, (r, c))
        if trial % 3 == 0:
            cost = np.round(cost)  # ties
        rows, cols = linear_assignment(cost)
        k = min(r, c)
        best = min(
            sum(cost[i, j] for i, j in zip(rs, cs))
            for rs in itertools.combinations(range(r), k)
            for cs in itertools.permutations(range(c), k)
        )
        assert len(rows) == k and len(set(cols.tolist())) == k and list(rows) == sorted(rows)
        assert cost[rows, cols].sum() == pytest.approx(best)
    assert [a.tolist() for a in linear_assignment(np.zeros((0, 3)))] == [[], []]
    # greedy would take (0, 0) = 1 and then pay 10; the optimum pays 2 + 2
    assert [a.tolist() for a in linear_assignment(np.array([[1.0, 2.0], [2.0, 10.0]]))] == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match="finite"):
        linear_assignment(np.array([[np.inf]]))
