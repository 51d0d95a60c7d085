"""Metrics on arrays (no torch): ``pyskl.core.evaluation``."""
from .evaluation import (confusion_matrix, mean_average_precision, mean_class_accuracy,  # noqa: F401
                         top_k_accuracy)

__all__ = ["top_k_accuracy", "mean_class_accuracy", "confusion_matrix", "mean_average_precision"]
