"""GCN backbones; importing this package registers them in MODELS.

Adding a GCN: write one file here with its blocks (each with one ``forward``, the paper's
formulation) built from the layers in ``blocks.py`` (``UnitGCN``, ``UnitTCN``, ``MSTCN``,
``MultiScaleTCN``, ``make_residual``, ``per_stage_kwargs``) and a backbone class deriving from
``_common.PersonwiseBackbone`` (set ``data_bn`` / ``data_bn_type``, write ``forward_persons``);
register it with ``@MODELS.register()`` and import it below. ``stgcn.py`` is the template. Speed
comes later and separately: a faster form of a layer goes to ``cpu_forms.py`` and is swapped in by
``pyskl.models.deploy.prepare``, which refuses (by name) subclasses it was not written for.
"""
from .blocks import MSTCN, MultiScaleTCN, UnitGCN, UnitTCN, mstcn, split_prefixed, unit_gcn, unit_tcn
from .stgcn import STGCN, STGCNBlock
from .aagcn import AAGCN  # noqa: F401
from .ctrgcn import CTRGCN  # noqa: F401
from .msg3d import MSG3D  # noqa: F401
from .dgstgcn import DGSTGCN  # noqa: F401
from .sgn import SGN  # noqa: F401
from .protogcn import ProtoGCN  # noqa: F401

__all__ = ["MSTCN", "MultiScaleTCN", "UnitGCN", "UnitTCN", "mstcn", "split_prefixed", "unit_gcn", "unit_tcn",
           "STGCN", "STGCNBlock"]
