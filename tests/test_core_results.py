"""The results file (``pyskl.core.results``): our format, PYSKL's list, MMAction2 1.x's tensor dicts,
and a restricted reader that refuses everything else by name."""

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pyskl.cli import main
from pyskl.core.results import ResultsError, load_results, save_results

SCORES = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]], np.float32)
LABELS = np.array([0, 1, 2, 1])


def _mmaction2_file(path: Path, scores=SCORES, labels=LABELS) -> Path:
    # what MMAction2 1.x's tools/test.py --dump writes: data samples as dicts of CPU tensors and metainfo
    samples = [{"pred_score": torch.from_numpy(s.copy()), "gt_label": torch.tensor([int(y)]),
                "pred_label": torch.tensor([int(s.argmax())]), "num_classes": 3, "img_shape": (1080, 1920)}
               for s, y in zip(scores, labels)]
    path.write_bytes(pickle.dumps(samples, protocol=4))
    return path


@pytest.mark.parametrize("suffix", [".pkl", ".json"])
def test_our_format_round_trips(tmp_path, suffix):
    path = save_results(tmp_path / f"r{suffix}", SCORES, LABELS, ["a", "b", "c", "d"], {"top1_acc": 0.75})
    rec = load_results(path)
    np.testing.assert_array_equal(rec["scores"], SCORES)
    assert rec["labels"].tolist() == LABELS.tolist() and rec["frame_dir"] == ["a", "b", "c", "d"]
    assert rec["metrics"] == {"top1_acc": 0.75} and rec["format"] == "pyskl"


def test_mmaction2_results_load_as_scores_and_labels(tmp_path):
    rec = load_results(_mmaction2_file(tmp_path / "mma.pkl"))
    assert rec["format"] == "mmaction2"
    np.testing.assert_array_equal(rec["scores"], SCORES)
    assert rec["labels"].tolist() == LABELS.tolist() and rec["frame_dir"] is None


def test_fuse_reads_mmaction2_results_next_to_ours(tmp_path, capsys):
    ours = save_results(tmp_path / "j.pkl", SCORES, LABELS, ["a", "b", "c", "d"])
    theirs = _mmaction2_file(tmp_path / "b.pkl")
    assert main(["fuse", str(ours), str(theirs)]) == 0
    assert "| fused | 1:1 | 75.00 |" in capsys.readouterr().out


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload", [
    [_Evil()],
    [{"pred_score": torch.nn.Parameter(torch.ones(3)), "gt_label": torch.tensor([0])}],  # a Parameter, not a tensor
])
def test_only_tensors_and_arrays_are_rebuilt(tmp_path, payload):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(ResultsError, match=r"evil\.pkl: refused to load '(posix|torch\._utils)\.\w+'"):
        load_results(path)


def test_storage_bytes_are_read_by_the_weights_only_loader(tmp_path):
    # torch.storage._load_from_bytes would torch.load(weights_only=False) its argument; ours does not
    buf = io.BytesIO()
    torch.save(_Evil(), buf)
    payload = _BytesCall(buf.getvalue())
    path = tmp_path / "evil_storage.pkl"
    path.write_bytes(pickle.dumps([payload], protocol=4))
    with pytest.raises(ResultsError, match="evil_storage.pkl: not a readable results pickle"):
        load_results(path)


class _BytesCall:
    def __init__(self, data):
        self.data = data

    def __reduce__(self):
        import torch.storage

        return (torch.storage._load_from_bytes, (self.data,))


def test_an_annotation_file_is_not_called_an_annotation_pickle(tmp_path):
    path = tmp_path / "ann.pkl"
    path.write_bytes(pickle.dumps({"split": {"x": ["a"]}, "annotations": [{"frame_dir": "a", "label": 0}]}))
    with pytest.raises(ResultsError) as info:
        load_results(path)
    text = str(info.value)
    assert "ann.pkl: not a results file" in text and "an annotation file, not test results" in text
    assert "annotation pickle" not in text


@pytest.mark.parametrize("content, expected", [
    (b"", "empty or truncated"),
    (b"\x80\x04garbage", "not a readable results pickle"),
])
def test_corrupt_results_name_the_file(tmp_path, content, expected):
    path = tmp_path / "bad.pkl"
    path.write_bytes(content)
    with pytest.raises(ResultsError, match=f"bad.pkl: .*{expected}"):
        load_results(path)


def test_our_and_pyskl_formats_and_pyskl_fuse_never_import_torch(tmp_path):
    ours = save_results(tmp_path / "r.pkl", SCORES, LABELS, ["a", "b", "c", "d"])
    pyskl_list = tmp_path / "list.pkl"
    pyskl_list.write_bytes(pickle.dumps([row for row in SCORES], protocol=2))
    code = ("import sys; from pyskl.core.results import load_results; from pyskl.cli import main; "
            f"[load_results(p) for p in {[str(ours), str(pyskl_list)]!r}]; "
            f"assert main(['fuse', {str(ours)!r}, {str(ours)!r}, '--out', {str(tmp_path / 'f.json')!r}]) == 0; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
