"""The restricted unpickler bounds what a small crafted annotation pickle may allocate."""
from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pyskl.datasets.io import AnnotationError, loads_annotations

ROOT = Path(__file__).resolve().parents[1]


def _run_bounded(tmp_path: Path, data: bytes) -> tuple[str, int]:
    """Load ``data`` from a file in a fresh process under a 2 GiB address-space limit: (message, peak MiB)."""
    path = tmp_path / "crafted.pkl"
    path.write_bytes(data)
    code = f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
        from pyskl.datasets.io import load_annotations
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            load_annotations({str(path)!r}, validate=False)
            print("loaded")
        except Exception as err:
            print(type(err).__name__, err)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2, proc.stdout + proc.stderr
    return lines[0], int(lines[1])


BYTEARRAY_3GB = b"\x80\x02c__builtin__\nbytearray\nL3000000000L\n\x85R."  # 35 bytes
MEMO_INDEX_2_26 = b"\x80\x02N" + b"r" + (2**26).to_bytes(4, "little") + b"."  # 9 bytes, ~1 GB of memo table
HUGE_RECONSTRUCT = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                    b"J\x00\xe1\xf5\x05J\x00\xe1\xf5\x05\x86C\x01b\x87R.")
BYTEARRAY8_8GB = b"\x80\x05\x96" + (2**33).to_bytes(8, "little") + b"abc"


@pytest.mark.parametrize("data, expect", [
    (BYTEARRAY_3GB, r"refused bytearray\(3000000000\)"),
    (HUGE_RECONSTRUCT, r"refused an array of shape \(100000000, 100000000\)"),
    (BYTEARRAY8_8GB, "refused a bytearray of 8589934592 bytes"),
    (b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00O8\x85R.", "refused numpy dtype object"),
    (b"\x80\x02cnumpy\nndarray\nK\x05\x85R.", "refused a direct call of numpy.ndarray"),
], ids=["bytearray", "reconstruct", "bytearray8", "object-dtype", "ndarray-call"])
def test_allocations_beyond_the_budget_are_refused(tmp_path, data, expect):
    message, peak_mib = _run_bounded(tmp_path, data)
    assert message.startswith("AnnotationError") and str(tmp_path / "crafted.pkl") in message
    assert re.search(expect, message), message
    assert peak_mib < 64


def test_memo_index_does_not_allocate(tmp_path):
    message, peak_mib = _run_bounded(tmp_path, MEMO_INDEX_2_26)
    assert message == "loaded" and peak_mib < 64


def test_budget_is_configurable_and_legit_files_fit(tmp_path):
    anns = [dict(frame_dir=f"s{i}", label=i, total_frames=3, img_shape=(4, 5),
                 keypoint=np.ones((2, 3, 17, 2), np.float16), keypoint_score=np.ones((2, 3, 17), np.float32))
            for i in range(50)]
    for protocol in range(6):
        data = pickle.dumps({"split": {"a": ["s0"]}, "annotations": anns}, protocol=protocol)
        got = loads_annotations(data)
        assert np.array_equal(got["annotations"][49]["keypoint"], anns[49]["keypoint"])
        assert got["annotations"][7]["img_shape"] == (4, 5)
    with pytest.raises(AnnotationError, match="asks for 1000000 more bytes than this file may use"):
        loads_annotations(pickle.dumps(bytearray(10**6), protocol=2), max_bytes=10**5)


def test_budget_from_the_environment(monkeypatch):
    data = pickle.dumps(bytearray(10**6), protocol=2)
    assert len(loads_annotations(data, validate=False)) == 10**6
    monkeypatch.setenv("PYSKL_MAX_UNPICKLE_BYTES", "1000")
    expect = r"<bytes>: refused _codecs.encode of a str.*budget of PYSKL_MAX_UNPICKLE_BYTES=1000\)"
    with pytest.raises(AnnotationError, match=expect):
        loads_annotations(data, validate=False)
