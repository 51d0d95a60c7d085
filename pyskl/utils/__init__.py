"""Shared utilities: skeleton layouts and graphs."""
from .layouts import LAYOUTS, Layout, get_layout

__all__ = ["LAYOUTS", "Layout", "get_layout"]
