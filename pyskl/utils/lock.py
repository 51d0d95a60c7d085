"""One writer per output: an exclusive lock file that the OS releases when its process dies.

``pyskl train`` locks its work_dir, ``data pack`` and ``extract`` their outputs. A second writer of
the same output fails at once with :class:`OutputBusyError` naming the holder's pid, instead of
interleaving checkpoints, logs or samples with the first. Holding the lock also makes it safe to
delete the temporaries a killed writer left behind (:func:`clean_stale_temporaries`).

POSIX record locks (``fcntl.lockf``) are used rather than ``flock``: they are not inherited by forked
children (DataLoader workers), so a killed writer's lock is gone with it and not held by orphans.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
from pathlib import Path
from types import TracebackType

__all__ = ["OutputBusyError", "OutputLock", "clean_stale_temporaries", "lock_output", "lock_work_dir"]

WORK_DIR_LOCK = ".pyskl.lock"
# ``.<name>.<pid>.<8 hex>.tmp``: what pyskl.utils.atomic.temporary_name makes.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d{1,10})\.[0-9a-f]{8}\.tmp$")
_held: set[str] = set()  # POSIX locks are per process: a second lock in this process must fail too


class OutputBusyError(RuntimeError):
    """Another process (named by pid) is writing the same output."""


class OutputLock:
    """An exclusive, non-blocking lock on ``lock_file`` guarding ``output``; a context manager.

    Args:
        lock_file: the file to lock (created; removed again on release).
        output: what the lock guards, named in the error.
    """

    def __init__(self, lock_file: str | os.PathLike, output: str | os.PathLike) -> None:
        self.lock_file = Path(lock_file)
        self.output = Path(output)
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        """Take the lock or raise :class:`OutputBusyError` at once."""
        key = os.path.abspath(self.lock_file)
        if key in _held:
            raise OutputBusyError(f"{self.output} is already being written by this process (pid {os.getpid()})")
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                if err.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                raise OutputBusyError(
                    f"{self.output} is being written by another pyskl process (pid {holder}); wait for it to "
                    "finish or stop it, or choose another output") from None
            if _same_file(fd, self.lock_file):
                break
            os.close(fd)  # the previous holder removed the file after we opened it: lock the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _held.add(key)
        return self

    def release(self) -> None:
        """Remove the lock file, then drop the lock (in that order, so nobody locks a removed file)."""
        if self._fd is None:
            return
        try:
            self.lock_file.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None
            _held.discard(os.path.abspath(self.lock_file))

    def __enter__(self) -> OutputLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)


def lock_work_dir(work_dir: str | os.PathLike) -> OutputLock:
    """Lock a folder that a run writes into (``work_dir/.pyskl.lock``); returns the held lock."""
    return OutputLock(Path(work_dir) / WORK_DIR_LOCK, work_dir).acquire()


def lock_output(path: str | os.PathLike) -> OutputLock:
    """Lock an output that is replaced as a whole (``.<name>.lock`` beside it); returns the held lock."""
    path = Path(path)
    return OutputLock(path.with_name(f".{path.name}.lock"), path).acquire()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temporaries(directory: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete the temporaries of ``name`` (any name when None) in ``directory`` whose writer is gone.

    Call it while holding the output's lock. A temporary records its writer's pid in its name; one
    whose pid is still running is kept.

    Returns:
        The paths removed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for entry in directory.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match is None or (name is not None and match["name"] != name) or _alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
