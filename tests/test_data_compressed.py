"""K400-style kpfiles: loading, in-process cache, memcached cache, DecompressPose on top."""

from __future__ import annotations

import pickle
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from pyskl.datasets.compressed import KeypointFileLoader, NpzSerde, load_kpfile
from pyskl.datasets.pipelines.decompress import DecompressPose


def _write_kpfiles(tmp_path):
    rng = np.random.default_rng(0)
    files, entries = {}, {}
    for f in range(2):
        data = {}
        for v in range(3):
            key = f"vid{f}{v}"
            data[key] = {"keypoint": rng.random((5 + v, 17, 3)).astype(np.float16)}
            entries[key] = (f"kpfiles/part_{f}.pkl", data[key]["keypoint"])
        (tmp_path / "kpfiles").mkdir(exist_ok=True)
        with open(tmp_path / f"kpfiles/part_{f}.pkl", "wb") as fh:
            pickle.dump(data, fh)
        files[f] = data
    return entries


def _sample(key, raw_file, n):
    return {
        "frame_dir": key,
        "label": 3,
        "total_frames": 9,
        "img_shape": (360, 640),
        "raw_file": raw_file,
        "frame_inds": np.arange(n) % 4,
        "box_score": np.ones(n, np.float32),
    }


def test_loader_fills_keypoints_and_decompress_runs(tmp_path):
    entries = _write_kpfiles(tmp_path)
    loader = KeypointFileLoader(data_prefix=str(tmp_path), max_files=1)
    for key, (raw_file, kp) in entries.items():
        results = loader(_sample(key, raw_file, len(kp)))
        np.testing.assert_array_equal(results["keypoint"], kp)
        out = DecompressPose()(results)
        assert out["keypoint"].shape[1:] == (4, 17, 2) and out["total_frames"] == 4
    assert len(loader._files) == 1  # LRU bound
    prefixed = _sample("data/k400/vid01", "kpfiles/part_0.pkl", 6)
    np.testing.assert_array_equal(loader(prefixed)["keypoint"], entries["vid01"][1])
    with pytest.raises(KeyError, match="no entry 'nope'"):
        loader(_sample("nope", "kpfiles/part_0.pkl", 1))
    already = {"keypoint": np.zeros(1), "raw_file": "x"}
    assert loader(already) is already


def test_kpfile_loading_is_restricted(tmp_path):
    class Evil:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    with open(tmp_path / "evil.pkl", "wb") as fh:
        pickle.dump({"v": {"keypoint": Evil()}}, fh)
    with pytest.raises(Exception, match="rmtree|not allowed|refus|disallow"):
        load_kpfile(tmp_path / "evil.pkl")
    assert (tmp_path / "victim").is_dir()


def test_npz_serde_round_trip():
    serde = NpzSerde()
    value = {"keypoint": np.arange(6, dtype=np.float16).reshape(2, 3)}
    raw, flags = serde.serialize("k", value)
    back = serde.deserialize("k", raw, flags)
    np.testing.assert_array_equal(back["keypoint"], value["keypoint"])
    assert back["keypoint"].dtype == np.float16
    assert serde.deserialize("k", b"\x80\x04junk", 0) is None


def test_unreachable_memcached_falls_back(tmp_path):
    entries = _write_kpfiles(tmp_path)
    pytest.importorskip("pymemcache")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loader = KeypointFileLoader(mc_cfg=("127.0.0.1", port), data_prefix=str(tmp_path))
    raw_file, kp = entries["vid10"]
    np.testing.assert_array_equal(loader(_sample("vid10", raw_file, len(kp)))["keypoint"], kp)
    assert loader._mc_failed


@pytest.fixture
def memcached_server():
    pytest.importorskip("pymemcache", reason="pymemcache not installed (extra [mc])")
    exe = shutil.which("memcached")
    if exe is None:
        pytest.skip("memcached server binary not installed (apt-get install memcached)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16", "-u", "nobody"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.skip("memcached did not start")
        yield ("127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_memcached_cache_shared_between_loaders(tmp_path, memcached_server):
    entries = _write_kpfiles(tmp_path)
    first = KeypointFileLoader(mc_cfg=memcached_server, data_prefix=str(tmp_path))
    raw_file, kp = entries["vid01"]
    np.testing.assert_array_equal(first(_sample("vid01", raw_file, len(kp)))["keypoint"], kp)
    assert not first._mc_failed
    # A second loader (another worker) finds every entry of that kpfile in memcached,
    # even once the file is gone.
    (tmp_path / raw_file).unlink()
    second = KeypointFileLoader(mc_cfg=memcached_server, data_prefix=str(tmp_path))
    for key in ("vid00", "vid01", "vid02"):
        out = second(_sample(key, raw_file, len(entries[key][1])))
        np.testing.assert_array_equal(out["keypoint"], entries[key][1])
        assert out["keypoint"].dtype == np.float16
    assert not second._files and not second._mc_failed
    assert pickle.loads(pickle.dumps(second))._client is None
