"""``pyskl demo`` with real models: the default zoo model, class names from the config's dataset, random
weights only when asked (and then said in the video, the timeline and the console)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from pyskl.apis.demo import DEMO_MODELS, class_names_for, run_demo
from pyskl.label_maps import class_names, label_map_for_config, load_label_map
from pyskl.viz import read_video_frames
from pyskl.zoo import DownloadError, zoo_cache_path
from tests.checkpoint_server import CheckpointServer
from tests.conftest import ROOT, require_shared
from tests.test_demo_video import _synthetic_clip

STGCNPP = DEMO_MODELS["stgcnpp"]


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """A local zoo mirror serving randomly initialised weights of the ST-GCN++ demo model."""
    from pyskl.apis import init_recognizer

    monkeypatch.setenv("PYSKL_HOME", str(tmp_path / "home"))
    with CheckpointServer() as server:
        monkeypatch.setenv("PYSKL_ZOO_URL", server.url)
        torch.manual_seed(0)
        buf = io.BytesIO()
        torch.save({"state_dict": init_recognizer(STGCNPP).state_dict()}, buf)
        server.files[f"/{STGCNPP}.pth"] = buf.getvalue()
        yield server


def test_label_map_inferred_from_the_configs_dataset():
    from pyskl.config import load_config

    expected = {
        "posec3d/slowonly_r50_ntu120_xsub/joint.py": "nturgbd_120",
        "stgcn/stgcn_pyskl_ntu60_xsub_3dkp/j.py": "nturgbd_60",
        "posec3d/slowonly_r50_346_k400/joint.py": "kinetics400",
        "posec3d/slowonly_r50_gym/limb.py": "gym99",
        "posec3d/slowonly_r50_diving48/joint.py": "diving48",
        "posec3d/slowonly_r50_ucf101_k400p/s1_joint.py": "ucf101",
        "gesture/stgcnpp_hagrid.py": "hagrid",
        "quickstart/stgcnpp_synthetic.py": None,
    }
    for config, label_map in expected.items():
        assert label_map_for_config(load_config(ROOT / "configs" / config)) == label_map, config
    # a class count the dataset's map does not have: no names are guessed
    cfg = load_config(ROOT / "configs/posec3d/slowonly_r50_ntu120_xsub/joint.py")
    cfg["model"]["cls_head"]["num_classes"] = 7
    assert label_map_for_config(cfg) is None
    assert class_names(7, config=cfg) == [str(i) for i in range(7)]
    ntu120 = load_config(ROOT / "configs/posec3d/slowonly_r50_ntu120_xsub/joint.py")
    assert class_names(120, config=ntu120) == load_label_map("ntu120")


def test_demo_with_zoo_model_names_its_classes_and_caches(tmp_path, zoo):
    from pyskl.pose.replay import ReplayBackend

    video, ann = _synthetic_clip(tmp_path, frames=10)
    result = run_demo(video, tmp_path / "demo.mp4", STGCNPP, STGCNPP, window=8, stride=8,
                      backend=ReplayBackend(ann), progress=False)
    doc = json.loads(result.timeline.read_text())
    assert doc["classes"] == load_label_map("nturgbd_120") and doc["random_weights"] is False
    assert doc["checkpoint"] == STGCNPP and not result.random_weights
    assert all(s["label_name"] == doc["classes"][s["label"]] for s in doc["segments"]) and doc["segments"]
    assert zoo_cache_path(STGCNPP).is_file() and len(zoo.requests) == 1
    # random weights only when asked: the timeline and the video say so
    rnd = run_demo(video, tmp_path / "rnd.mp4", STGCNPP, "none", window=8, stride=8,
                   backend=ReplayBackend(ann), progress=False)
    assert rnd.random_weights and json.loads(rnd.timeline.read_text())["random_weights"] is True
    assert len(zoo.requests) == 1
    real, random = read_video_frames(result.video), read_video_frames(rnd.video)
    band = (slice(250, 262), slice(20, 300))  # the warning, bottom left
    assert np.abs(random[3][band].astype(int) - real[3][band]).mean() > 10
    with pytest.raises(ValueError, match="label map hmdb51 has 51 names but the model has 120 classes"):
        run_demo(video, None, STGCNPP, STGCNPP, label_map="hmdb51", backend=ReplayBackend(ann),
                 progress=False, timeline=tmp_path / "t.json")


def _cli(*argv):
    from pyskl.cli import main

    return main(["demo", *map(str, argv), "--no-progress"])


def test_demo_cli_default_model_and_checkpoint_choice(tmp_path, monkeypatch, capsys):
    import pyskl.apis.demo as demo_api

    seen = []

    class Stop(Exception):
        pass

    def fake_run_demo(video, out, config, checkpoint, **kwargs):
        seen.append((config, checkpoint))
        raise Stop

    monkeypatch.setattr(demo_api, "run_demo", fake_run_demo)
    zoo_config = ROOT / "configs/stgcn++/stgcn++_ntu60_xsub_hrnet/j.py"
    for argv, expected in [((), (DEMO_MODELS["posec3d"], DEMO_MODELS["posec3d"])),
                           (("--model", "stgcnpp"), (STGCNPP, STGCNPP)),
                           (("--config", zoo_config), (str(zoo_config), "stgcnpp_ntu60_xsub_hrnet_j")),
                           (("--config", "c.py", "--checkpoint", "w.pth"), ("c.py", "w.pth"))]:
        with pytest.raises(Stop):
            _cli("in.mp4", "out.mp4", *argv)
        assert seen[-1] == expected
    assert _cli("in.mp4", "out.mp4", "--config", "my_config.py") == 2
    out = capsys.readouterr().err
    assert "error: my_config.py is not a zoo config: pass its weights with --checkpoint" in out
    with pytest.raises(Stop):
        _cli("in.mp4", "out.mp4", "--config", "c.py", "--checkpoint", "none")
    assert "warning: --checkpoint none: the model has random weights" in capsys.readouterr().err


def test_demo_cli_refuses_a_corrupted_download_and_explains_offline(tmp_path, zoo, capsys):
    video, _ = _synthetic_clip(tmp_path, frames=8)
    zoo.files[f"/{STGCNPP}.pth"] = zoo.files[f"/{STGCNPP}.pth"][:5000]
    assert _cli(video, tmp_path / "o.mp4", "--model", "stgcnpp") == 2
    out = capsys.readouterr().err
    assert out.startswith(f"error: {zoo.url}/{STGCNPP}.pth: the downloaded file was refused and not kept")
    assert not zoo_cache_path(STGCNPP).exists()
    zoo.httpd.server_close()
    assert _cli(video, tmp_path / "o.mp4", "--model", "stgcnpp") == 2
    out = capsys.readouterr().err
    assert f"cannot download {zoo.url}/{STGCNPP}.pth" in out
    assert f"place it at {zoo_cache_path(STGCNPP)}" in out


@pytest.mark.slow
def test_default_demo_on_the_ntu_sample_downloads_once(tmp_path, monkeypatch, capsys):
    """``pyskl demo VIDEO OUT.mp4`` with nothing else: PYSKL's PoseC3D NTU-120 model from a local mirror."""
    pytest.importorskip("mediapipe")
    from pyskl.apis import init_recognizer

    video = require_shared("samples", "ntu_sample.avi")
    name = DEMO_MODELS["posec3d"]
    monkeypatch.setenv("PYSKL_HOME", str(tmp_path / "home"))
    with CheckpointServer() as server:
        monkeypatch.setenv("PYSKL_ZOO_URL", server.url)
        buf = io.BytesIO()
        torch.save({"state_dict": init_recognizer(name).state_dict()}, buf)
        server.files[f"/{name}.pth"] = buf.getvalue()
        assert _cli(video, tmp_path / "a.mp4", "--max-frames", "48") == 0
        assert _cli(video, tmp_path / "b.mp4", "--max-frames", "48") == 0
        assert len(server.requests) == 1  # the second run used the cache
    out = capsys.readouterr().out
    assert f"model {name}, weights {name}" in out and "end to end: 48 frames in" in out
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["classes"] == load_label_map("nturgbd_120") and doc["random_weights"] is False


def test_vis_confusion_names_classes_from_the_config(tmp_path, monkeypatch, capsys):
    import pyskl.viz as viz
    from pyskl.cli import main
    from pyskl.engine.test import save_results

    rng = np.random.default_rng(0)
    names = [f"s{i}" for i in range(6)]
    res = save_results(tmp_path / "r.json", rng.random((6, 60)), rng.integers(0, 60, 6), names)
    seen = {}

    def capture(results, out, names, normalize):
        seen.update(names=names)

    monkeypatch.setattr(viz, "plot_confusion_matrix", capture)
    cfg = ROOT / "configs/stgcn/stgcn_pyskl_ntu60_xsub_3dkp/j.py"
    assert main(["vis", "confusion", str(res), str(tmp_path / "c.png"), "--config", str(cfg)]) == 0
    assert seen["names"] == load_label_map("ntu60")
    assert main(["vis", "confusion", str(res), str(tmp_path / "c.png"), "--label-map", "ntu120"]) == 2
    assert "error: label map ntu120 has 120 names but the model has 60 classes" in capsys.readouterr().err
