"""``build_model(cfg)``: a PYSKL model config dict -> ``nn.Module`` through the MODELS registry."""
from __future__ import annotations

import copy
from typing import Any

from torch import nn

from ..registry import MODELS

__all__ = ["build_model", "build_backbone", "build_head", "build_recognizer", "build_loss", "list_models"]


def build_model(cfg: dict, **defaults: Any) -> nn.Module:
    """Build any registered model (recognizer, backbone, head, loss) from ``cfg``.

    ``cfg`` is not modified. Accepts a config's ``model`` dict directly, e.g.
    ``build_model(load_config(path)['model'])``.
    """
    if isinstance(cfg, dict) and "model" in cfg and "type" not in cfg:
        cfg = cfg["model"]  # a whole config was passed
    return MODELS.build(copy.deepcopy(cfg), **defaults)


build_backbone = build_head = build_recognizer = build_loss = build_model


def list_models() -> list[str]:
    """Names registered in MODELS, sorted."""
    return sorted(MODELS)
