"""Skeleton drawing, text, 3D projection and heatmap rendering: pixels where they should be.

Set PYSKL_VIZ_DIR=folder to keep the PNGs these tests write (to look at them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pyskl.viz import (
    blank_canvas,
    draw_skeleton,
    draw_text_block,
    heatmap_frames,
    project_3d,
    rotation_matrix,
    track_color,
    write_png,
)


def _png_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PYSKL_VIZ_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _coco_person(x0=100.0, y0=50.0, scale=1.0):
    # a standing COCO-17 person: head on top, feet at the bottom (pixels)
    pts = np.array(
        [
            [50, 10],
            [45, 5],
            [55, 5],
            [40, 8],
            [60, 8],
            [35, 40],
            [65, 40],
            [30, 70],
            [70, 70],
            [28, 100],
            [72, 100],
            [40, 110],
            [60, 110],
            [40, 160],
            [60, 160],
            [40, 210],
            [60, 210],
        ],
        np.float32,
    )
    return pts * scale + np.array([x0, y0], np.float32)


def test_skeleton_drawn_at_keypoints_and_limbs_only(tmp_path):
    img = blank_canvas(320, 400)
    a, b = _coco_person(40, 40), _coco_person(220, 40)
    score = np.full((2, 17), 0.9, np.float32)
    score[1, 16] = 0.1  # hidden joint: not drawn
    draw_skeleton(img, np.stack([a, b]), score, "coco", track_ids=[3, 7], with_ids=False)
    write_png(_png_dir(tmp_path) / "viz_skeleton_two_people.png", img)
    for x, y in a.astype(int):
        assert img[y, x].any(), (x, y)  # a joint dot is drawn at every visible keypoint
    # midpoint of the left-knee -> left-ankle limb carries the track colour
    mid = ((a[13] + a[15]) / 2).astype(int)
    np.testing.assert_allclose(img[mid[1], mid[0]], track_color(3), atol=40)  # anti-aliased edge
    hidden = b[16].astype(int)
    assert not img[hidden[1] + 3, hidden[0] + 3].any()  # nothing around the hidden ankle
    assert not img[5, 5].any() and not img[300, 390].any()  # background stays black


def test_skeleton_skips_zero_joints_and_checks_shapes():
    img = blank_canvas(100, 100)
    kp = np.zeros((17, 2), np.float32)
    kp[5], kp[7] = (20, 20), (80, 20)
    draw_skeleton(img, kp, None, "coco", with_ids=False)
    assert img[20, 50].any()  # the shoulder -> elbow limb
    assert not img[0, 0].any()  # joints at (0, 0) are "missing", never drawn
    with pytest.raises(ValueError, match="layout 'coco' has 17"):
        draw_skeleton(img, np.zeros((1, 25, 2)), None, "coco")
    with pytest.raises(ValueError, match="keypoint must be"):
        draw_skeleton(img, np.zeros(5), None, "coco")


def test_text_block_stays_inside_frame_and_avoids_others():
    img = blank_canvas(60, 80)
    box = draw_text_block(img, ["a long label that does not fit"], (70, 55), (0, 255, 0), anchor="bottom")
    assert img[..., 1].max() == 255
    assert box[0] == 0 and box[3] <= 60
    assert draw_text_block(img, [], (0, 0)) is None  # nothing to draw is fine
    big = blank_canvas(400, 400)
    first = draw_text_block(big, ["#0", "wave 0.9"], (100, 300), anchor="bottom")
    second = draw_text_block(big, ["#1", "clap 0.8"], (120, 300), anchor="bottom", avoid=[first])
    assert second[3] <= first[1]  # moved above the first box instead of covering it
    third = draw_text_block(big, ["#2"], (100, 5), avoid=[(0, 0, 400, 40)])
    assert third[1] >= 40  # no room above: moved below


def test_projection_front_and_side_views():
    kp = np.array([[[0, 0, 3], [1, 0, 3], [0, 2, 3], [0, 0, 0]]], np.float32)  # [M=1, V=4, 3], last missing
    front = project_3d(kp, (200, 200), azimuth=0)
    assert np.all(front[0, 3] == 0)  # missing joint stays at (0, 0)
    assert front[0, 1, 0] > front[0, 0, 0]  # x to the right
    assert front[0, 2, 1] < front[0, 0, 1]  # y up -> smaller row
    side = project_3d(kp, (200, 200), azimuth=90)
    assert side[0, 1, 0] == pytest.approx(side[0, 0, 0], abs=1e-3)  # x axis seen end-on
    np.testing.assert_allclose(rotation_matrix(30, 20) @ rotation_matrix(30, 20).T, np.eye(3), atol=1e-12)
    with pytest.raises(ValueError, match=r"\[\.\.\., V, 3\]"):
        project_3d(np.zeros((2, 2)))


def test_heatmap_frames_peak_where_the_heat_is(tmp_path):
    vol = np.zeros((17, 4, 32, 48), np.float32)
    vol[3, 2, 10, 40] = 1.0
    frames = heatmap_frames(vol, size=96)
    assert len(frames) == 4 and frames[0].shape == (64, 96, 3)
    hot = frames[2][20:22, 80:82]
    assert hot[..., 2].min() > 100 and hot[..., 0].max() < 50  # JET red at the peak
    np.testing.assert_array_equal(frames[2], heatmap_frames(vol.transpose(1, 2, 3, 0), "THWC", 96)[2])
    write_png(_png_dir(tmp_path) / "viz_heatmap.png", frames[2])
    with pytest.raises(ValueError, match="layout"):
        heatmap_frames(vol, "NCHW")
