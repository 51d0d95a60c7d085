"""One writer per output (utils/lock.py), stale temporaries, output file modes, disk-full errors."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyskl.utils.atomic import atomic_write
from pyskl.utils.lock import OutputBusyError, clean_stale_temporaries, lock_work_dir

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def _holder(lock_call: str) -> subprocess.Popen:
    """A process that takes a lock, says so, and waits until its stdin closes."""
    code = (f"import sys; from pyskl.utils.lock import *; lock = {lock_call}; print('locked', flush=True); "
            "sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_second_writer_fails_naming_the_holder_and_lock_goes_with_it(tmp_path):
    holder = _holder(f"lock_work_dir({str(tmp_path / 'wd')!r})")
    try:
        with pytest.raises(OutputBusyError, match=f"pid {holder.pid}"):
            lock_work_dir(tmp_path / "wd")
    finally:
        holder.kill()  # like a SIGKILLed run: the OS drops its lock
        holder.wait()
    lock = lock_work_dir(tmp_path / "wd")
    with pytest.raises(OutputBusyError, match="this process"):
        lock_work_dir(tmp_path / "wd")
    lock.release()
    assert list((tmp_path / "wd").iterdir()) == []  # the lock file does not stay behind


def test_train_refuses_a_busy_work_dir(tmp_path, capsys):
    from engine_tiny import write_tiny_config, write_tiny_data

    from pyskl.cli import main

    cfg = write_tiny_config(tmp_path, write_tiny_data(tmp_path / "data.pkl"), epochs=1)
    holder = _holder(f"lock_work_dir({str(tmp_path / 'wd')!r})")
    try:
        assert main(["train", str(cfg), "--work-dir", str(tmp_path / "wd"), "--device", "cpu"]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"(pid {holder.pid})" in err and str(tmp_path / "wd") in err
    assert not (tmp_path / "wd" / "train.log").exists()


def test_data_pack_refuses_a_busy_output(tmp_path, capsys):
    from pyskl.cli import main
    from pyskl.datasets.synthetic import write_synthetic

    src = write_synthetic(tmp_path / "a.pkl", kind="ntu3d", num_classes=2, num_subjects=2, samples_per_class=2,
                          frames=(8, 10), seed=0)
    holder = _holder(f"lock_output({str(tmp_path / 'packed')!r})")
    try:
        assert main(["data", "pack", str(src), str(tmp_path / "packed")]) == 2
    finally:
        holder.kill()
        holder.wait()
    assert f"pid {holder.pid}" in capsys.readouterr().err
    assert not (tmp_path / "packed").exists()


def test_extract_refuses_a_busy_output(tmp_path, capsys):
    from pyskl.cli import main

    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(bytes(range(256)))  # never decoded: the lock is taken first
    holder = _holder(f"lock_output({str(tmp_path / 'out.pkl')!r})")
    try:
        assert main(["extract", str(videos), str(tmp_path / "out.pkl"), "--no-progress"]) == 2
    finally:
        holder.kill()
        holder.wait()
    assert f"pid {holder.pid}" in capsys.readouterr().err


def test_stale_temporaries_go_only_when_their_writer_is_gone(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    stale = tmp_path / f".epoch_3.pth.{dead}.0123abcd.tmp"
    live = tmp_path / f".epoch_3.pth.{alive}.0123abcd.tmp"
    stale_dir = tmp_path / f".packed.{dead}.89abcdef.tmp"
    other = tmp_path / ".hidden_user_file"
    for path in (stale, live, other):
        path.write_bytes(b"x")
    stale_dir.mkdir()
    (stale_dir / "keypoint.lef2.npy").write_bytes(b"x" * 100)
    assert clean_stale_temporaries(tmp_path, "packed") == [stale_dir]
    assert sorted(clean_stale_temporaries(tmp_path)) == [stale]
    assert live.exists() and other.exists()


def test_write_packed_removes_a_killed_writers_directory(tmp_path):
    from pyskl.datasets.packed import write_packed

    leftover = tmp_path / f".p.{_dead_pid()}.0badf00d.tmp"
    leftover.mkdir()
    (leftover / "keypoint.lef2.npy").write_bytes(b"x" * 1000)
    write_packed([dict(frame_dir="a", label=0, total_frames=1)], tmp_path / "p")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_outputs_get_the_usual_file_mode(tmp_path):
    import torch

    from pyskl.checkpoint import save_checkpoint
    from pyskl.datasets.io import save_annotations
    from pyskl.datasets.packed import write_packed

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.bin", lambda f: f.write(b"1"))
        save_annotations([dict(frame_dir="a", label=0, total_frames=1)], tmp_path / "a.pkl", validate=False)
        save_checkpoint({"w": torch.zeros(1)}, tmp_path / "a.pth")
        packed = write_packed([dict(frame_dir="a", label=0, total_frames=1)], tmp_path / "p")
    finally:
        os.umask(old)
    for name in ("a.bin", "a.pkl", "a.pth", "p/index.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE(packed.stat().st_mode) == 0o755


def test_disk_full_names_the_file_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "ann.pkl"
    proc = _python(f"""
        import resource, signal, numpy as np
        from pyskl.datasets.io import save_annotations
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit stands in for a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        ann = dict(frame_dir="a", label=0, total_frames=1, keypoint=np.zeros((1, 1, 5000, 3), np.float32))
        try:
            save_annotations([ann], {str(out)!r})
        except OSError as err:
            print(type(err).__name__, err)
    """)
    assert proc.stdout.startswith(f"DiskFullError cannot write {out}: no space left"), proc.stdout + proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_train_removes_a_killed_runs_temporaries_and_its_own_lock(tmp_path):
    from engine_tiny import write_tiny_config, write_tiny_data

    from pyskl.cli import main

    cfg = write_tiny_config(tmp_path, write_tiny_data(tmp_path / "data.pkl", samples_per_class=2), epochs=1)
    work_dir = tmp_path / "wd"
    work_dir.mkdir()
    leftover = work_dir / f".epoch_1.pth.{_dead_pid()}.0123abcd.tmp"  # as a SIGKILL mid-save leaves it
    leftover.write_bytes(b"x" * 1000)
    assert main(["train", str(cfg), "--work-dir", str(work_dir), "--device", "cpu"]) == 0
    names = sorted(p.name for p in work_dir.iterdir())
    assert "epoch_1.pth" in names and "latest.pth" in names
    assert [n for n in names if n.startswith(".")] == []
