"""Download checkpoints into the cache: resumable, atomic, checked before they are kept.

Files go to ``$PYSKL_HOME/checkpoints`` (default ``~/.cache/pyskl/checkpoints``). A download is written
to ``<file>.part`` (resumed with an HTTP ``Range`` request when a previous attempt left one; restarted
when the server does not resume), handed to ``verify`` (a strict load into the model it is for), and only
then renamed into place. Its sha256 is recorded beside it (``<file>.sha256``) and checked on each later use.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

__all__ = ["HOME_ENV", "DownloadError", "cache_dir", "fetch", "sha256_of"]

HOME_ENV = "PYSKL_HOME"
_CHUNK = 1 << 20
_TIMEOUT_S = 30


class DownloadError(RuntimeError):
    """A checkpoint that could not be downloaded, or whose cached copy no longer matches its hash."""


def cache_dir() -> Path:
    """``$PYSKL_HOME/checkpoints`` (default ``~/.cache/pyskl/checkpoints``)."""
    home = os.environ.get(HOME_ENV) or Path.home() / ".cache" / "pyskl"
    return Path(home) / "checkpoints"


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _check_cached(path: Path, expected: str | None) -> Path:
    recorded = _sidecar(path).read_text().split()[0] if _sidecar(path).is_file() else None
    want = expected or recorded
    if want is None:  # placed by hand: record it now, check it from now on
        _sidecar(path).write_text(f"{sha256_of(path)}  {path.name}\n")
        return path
    got = sha256_of(path)
    if got != want:
        raise DownloadError(f"cached checkpoint {path} has sha256 {got[:16]}..., not the {want[:16]}... "
                            f"recorded when it was downloaded: delete it to download it again")
    return path


def _progress(total: int | None, start: int, name: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
                file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True)


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"User-Agent": "pyskl"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        # http(s) only: fetch() checked the scheme
        return urllib.request.urlopen(request, timeout=_TIMEOUT_S)  # noqa: S310
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the partial file is not a prefix the server can continue
            return None
        raise


def _download(url: str, part: Path) -> None:
    offset = part.stat().st_size if part.is_file() else 0
    response = _open(url, offset)
    if response is None:
        offset = 0
        response = _open(url, 0)
    with response:
        resumed = offset > 0 and response.status == 206
        if not resumed:
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with open(part, "ab" if resumed else "wb") as out, _progress(total, offset, part.name[:-5]) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    if total is not None and part.stat().st_size != total:
        raise DownloadError(f"{url}: the connection closed after {part.stat().st_size} of {total} bytes; "
                            f"run again to resume")


@contextlib.contextmanager
def _exclusive(path: Path):
    """Hold an advisory lock on ``<path>.lock``: processes started together (one per GPU) download once.

    The lock is released by the OS if the holder dies; without ``fcntl`` (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch(url: str, dest: str | os.PathLike, verify: Callable[[Path], None] | None = None,
          sha256: str | None = None) -> Path:
    """``dest`` if already cached (its sha256 checked), else download ``url`` to it.

    Args:
        url: ``http://`` or ``https://`` address.
        dest: where the file is kept.
        verify: called with the downloaded (not yet kept) file; raising refuses it, and the partial
            file is removed so the next attempt starts afresh.
        sha256: the expected hash when known in advance (else the one recorded at first download).

    Raises:
        DownloadError: offline or the server failed (the message names the URL and ``dest`` to place
            the file at by hand), or a cached file no longer matches its hash.
    """
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"{url}: only http:// and https:// addresses are downloaded")
    dest = Path(dest)
    if dest.is_file():
        return _check_cached(dest, sha256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(dest):
        if dest.is_file():  # another process fetched it while this one waited
            return _check_cached(dest, sha256)
        return _fetch_new(url, dest, verify, sha256)


def _fetch_new(url: str, dest: Path, verify: Callable[[Path], None] | None, sha256: str | None) -> Path:
    part = dest.with_name(dest.name + ".part")
    try:
        _download(url, part)
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"cannot download {url} ({reason}); if this machine is offline, download it "
                            f"elsewhere and place it at {dest}") from err
    got = sha256_of(part)
    try:
        if sha256 is not None and got != sha256:
            raise DownloadError(f"{url}: the downloaded file has sha256 {got[:16]}..., expected "
                                f"{sha256[:16]}...; it was not kept")
        if verify is not None:
            try:
                verify(part)
            except Exception as err:  # noqa: BLE001 - any refusal: the file is not kept
                raise DownloadError(f"{url}: the downloaded file was refused and not kept: {err}") from err
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    _sidecar(dest).write_text(f"{got}  {dest.name}\n")
    return dest
