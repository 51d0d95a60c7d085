"""Atomic file writes: a crash mid-write never leaves a truncated file at the destination.

Temporaries are named ``.<name>.<pid>.<token>.tmp`` beside the destination, so a later run can tell
whose they are (see :func:`pyskl.utils.lock.clean_stale_temporaries`), and are created with the mode
an ordinary ``open`` would give (0644 under the usual umask), not ``mkstemp``'s 0600.
"""
from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from typing import IO, Callable

__all__ = ["DiskFullError", "atomic_write", "disk_full_error", "is_disk_full", "temporary_name"]

# ENOSPC: the device is full; EDQUOT: the user's quota is; EFBIG: a file-size limit (RLIMIT_FSIZE).
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFullError(OSError):
    """A write failed for lack of space; the message names the file that could not be written."""


def is_disk_full(err: BaseException) -> bool:
    """True for the ``OSError``s that mean "no space left" (device full, quota, file-size limit)."""
    return isinstance(err, OSError) and err.errno in _NO_SPACE


def disk_full_error(path: str | os.PathLike, err: OSError, consequence: str = "") -> DiskFullError:
    """The one-line error for a failed write of ``path``; ``consequence`` says what is still intact."""
    full = DiskFullError(f"cannot write {path}: no space left ({os.strerror(err.errno)}); "
                         f"{consequence + '; ' if consequence else ''}free some space and run again")
    full.errno = err.errno
    return full


def temporary_name(dest: Path, suffix: str = ".tmp") -> Path:
    """A fresh temporary path beside ``dest`` that records the writing process's pid."""
    return dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


class _RecordingStream:
    """A binary stream that remembers the ``OSError`` a write raised: torch.save reports a failed
    write as a bare RuntimeError, and the errno (disk full?) would be lost."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.raw.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str):  # tell, seek, fileno, ... as the file has them
        return getattr(self.raw, name)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(stream)`` on a temp file beside ``path``, fsync it, then ``os.replace`` it into place.

    Parent folders are created; the temp file is removed if anything fails.

    Raises:
        DiskFullError: the disk (or a quota or file-size limit) ran out; the destination is untouched.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(dest)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
    stream = None
    try:
        with os.fdopen(fd, "wb") as raw:
            stream = _RecordingStream(raw)
            write(stream)  # type: ignore[arg-type]
            stream.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, dest)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        cause = err if stream is None or stream.error is None else stream.error
        if is_disk_full(cause):
            raise disk_full_error(dest, cause) from None
        raise
    return dest
