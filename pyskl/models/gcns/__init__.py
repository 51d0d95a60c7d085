"""GCN backbones; importing this package registers them in MODELS."""
from .blocks import MSTCN, UnitGCN, UnitTCN, mstcn, split_prefixed, unit_gcn, unit_tcn
from .stgcn import STGCN, STGCNBlock

__all__ = ["MSTCN", "UnitGCN", "UnitTCN", "mstcn", "split_prefixed", "unit_gcn", "unit_tcn",
           "STGCN", "STGCNBlock"]
