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
    (tmp_path / "hagrid.pth").write_bytes(b"")
    assert find_gesture_checkpoint() == "stgcnpp_hagrid"  # the zoo entry, never ./hagrid.pth
    with pytest.raises(FileNotFoundError, match=r"x\.pth \(--checkpoint\) not found"):
        find_gesture_checkpoint(tmp_path / "x.pth")
    (tmp_path / "mine.pth").write_bytes(b"")
    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path / "mine.pth"))
    assert find_gesture_checkpoint() == str(tmp_path / "mine.pth")
    assert find_gesture_checkpoint(tmp_path / "hagrid.pth") == str(tmp_path / "hagrid.pth")
    assert find_gesture_checkpoint("http://127.0.0.1:9/h.pth") == "http://127.0.0.1:9/h.pth"


def test_gesture_checkpoint_comes_from_the_zoo(tmp_path, monkeypatch, capsys):
    """No --checkpoint: PYSKL's hagrid.pth from the zoo mirror, strictly checked, cached; offline: the URL
    and the cache path."""
    import io

    import torch

    from pyskl.apis.gesture import GESTURE_CONFIG, GESTURE_ZOO_NAME
    from pyskl.apis.inference import init_recognizer
    from pyskl.checkpoint import load_checkpoint
    from pyskl.cli import main
    from pyskl.zoo import zoo_cache_path
    from tests.checkpoint_server import CheckpointServer

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    monkeypatch.setenv("PYSKL_HOME", str(tmp_path / "home"))
    reference = init_recognizer(GESTURE_CONFIG)
    buf = io.BytesIO()
    torch.save(reference.state_dict(), buf)
    with CheckpointServer() as server:
        monkeypatch.setenv("PYSKL_ZOO_URL", server.url)
        spec = find_gesture_checkpoint()
        model = init_recognizer(GESTURE_CONFIG)
        server.files[f"/{GESTURE_ZOO_NAME}.pth"] = buf.getvalue()
        load_checkpoint(model, spec)
        key = "cls_head.fc_cls.weight"
        assert torch.equal(model.state_dict()[key], reference.state_dict()[key])
        assert zoo_cache_path(GESTURE_ZOO_NAME).is_file()
        zoo_cache_path(GESTURE_ZOO_NAME).unlink()
        server.httpd.server_close()
        assert main(["gesture", "--video", "v.mp4", "--headless"]) == 2
    out = capsys.readouterr().err
    assert f"error: cannot download {server.url}/{GESTURE_ZOO_NAME}.pth" in out
    assert f"place it at {zoo_cache_path(GESTURE_ZOO_NAME)}" in out


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
    assert "end to end: 4 frames in" in printed and "fps (decoding, hands, recognition" in printed
    doc = json.loads(out.with_suffix(".json").read_text())
    validate_timeline(doc)
    assert doc["frames"] == 4 and len(doc["classes"]) == 40 and doc["width"] == 1920


@pytest.mark.slow
def test_gesture_headless_full_video(tmp_path, capsys):
    from pyskl.viz import read_video_frames

    out = _run_cli(tmp_path, [])
    printed = capsys.readouterr().out
    assert "end to end: 72 frames in" in printed
    frames = read_video_frames(out)
    assert len(frames) == 72 and frames[0].shape == (1080, 1920, 3)
    doc = json.loads(out.with_suffix(".json").read_text())
    validate_timeline(doc)
    # hands are small here: they are found in crops around the pose wrists, and the model labels them
    assert doc["frames"] == 72 and doc["segments"]
    assert out.with_suffix(".csv").exists()
