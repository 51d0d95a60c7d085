"""K400-style compressed annotations: keypoints kept in separate *kpfiles*, fetched per sample.

PYSKL's Kinetics-400 annotation file holds, per video, ``raw_file`` (the kpfile's path),
``frame_inds``, ``box_score`` and ``valid`` but no ``keypoint``. Each kpfile is a pickle mapping
``frame_dir`` -> ``{'keypoint': [N, V, 3]}`` (x, y, score per detected box). ``DecompressPose``
then turns the rows into ``[M, T, V, 2]`` arrays.

:class:`KeypointFileLoader` fills ``results`` with the sample's kpfile entry. Kpfiles are read
with the project's restricted unpickler and kept in a small per-process LRU cache; when
``mc_cfg=(host, port)`` is given (PYSKL's ``memcached=True``), entries are also shared across
processes and runs through a memcached server via ``pymemcache`` (extra ``[mc]``). Values go to
memcached as ``.npz`` bytes, never pickles, so a shared cache cannot run code in a worker.
"""

from __future__ import annotations

import io
import logging
import os
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["KeypointFileLoader", "NpzSerde", "load_kpfile"]

log = logging.getLogger(__name__)


def load_kpfile(path: str | os.PathLike) -> dict:
    """Read one kpfile (``frame_dir -> {'keypoint': ndarray, ...}``) without executing anything."""
    from .io import load_annotations

    data = load_annotations(path, validate=False)
    if not isinstance(data, dict):
        raise ValueError(
            f"{os.fspath(path)}: a kpfile must hold a dict frame_dir -> {{'keypoint': ...}}, "
            f"got {type(data).__name__}"
        )
    return data


class NpzSerde:
    """pymemcache serde storing a dict of arrays as ``.npz`` bytes (no pickles)."""

    def serialize(self, key: Any, value: dict) -> tuple[bytes, int]:
        buffer = io.BytesIO()
        np.savez(buffer, **{str(k): np.asarray(v) for k, v in value.items()})
        return buffer.getvalue(), 1

    def deserialize(self, key: Any, value: bytes, flags: int) -> dict | None:
        if flags != 1:
            return None  # written by someone else (e.g. PYSKL's pickle serde): ignore, reload the kpfile
        with np.load(io.BytesIO(value), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def _mc_key_ok(key: Any) -> bool:
    """memcached keys: at most 250 bytes, no whitespace or control characters."""
    return isinstance(key, str) and 0 < len(key.encode()) <= 250 and all(c > " " and c != "\x7f" for c in key)


class KeypointFileLoader:
    """Fill a sample with its keypoints from ``raw_file`` (optionally through memcached).

    Args:
        mc_cfg: ``(host, port)`` of a memcached server, or None for the in-process cache only.
        max_files: kpfiles kept in the in-process LRU cache.
        data_prefix: joined before relative ``raw_file`` paths.
    """

    def __init__(
        self, mc_cfg: tuple[str, int] | None = None, max_files: int = 4, data_prefix: str | None = None
    ) -> None:
        self.mc_cfg = tuple(mc_cfg) if mc_cfg is not None else None
        self.max_files = max_files
        self.data_prefix = data_prefix
        self._files: OrderedDict[str, dict] = OrderedDict()
        self._client = None
        self._mc_failed = False

    # pymemcache clients hold sockets: each worker process makes its own.
    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None, "_files": OrderedDict()}

    def _memcached(self):
        if self.mc_cfg is None or self._mc_failed:
            return None
        if self._client is None:
            try:
                from pymemcache.client.base import Client
            except ImportError:
                log.warning(
                    "memcached requested but pymemcache is not installed (pip install 'pyskl[mc]'); "
                    "reading kpfiles directly"
                )
                self._mc_failed = True
                return None
            # noreply=False: a set is acknowledged before we go on, so another worker that asks next finds it
            self._client = Client(self.mc_cfg, serde=NpzSerde(), connect_timeout=2, timeout=5,
                                  default_noreply=False)
        return self._client

    def _path(self, raw_file: str) -> str:
        if self.data_prefix and not os.path.isabs(raw_file):
            return os.path.join(self.data_prefix, raw_file)
        return raw_file

    def _kpfile(self, raw_file: str) -> dict:
        path = self._path(raw_file)
        if path in self._files:
            self._files.move_to_end(path)
            return self._files[path]
        data = load_kpfile(path)
        self._files[path] = data
        while len(self._files) > self.max_files:
            self._files.popitem(last=False)
        return data

    def _mc_call(self, method: str, *args: Any) -> Any:
        client = self._memcached()
        if client is None:
            return None
        try:
            return getattr(client, method)(*args)
        except Exception as err:  # server down / refused: keep training, read files directly
            log.warning(
                "memcached %s failed (%s: %s); reading kpfiles directly from now on",
                self.mc_cfg,
                type(err).__name__,
                err,
            )
            self._mc_failed = True
            self._client = None
            return None

    def fetch(self, raw_file: str, key: str) -> dict:
        """The kpfile entry of ``key`` (a dict with at least ``keypoint``)."""
        if _mc_key_ok(key):
            pack = self._mc_call("get", key)
            if isinstance(pack, dict) and "keypoint" in pack:
                return pack
        data = self._kpfile(raw_file)
        if key not in data and os.path.basename(key) in data:
            key = os.path.basename(key)  # frame_dir carried a data_prefix
        if key not in data:
            raise KeyError(f"{self._path(raw_file)}: kpfile has no entry {key!r}")
        if self.mc_cfg is not None:
            # Fill the shared cache with the whole kpfile, as PYSKL does: its neighbours come next.
            self._mc_call(
                "set_many", {k: v for k, v in data.items() if isinstance(v, dict) and _mc_key_ok(k)}
            )
        return data[key]

    def __call__(self, results: dict) -> dict:
        """Add the kpfile entry's arrays (``keypoint``, ...) to ``results`` when it has ``raw_file``.

        The lookup key is ``results['key']`` (popped) if present, else ``frame_dir`` (or its base name
        when ``frame_dir`` carries a ``data_prefix``).
        """
        if "raw_file" not in results or "keypoint" in results:
            return results
        key = results.pop("key", None) or str(results["frame_dir"])
        for name, value in self.fetch(results["raw_file"], key).items():
            results[name] = np.array(value) if isinstance(value, np.ndarray) else value
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mc_cfg={self.mc_cfg}, max_files={self.max_files})"
