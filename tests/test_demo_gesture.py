"""``pyskl gesture`` with PYSKL's hagrid.pth: headless run on the NTU sample writes video + timeline."""

from __future__ import annotations

import json

import pytest

from pyskl.apis import validate_timeline
from pyskl.apis.gesture import CHECKPOINT_ENV, find_gesture_checkpoint
from tests.conftest import require_shared


def test_find_gesture_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="--checkpoint"):
        find_gesture_checkpoint()
    with pytest.raises(FileNotFoundError, match="not found"):
        find_gesture_checkpoint(tmp_path / "x.pth")
    (tmp_path / "mine.pth").write_bytes(b"")
    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path / "mine.pth"))
    assert find_gesture_checkpoint() == tmp_path / "mine.pth"
    (tmp_path / "hagrid.pth").write_bytes(b"")
    assert find_gesture_checkpoint(tmp_path / "hagrid.pth") == tmp_path / "hagrid.pth"


def test_gesture_cli_reports_missing_checkpoint(tmp_path, monkeypatch, capsys):
    from pyskl.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    assert main(["gesture", "--video", "v.mp4", "--headless"]) == 2
    assert "no gesture checkpoint" in capsys.readouterr().out


def _run_cli(tmp_path, extra):
    pytest.importorskip("mediapipe")
    video = require_shared("samples", "ntu_sample.avi")
    ckpt = require_shared("checkpoints", "hagrid.pth")
    from pyskl.cli import main

    out = tmp_path / "gesture.mp4"
    assert (
        main(
            ["gesture", "--video", str(video), "--headless", "--checkpoint", str(ckpt), "--out", str(out)]
            + extra
        )
        == 0
    )
    return out


def test_gesture_headless_first_frames(tmp_path, capsys):
    out = _run_cli(tmp_path, ["--max-frames", "4"])
    printed = capsys.readouterr().out
    assert "4 frames at" in printed and "fps" in printed
    doc = json.loads(out.with_suffix(".json").read_text())
    validate_timeline(doc)
    assert doc["frames"] == 4 and len(doc["classes"]) == 40 and doc["width"] == 1920


@pytest.mark.slow
def test_gesture_headless_full_video(tmp_path, capsys):
    from pyskl.viz import read_video_frames

    out = _run_cli(tmp_path, [])
    printed = capsys.readouterr().out
    assert "72 frames at" in printed
    frames = read_video_frames(out)
    assert len(frames) == 72 and frames[0].shape == (1080, 1920, 3)
    doc = json.loads(out.with_suffix(".json").read_text())
    validate_timeline(doc)
    # hands are small here: they are found in crops around the pose wrists, and the model labels them
    assert doc["frames"] == 72 and doc["segments"]
    assert out.with_suffix(".csv").exists()
