"""Checkpoint specs: a file path, an ``http(s)://`` URL, or a zoo name, resolved to a local file."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from urllib.parse import urlsplit

from .download import cache_dir, fetch
from .table import ZooError, _load, config_path, get_entry, is_zoo_name

__all__ = ["is_remote", "is_none", "resolve_checkpoint", "zoo_cache_path"]


def is_remote(spec: object) -> bool:
    """True for an ``http://`` or ``https://`` address."""
    return isinstance(spec, str) and spec.startswith(("http://", "https://"))


def is_none(spec: object) -> bool:
    """True for ``None`` or the word ``none``: no checkpoint, random weights asked for."""
    return spec is None or (isinstance(spec, str) and spec.lower() == "none")


def zoo_cache_path(name: str) -> Path:
    """Where the zoo checkpoint ``name`` is kept: ``<cache>/zoo/<name>.pth``."""
    return cache_dir() / "zoo" / f"{name}.pth"


def _url_cache_path(url: str) -> Path:
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s not in ("", ".", "..")] or ["checkpoint.pth"]
    host = parts.netloc.replace(":", "_") or "host"
    return cache_dir() / "url" / host / Path(*segments)


def _strict_loader(model):
    def verify(path: Path) -> None:
        from ..checkpoint import load_checkpoint

        load_checkpoint(model, path)

    return verify


def _readable(path: Path) -> None:
    from ..checkpoint import _extract_state_dict, read_checkpoint

    _extract_state_dict(read_checkpoint(path), path)


def _zoo_model(name: str):
    from ..config import load_config
    from ..models import build_model

    model_cfg = dict(load_config(config_path(get_entry(name)))["model"])
    if isinstance(model_cfg.get("backbone"), dict):
        model_cfg["backbone"] = {k: v for k, v in model_cfg["backbone"].items() if k != "pretrained"}
    return build_model(model_cfg)


def resolve_checkpoint(spec: str | os.PathLike, model=None) -> Path:
    """A local file for ``spec``, downloading a URL or zoo checkpoint into the cache on first use.

    A zoo checkpoint is kept only after it loads strictly into its config's model (``model`` when its
    config is not installed); a URL's only after it loads strictly into ``model`` (when given) or is
    at least a readable checkpoint.

    Raises:
        FileNotFoundError: ``spec`` is neither a file, a URL nor a zoo name.
        ZooError: a zoo entry without a released checkpoint.
        DownloadError: the download failed (the message says where to place the file by hand).
        CheckpointError: the downloaded file is not a checkpoint for the model (it is not kept).
    """
    text = os.fspath(spec)
    if is_remote(text):
        verify = _strict_loader(model) if model is not None else _readable
        return fetch(text, _url_cache_path(text), verify=verify)
    if Path(text).is_file():
        return Path(text)
    if is_zoo_name(text):
        entry = get_entry(text)
        url = entry.download_url
        if url is None:
            raise ZooError(f"zoo model {text} has no released checkpoint (PYSKL published none for "
                           f"{entry.config}): train it with `pyskl train {entry.config}`")
        dest = zoo_cache_path(text)
        if dest.is_file():
            return fetch(url, dest, sha256=entry.sha256)
        try:
            check_model = _zoo_model(text)
        except ZooError:
            check_model = model
        verify = _strict_loader(check_model) if check_model is not None else _readable
        return fetch(url, dest, verify=verify, sha256=entry.sha256)
    close = difflib.get_close_matches(text, list(_load()), n=2, cutoff=0.75)
    hint = f" (zoo models with a close name: {', '.join(close)})" if close else ""
    raise FileNotFoundError(f"checkpoint {text} does not exist: give a file, an http(s):// URL or a zoo "
                            f"name from `pyskl zoo list`{hint}")
