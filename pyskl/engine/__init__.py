"""Training and testing loops (``pyskl train`` / ``pyskl test``): see ``train.py`` and ``test.py``."""
from .test import TestOptions, load_results, save_results, test  # noqa: F401
from .train import TrainOptions, train  # noqa: F401

__all__ = ["TrainOptions", "train", "TestOptions", "test", "save_results", "load_results"]
