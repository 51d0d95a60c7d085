"""pyskl: skeleton-based action recognition, compatible with PYSKL's files."""
from __future__ import annotations

__version__ = "0.1.0"

from .config import load_config as load_config  # noqa: E402


def build_model(cfg: dict):
    """Build a model (recognizer, backbone or head) from a PYSKL config dict."""
    from .models import build_model as _build

    return _build(cfg)


def build_dataset(cfg: dict, default_args: dict | None = None):
    """Build a dataset from a PYSKL config dict."""
    from .datasets import build_dataset as _build

    return _build(cfg, default_args)


def build_pipeline(ops: list):
    """Build a ``Compose`` of pipeline ops from a list of PYSKL op dicts."""
    from .datasets.pipelines import Compose

    return Compose(ops)


def list_models() -> list[str]:
    """Names registered in the MODELS registry."""
    from . import models  # noqa: F401  (registers)
    from .registry import MODELS

    return sorted(MODELS)


__all__ = ["__version__", "load_config", "build_model", "build_dataset", "build_pipeline", "list_models"]
