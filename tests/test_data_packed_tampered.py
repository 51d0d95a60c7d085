"""Packed directories from untrusted hands: nothing outside them is read, bad indexes are refused by entry."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pyskl.cli import main
from pyskl.datasets.packed import PackedFormatError, open_packed, write_packed

ROOT = Path(__file__).resolve().parents[1]


def _packed(tmp_path: Path) -> Path:
    anns = [dict(frame_dir=f"s{i}", label=i, total_frames=4, keypoint=np.full((1, 4, 5, 3), i, np.float32))
            for i in range(3)]
    return write_packed(anns, tmp_path / "p")


def _edit_index(path: Path, edit) -> None:
    index = json.loads((path / "index.json").read_text())
    edit(index)
    (path / "index.json").write_text(json.dumps(index))


def _edit_layout(path: Path, edit) -> None:
    layout = np.load(path / "keypoint.layout.npy")
    edit(layout)
    np.save(path / "keypoint.layout.npy", layout)


@pytest.mark.parametrize("name", ["ABS", "../outside.lef4.npy", "sub/../../outside.lef4.npy", "link.npy"])
def test_files_outside_the_directory_are_refused(tmp_path, name, capsys):
    packed = _packed(tmp_path)
    outside = tmp_path / "outside.lef4.npy"
    np.save(outside, np.full(60, 7, np.float32))  # same size as a genuine file: it would be served silently
    os.symlink(outside, packed / "link.npy")
    name = str(outside) if name == "ABS" else name
    _edit_index(packed, lambda index: index["arrays"]["keypoint"].__setitem__("files", [name]))
    with pytest.raises(PackedFormatError, match=r"arrays\.keypoint\.files\[0\] is .*must lie inside it"):
        open_packed(packed)
    assert main(["data", "check", str(packed)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "arrays.keypoint.files[0]" in err


def test_field_names_cannot_escape_either(tmp_path):
    packed = _packed(tmp_path)
    _edit_index(packed, lambda index: index["arrays"].__setitem__("../../x", index["arrays"].pop("keypoint")))
    with pytest.raises(PackedFormatError, match=r"arrays key '\.\./\.\./x'"):
        open_packed(packed)


@pytest.mark.parametrize("row, expect", [
    ((1, 1, -20), "row 1 has a negative offset"),
    ((1, 1, 10**15), "row 1 .*reaches past the end of keypoint.lef4.npy"),
    ((2, slice(2, 6), (1, 10**6, 10**6, 3)), "row 2 .*reaches past the end"),
    ((0, 0, 5), "row 0 names file slot 5"),
])
def test_layout_rows_are_checked_against_the_file(tmp_path, row, expect):
    packed = _packed(tmp_path)
    i, j, value = row
    _edit_layout(packed, lambda layout: layout.__setitem__((i, j), value))
    with pytest.raises(PackedFormatError, match=expect):
        open_packed(packed)


def test_header_size_and_columns_are_checked(tmp_path):
    packed = _packed(tmp_path)
    data = (packed / "keypoint.lef4.npy").read_bytes()
    (packed / "keypoint.lef4.npy").write_bytes(data[:-8])
    with pytest.raises(PackedFormatError, match=r"\(720 bytes\) but the file holds 712 bytes of data"):
        open_packed(packed)
    packed = write_packed(open_packed(_packed(tmp_path / "b"))[1][:], tmp_path / "c")
    _edit_index(packed, lambda index: index["columns"]["label"].pop())
    with pytest.raises(PackedFormatError, match=r"columns\.label is not a list of 3 entries"):
        open_packed(packed)
    packed = _packed(tmp_path / "d")
    _edit_index(packed, lambda index: index["columns"]["label"].__setitem__(0, {"__np__": "|V9", "v": 10**12}))
    with pytest.raises(PackedFormatError, match=r"columns\.label\[0\] is not a packed value"):
        open_packed(packed)[1][0]


def test_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path):
    anns = [dict(frame_dir=f"s{i}", label=0, total_frames=50, keypoint=np.ones((1, 50, 25, 3), np.float32))
            for i in range(20)]
    from pyskl.datasets.io import save_annotations

    save_annotations(anns, tmp_path / "in.pkl")
    out = tmp_path / "out" / "packed"
    code = f"""
        import resource, signal, sys
        from pyskl.cli import main
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit stands in for a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        sys.exit(main(["data", "pack", {str(tmp_path / 'in.pkl')!r}, {str(out)!r}]))
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: cannot write {out}: no space left") and "partial output was removed" in \
        proc.stderr and proc.stdout == ""
    assert list(out.parent.iterdir()) == []


def test_data_check_reports_labels_duplicates_and_empty_files(tmp_path, capsys):
    from pyskl.datasets.io import save_annotations

    def ann(name, label):
        return dict(frame_dir=name, label=label, total_frames=2, keypoint=np.zeros((1, 2, 17, 3), np.float32))

    save_annotations([ann("a", -1), ann("b", 17), ann("b", 3)], tmp_path / "x.pkl")
    assert main(["data", "check", str(tmp_path / "x.pkl")]) == 1
    captured = capsys.readouterr()
    assert "range 3-17 (pass --num-classes" in captured.out
    assert "1 sample(s) are unlabelled (label -1), e.g. 'a'" in captured.err
    assert "sample name 'b' is used by 2 samples (indices 1, 2)" in captured.err
    save_annotations({"split": {}, "annotations": []}, tmp_path / "empty.pkl")
    assert main(["data", "check", str(tmp_path / "empty.pkl")]) == 2
    want = f"error: {tmp_path / 'empty.pkl'}: holds no samples (the annotation list is empty)\n"
    assert capsys.readouterr().err == want
