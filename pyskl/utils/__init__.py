"""Shared utilities: skeleton layouts and graphs."""
from .graph import Graph
from .layouts import LAYOUTS, Layout, get_layout

__all__ = ["Graph", "LAYOUTS", "Layout", "get_layout"]
