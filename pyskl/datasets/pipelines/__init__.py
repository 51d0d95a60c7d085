"""Pipeline ops (registered in ``TRANSFORMS`` under PYSKL's names) and ``Compose``."""
from .compose import Compose
from .decompress import DecompressPose  # noqa: F401

__all__ = ["Compose"]
