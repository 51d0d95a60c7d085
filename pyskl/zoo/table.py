"""The model-zoo table: one entry per config under ``configs/``, with PYSKL's released checkpoint.

``models.json`` holds the facts (config, checkpoint URL, published accuracy) from PYSKL's model-zoo
READMEs; recipes PYSKL released no checkpoint for have ``url: null``.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["ZOO_URL_ENV", "ZooEntry", "ZooError", "config_path", "entries", "entry_for_config", "get_entry",
           "is_zoo_name"]

_TABLE = Path(__file__).with_name("models.json")
# the folder holding ``configs/`` in a source checkout (the configs are not packaged)
_REPO = Path(__file__).resolve().parents[2]

# base URL that replaces every zoo URL (``{base}/{name}.pth``): a mirror, or a local server in tests
ZOO_URL_ENV = "PYSKL_ZOO_URL"


class ZooError(LookupError):
    """An unknown zoo name, or a zoo entry that cannot be used as asked."""


@dataclass(frozen=True)
class ZooEntry:
    """One released model: its config, checkpoint URL and PYSKL's published accuracy."""

    name: str
    config: str
    url: str | None
    top1: float | None
    metric: str | None
    family: str
    dataset: str
    stream: str | None
    sha256: str | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def download_url(self) -> str | None:
        """``url``, or ``$PYSKL_ZOO_URL/<name>.pth`` when that mirror is set."""
        if self.url is None:
            return None
        base = os.environ.get(ZOO_URL_ENV)
        return f"{base.rstrip('/')}/{self.name}.pth" if base else self.url


@lru_cache(maxsize=1)
def _load() -> dict[str, ZooEntry]:
    raw = json.loads(_TABLE.read_text(encoding="utf-8"))
    table = {}
    known = {f for f in ZooEntry.__dataclass_fields__ if f != "details"}
    for item in raw["models"]:
        details = {k: v for k, v in item.items() if k not in known}
        table[item["name"]] = ZooEntry(**{k: v for k, v in item.items() if k in known}, details=details)
    return table


def entries() -> list[ZooEntry]:
    """Every zoo entry, in table order (family by family)."""
    return list(_load().values())


def is_zoo_name(spec: object) -> bool:
    """True when ``spec`` is the name of a zoo entry (not a path or URL)."""
    return isinstance(spec, str) and spec in _load()


def get_entry(name: str) -> ZooEntry:
    """The zoo entry called ``name``; an unknown name raises :class:`ZooError` with close matches."""
    table = _load()
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `pyskl zoo list`"
    raise ZooError(f"unknown zoo model {name!r}{hint}")


def entry_for_config(config: str | os.PathLike) -> ZooEntry | None:
    """The zoo entry whose config is ``config`` (a path ending in the entry's ``configs/...`` path)."""
    parts = Path(config).resolve().as_posix()
    for entry in _load().values():
        if parts.endswith("/" + entry.config):
            return entry
    return None


def config_path(entry: ZooEntry) -> Path:
    """The entry's config file: in the source checkout beside the package, else under the working folder."""
    for root in (_REPO, Path.cwd()):
        path = root / entry.config
        if path.is_file():
            return path
    raise ZooError(f"zoo model {entry.name}: its config {entry.config} is not in this installation; "
                   f"run from a pyskl source checkout (the folder holding configs/) or pass --config")
