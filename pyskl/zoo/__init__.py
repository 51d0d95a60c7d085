"""PYSKL's released models: the zoo table, checkpoint specs (path, URL, zoo name) and the download cache."""

from .download import HOME_ENV, DownloadError, cache_dir, fetch, sha256_of
from .resolve import is_none, is_remote, resolve_checkpoint, zoo_cache_path
from .table import (ZOO_URL_ENV, ZooEntry, ZooError, config_path, entries, entry_for_config, get_entry,
                    is_zoo_name)

__all__ = ["HOME_ENV", "ZOO_URL_ENV", "DownloadError", "ZooEntry", "ZooError", "cache_dir", "config_path",
           "entries", "entry_for_config", "fetch", "get_entry", "is_none", "is_remote", "is_zoo_name",
           "resolve_checkpoint", "sha256_of", "zoo_cache_path"]
