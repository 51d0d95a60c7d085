"""Video, GIF and PNG writing; rendering annotation samples; ``pyskl vis``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pyskl.viz import VideoWriter, read_video_frames, write_gif
from pyskl.viz.render import guess_layout, heatmap_volume, is_3d, render_annotation


def _frames(n=6, h=48, w=64):
    return [np.full((h, w, 3), 20 * i, np.uint8) for i in range(n)]


@pytest.mark.parametrize("codec", ["h264", "mp4v"])
def test_video_writer_round_trip(tmp_path, codec):
    path = tmp_path / "sub" / f"{codec}.mp4"
    with VideoWriter(path, fps=25, codec=codec) as writer:
        for f in _frames():
            writer.write(f)
    if codec == "h264":
        pytest.importorskip("av")
        assert writer.codec == "h264"
    frames = read_video_frames(path)
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert abs(int(frames[5].mean()) - 100) <= 8  # grey level survives compression (YUV range rounding)


@pytest.mark.parametrize("size", [(48, 64), (47, 63)])
def test_h264_keeps_colours_and_odd_sizes(tmp_path, size):
    """Saturated BGR colours come back as themselves (channel order, BT.601 video range) within H.264's
    rounding, on even and odd frame sizes (odd ones are padded by one edge row/column)."""
    pytest.importorskip("av")
    h, w = size
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (40, 120, 200)]
    frames = [np.broadcast_to(np.array(c, np.uint8), (h, w, 3)).copy() for c in colours]
    with VideoWriter(tmp_path / "c.mp4", fps=25, crf=10) as writer:
        for f in frames:
            writer.write(f)
    assert writer.codec == "h264"
    back = read_video_frames(tmp_path / "c.mp4")
    assert len(back) == len(frames) and back[0].shape[:2] == (h + h % 2, w + w % 2)
    for got, colour in zip(back, colours):
        mean = got[:h, :w].reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - np.array(colour)).max() <= 8, (colour, mean)


def test_video_writer_checks_frames(tmp_path):
    writer = VideoWriter(tmp_path / "x.mp4")
    writer.write(np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="frame 1 is"):
        writer.write(np.zeros((12, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        writer.write(np.zeros((10, 12, 3), np.float32))
    writer.close()
    with pytest.raises(ValueError, match="codec"):
        VideoWriter(tmp_path / "y.mp4", codec="vp9")


def test_gif(tmp_path):
    from PIL import Image

    path = write_gif(tmp_path / "a.gif", _frames(), fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 6 and im.size == (64, 48)
    with pytest.raises(ValueError, match="no frames"):
        write_gif(tmp_path / "b.gif", [])


def test_render_2d_and_3d_samples(tmp_path):
    from pyskl.datasets.synthetic import make_synthetic

    coco = make_synthetic("coco2d", num_classes=1, samples_per_class=1, frames=(10, 10))["annotations"][0]
    ntu = make_synthetic("ntu3d", num_classes=1, samples_per_class=1, frames=(10, 10))["annotations"][0]
    assert not is_3d(coco) and is_3d(ntu) and guess_layout(17) == "coco"
    frames = list(render_annotation(coco, size=(540, 960)))
    assert len(frames) == 10 and frames[0].shape == (540, 960, 3)
    assert frames[3][60:].any()  # something drawn below the title
    frames3 = list(render_annotation(ntu, rotate=10))
    assert len(frames3) == 10 and frames3[0].shape == (480, 480, 3)
    assert not np.array_equal(frames3[0], frames3[9])  # the view turns
    with pytest.raises(ValueError, match="no known layout"):
        guess_layout(19)
    vol = heatmap_volume(coco, size=32)
    assert vol.shape == (17, 10, 32, 32) and vol.max() > 0.5


def test_vis_cli_skeleton_heatmap(tmp_path, capsys):
    from pyskl.cli import main
    from pyskl.datasets.synthetic import write_synthetic

    ann = write_synthetic(
        tmp_path / "c.pkl", kind="coco2d", num_classes=1, samples_per_class=2, frames=(8, 8)
    )
    out = Path(os.environ.get("PYSKL_VIZ_DIR", tmp_path))
    assert (
        main(
            ["vis", "skeleton", str(ann), str(out / "vis_sample.png"), "--index", "1", "--size", "270", "480"]
        )
        == 0
    )
    import cv2

    png = cv2.imread(str(out / "vis_sample.png"))
    assert png.shape == (270, 480, 3) and png[40:, 120:360].any()  # skeleton scaled onto the small canvas
    assert main(["vis", "skeleton", str(ann), str(tmp_path / "s.mp4")]) == 0
    assert len(read_video_frames(tmp_path / "s.mp4")) == 8
    assert main(["vis", "heatmap", str(ann), str(tmp_path / "h.gif")]) == 0
    assert "(17, 8, 64, 64)" in capsys.readouterr().out
    assert main(["vis", "skeleton", str(ann), str(tmp_path / "s.avi")]) == 2
    assert main(["vis", "skeleton", str(ann), str(tmp_path / "s.png"), "--frame-dir", "nope"]) == 2
    assert "no sample with frame_dir" in capsys.readouterr().err
