from pathlib import Path

import pytest

from pyskl.config import ConfigError, apply_overrides, load_config

CONFIG = """
model = dict(type='RecognizerGCN', backbone=dict(type='STGCN', graph_cfg=dict(layout='coco', mode='spatial')),
             cls_head=dict(type='GCNHead', num_classes=60, in_channels=256))
left_kp = [1, 3, 5]
clip_len = 2 * 50
work_dir = f'./work_dirs/{model["backbone"]["type"].lower()}'
train_pipeline = [dict(type='UniformSample', clip_len=clip_len), dict(type='Flip', left_kp=left_kp)]
data = dict(videos_per_gpu=16, train=dict(type='RepeatDataset', times=5, dataset=dict(pipeline=train_pipeline)))
squares = [i * i for i in range(4) if i]
_private = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.py"
    path.write_text(text)
    return path


def test_load_pyskl_style_config(tmp_path):
    cfg = load_config(write(tmp_path, CONFIG))
    assert cfg["model"]["backbone"]["graph_cfg"] == {"layout": "coco", "mode": "spatial"}
    assert cfg["data"]["train"]["dataset"]["pipeline"][0] == {"type": "UniformSample", "clip_len": 100}
    assert cfg["work_dir"] == "./work_dirs/stgcn"
    assert cfg["squares"] == [1, 4, 9]
    assert "_private" not in cfg


def test_overrides_literal_and_nested(tmp_path):
    cfg = load_config(write(tmp_path, CONFIG), ["model.cls_head.num_classes=120", "data.videos_per_gpu=8",
                                                 "data.train.dataset.pipeline.0.clip_len=64",
                                                 "work_dir=/tmp/x"])
    assert cfg["model"]["cls_head"]["num_classes"] == 120
    assert cfg["data"]["train"]["dataset"]["pipeline"][0]["clip_len"] == 64
    assert cfg["work_dir"] == "/tmp/x"


def test_override_of_a_substituted_variable_names_the_keys_that_take_effect(tmp_path):
    # left_kp was copied into the Flip of data.train when the file was read: changing it alone does nothing
    with pytest.raises(ConfigError, match=r"left_kp: .* data\.train\.dataset\.pipeline\.1\.left_kp=\.\.\.$"):
        load_config(write(tmp_path, CONFIG), ["left_kp=(1, 2)"])


@pytest.mark.parametrize("override, fragment", [
    ("model.cls_head.num_clases=1", "num_clases"),
    ("model.neck.x=1", "model.neck"),
    ("nonexistent=1", "nonexistent"),
    ("data.train.dataset.pipeline.7.clip_len=1", "pipeline.7"),
    ("novalue", "key.path=value"),
])
def test_unknown_override_paths_are_named(tmp_path, override, fragment):
    cfg = load_config(write(tmp_path, CONFIG))
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        apply_overrides(cfg, [override])


@pytest.mark.parametrize("source", [
    "import os\nx = 1",
    "x = __import__('os').system('echo hacked')",
    "x = open('/etc/passwd').read()",
    "def f():\n    pass",
    "x = (1).__class__",
])
def test_config_cannot_run_code(tmp_path, source):
    with pytest.raises(ConfigError, match="not allowed"):
        load_config(write(tmp_path, source))


def test_missing_file_and_syntax_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.py")
    with pytest.raises(ConfigError, match=":1: syntax error"):
        load_config(write(tmp_path, "x = ("))
