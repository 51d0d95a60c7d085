"""3D-CNN backbones for heatmap volumes (PoseC3D); importing registers them in MODELS."""
from .c3d import C3D
from .resnet3d import ResNet3d
from .resnet3d_slowonly import ResNet3dSlowOnly
from .rgbposeconv3d import RGBPoseConv3D
from .x3d import X3D

__all__ = ["C3D", "ResNet3d", "ResNet3dSlowOnly", "RGBPoseConv3D", "X3D"]
