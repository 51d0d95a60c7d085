"""The quickstart configs build and run one sample end to end; ShuffleFrames is a proper control."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pyskl.config import load_config
from pyskl.datasets.pipelines import Compose

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs" / "quickstart").glob("stgcnpp_synthetic*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_quickstart_config_builds_and_runs_a_sample(path, tmp_path):
    from pyskl.datasets.synthetic import make_synthetic
    from pyskl.engine.runtime import read_runtime
    from pyskl.models import build_model

    cfg = load_config(path)
    assert read_runtime(cfg).warnings == []
    model = build_model(cfg["model"]).eval()
    sample = make_synthetic(num_classes=2, samples_per_class=1, seed=1)["annotations"][0]
    for split, clips in (("train", 1), ("test", 10)):
        ds_cfg = cfg["data"][split].get("dataset", cfg["data"][split])
        out = Compose(ds_cfg["pipeline"])(dict(sample, modality="Pose", start_index=0, test_mode=split == "test"))
        x = out["keypoint"]
        assert tuple(x.shape) == (clips, 2, 32, 25, 3)
        with torch.no_grad():
            scores = model.predict(x[None])
        assert scores.shape == (1, cfg["model"]["cls_head"]["num_classes"])
        assert torch.allclose(scores.sum(1), torch.ones(1))


def test_shuffle_frames_permutes_within_each_clip():
    from pyskl.datasets.pipelines.controls import ShuffleFrames

    inds = np.arange(30, dtype=np.int64)
    np.random.seed(0)
    out = ShuffleFrames()({"frame_inds": inds.copy(), "clip_len": 10, "num_clips": 3})["frame_inds"]
    assert out.dtype == inds.dtype and not np.array_equal(out, inds)
    for c in range(3):
        assert sorted(out[c * 10:(c + 1) * 10]) == list(range(c * 10, (c + 1) * 10))
    np.random.seed(0)
    again = ShuffleFrames()({"frame_inds": inds.copy(), "clip_len": 10, "num_clips": 3})["frame_inds"]
    assert np.array_equal(out, again)  # draws from the global numpy RNG, like PYSKL's random ops
    with pytest.raises(Exception, match="num_clips\\*clip_len"):
        ShuffleFrames()({"frame_inds": inds, "clip_len": 7, "num_clips": 3})
    assert repr(ShuffleFrames()) == "ShuffleFrames()"
