"""GCN backbones; importing this package registers them in MODELS."""
from .blocks import MSTCN, UnitGCN, UnitTCN, mstcn, split_prefixed, unit_gcn, unit_tcn
from .stgcn import STGCN, STGCNBlock
from .aagcn import AAGCN  # noqa: F401
from .ctrgcn import CTRGCN  # noqa: F401
from .msg3d import MSG3D  # noqa: F401
from .dgstgcn import DGSTGCN  # noqa: F401
from .sgn import SGN  # noqa: F401
from .protogcn import ProtoGCN  # noqa: F401

__all__ = ["MSTCN", "UnitGCN", "UnitTCN", "mstcn", "split_prefixed", "unit_gcn", "unit_tcn",
           "STGCN", "STGCNBlock"]
