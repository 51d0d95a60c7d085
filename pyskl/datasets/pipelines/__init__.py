"""Pipeline ops (registered in ``TRANSFORMS`` under PYSKL's names) and ``Compose``."""
from .augment import RandomGaussianNoise, RandomRot, RandomScale
from .compose import Compose, MissingKeyError, PipelineError, Transform, UnknownArgumentWarning
from .formatting import Collect, FormatGCNInput, PadTo, PoseDecode, ToTensor
from .pose import GenSkeFeat, JointToBone, MergeSkeFeat, PreNormalize2D, PreNormalize3D, Rename, ToMotion
from .sampling import UniformSample, UniformSampleDecode, UniformSampleFrames
from .cropping import CenterCrop, Flip, PoseCompact, RandomCrop, RandomResizedCrop, Resize  # noqa: F401
from .heatmap import GeneratePoseTarget  # noqa: F401
from .heatmap_torch import GeneratePoseTargetTorch, PoseToHeatmapInput  # noqa: F401
from .multimodal import MMCompact, MMDecode, MMPad, MMUniformSampleFrames  # noqa: F401
from .shape import FormatShape, Normalize  # noqa: F401
from .decompress import DecompressPose  # noqa: F401
from .controls import ShuffleFrames  # noqa: F401
from .protogcn import JointToKB, Kinetics_Transform, Part_Drop, Spatial_Flip  # noqa: F401
from .loading import ArrayDecode, DecordDecode, DecordInit, SampleFrames  # noqa: F401
from .multicrop import TenCrop, ThreeCrop  # noqa: F401
from .potion import Heatmap2Potion  # noqa: F401

__all__ = [
    "Compose", "Transform", "PipelineError", "MissingKeyError", "UnknownArgumentWarning",
    "UniformSampleFrames", "UniformSample", "UniformSampleDecode",
    "PreNormalize3D", "PreNormalize2D", "GenSkeFeat", "JointToBone", "ToMotion", "MergeSkeFeat", "Rename",
    "PoseDecode", "PadTo", "FormatGCNInput", "Collect", "ToTensor",
    "RandomRot", "RandomScale", "RandomGaussianNoise",
]
