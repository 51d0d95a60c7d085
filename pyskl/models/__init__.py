"""Models: recognizers, backbones, heads and losses, all registered in ``MODELS`` under PYSKL's names."""
from ..registry import MODELS
from . import gcns, heads, losses, recognizers  # noqa: F401  (registration)
from . import cnns  # noqa: F401  (registration: PoseC3D backbones)
from . import recognizers_rgbpose  # noqa: F401  (registration: RGBPoseConv3D recognizer and head)
from .builder import build_backbone, build_head, build_loss, build_model, build_recognizer, list_models
from .heads import GCNHead, I3DHead, SimpleHead
from .recognizers import Recognizer3D, RecognizerGCN, average_clip

__all__ = ["MODELS", "build_model", "build_backbone", "build_head", "build_loss", "build_recognizer",
           "list_models", "GCNHead", "I3DHead", "SimpleHead", "Recognizer3D", "RecognizerGCN",
           "average_clip"]
