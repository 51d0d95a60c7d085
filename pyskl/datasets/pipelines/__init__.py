"""Pipeline ops (registered in ``TRANSFORMS`` under PYSKL's names) and ``Compose``."""
from .compose import Compose

__all__ = ["Compose"]
