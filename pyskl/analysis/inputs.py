"""The per-clip input a config's model sees at test time, read from the config (no data needed).

GCN recognizers take ``[N, clips, M, T, V, C]``; 3D-CNN recognizers ``[N, clips, C, T, H, W]``.
``T`` is the test pipeline's ``clip_len``, ``M`` its ``FormatGCNInput.num_person``, ``V`` the graph
layout's joint count, ``C`` the backbone's ``in_channels``; ``H, W`` the test crop (``CenterCrop``
/ fixed ``Resize``). Missing facts fall back to PYSKL's defaults (T=100, M=2, 56x56).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CNN_RECOGNIZERS", "GCN_RECOGNIZERS", "InputSpec", "input_spec"]

GCN_RECOGNIZERS = ("RecognizerGCN",)
CNN_RECOGNIZERS = ("Recognizer3D",)
# backbones whose frame count is fixed at construction
_FIXED_T_BACKBONES = ("SGN",)


@dataclass(frozen=True)
class InputSpec:
    """One clip's input shape and which axes may vary.

    Attributes:
        kind: ``'gcn'`` or ``'3d'``.
        shape: ``(N, clips, ...)`` with N = clips = 1.
        dynamic: axis index -> name for axes that may vary at run time (batch, clips, frames, ...).
    """

    kind: str
    shape: tuple[int, ...]
    dynamic: dict

    def with_batch(self, n: int, clips: int = 1) -> tuple[int, ...]:
        return (n, clips) + self.shape[2:]


def _type_name(cfg: dict) -> str:
    t = cfg.get("type")
    return t if isinstance(t, str) else getattr(t, "__name__", str(t))


def _pipeline(cfg: dict) -> list:
    data = cfg.get("data") or {}
    for key in ("test", "val"):
        ds = data.get(key)
        while isinstance(ds, dict) and "pipeline" not in ds and isinstance(ds.get("dataset"), dict):
            ds = ds["dataset"]
        if isinstance(ds, dict) and ds.get("pipeline"):
            return ds["pipeline"]
    return cfg.get("test_pipeline") or cfg.get("val_pipeline") or []


def _op(pipeline: list, *names: str) -> dict:
    for op in pipeline:
        if isinstance(op, dict) and op.get("type") in names:
            return op
    return {}


def _num_joints(backbone: dict) -> int:
    if "num_joints" in backbone:
        return int(backbone["num_joints"])
    layout = (backbone.get("graph_cfg") or {}).get("layout", "coco")
    from ..utils.layouts import get_layout

    return get_layout(layout).num_joints


def input_spec(cfg: dict, clip_len: int | None = None, num_person: int | None = None) -> InputSpec:
    """Input of one test clip of ``cfg`` (a whole config dict, or just its ``model``).

    Raises:
        ValueError: the recognizer type is not one whose input this knows.
    """
    model = cfg.get("model", cfg) if "type" not in cfg else cfg
    pipeline = _pipeline(cfg) if "model" in cfg else []
    rec, backbone = _type_name(model), dict(model.get("backbone") or {})
    sample = _op(pipeline, "UniformSample", "UniformSampleFrames", "SampleFrames")
    bb_type = _type_name(backbone)
    if rec in GCN_RECOGNIZERS:
        if bb_type in _FIXED_T_BACKBONES:  # SGN: T fixed at construction (default 30)
            t = int(backbone.get("T", 30))
        else:
            t = clip_len or int(sample.get("clip_len", 100))
        m = num_person or int(_op(pipeline, "FormatGCNInput").get("num_person", 2))
        shape = (1, 1, m, t, _num_joints(backbone), int(backbone.get("in_channels", 3)))
        dynamic = {0: "batch", 1: "clips"}
        if bb_type not in _FIXED_T_BACKBONES:
            dynamic[3] = "frames"
        return InputSpec("gcn", shape, dynamic)
    if rec in CNN_RECOGNIZERS:
        t = clip_len or int(sample.get("clip_len", 48))
        crop = _op(pipeline, "CenterCrop").get("crop_size")
        if crop is None:  # the last fixed-size Resize (PoseC3D: Resize(-1, 64) first, then to a square)
            fixed = [
                op["scale"]
                for op in pipeline
                if isinstance(op, dict)
                and op.get("type") == "Resize"
                and isinstance(op.get("scale"), (list, tuple))
                and min(op["scale"]) > 0
            ]
            crop = fixed[-1] if fixed else 56
        h, w = (crop, crop) if isinstance(crop, int) else (int(crop[1]), int(crop[0]))
        shape = (1, 1, int(backbone.get("in_channels", 17)), t, h, w)
        return InputSpec("3d", shape, {0: "batch", 1: "clips", 3: "frames", 4: "height", 5: "width"})
    raise ValueError(
        f"don't know the input of a {rec!r} model (supported: {GCN_RECOGNIZERS + CNN_RECOGNIZERS})"
    )
