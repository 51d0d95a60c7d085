"""Speed as explicit conversions: ``prepare(model, device, mode)`` swaps in faster forms of the layers.

A model as built computes PYSKL's formulation, on every device, in train and eval mode alike.
:func:`prepare` is the one place that chooses faster forms for a device and a use; ``pyskl train``,
``pyskl test`` and the demos call it. Each form has the parameters of the layer it replaces and gives
its values (the tests compare them in float64, outputs and gradients):

* ``mode='train'`` on the CPU: channels-last activations from the backbone's input on
  (ST-GCN, CTR-GCN, MS-G3D) and the layers' channels-last forms (``gcns.cpu_forms``);
* ``mode='eval'`` adds inference forms: BatchNorm folded into the preceding conv (every device),
  ST-GCN++'s multi-scale TCN with its branch convs merged (CPU), and for ``RecognizerGCN`` the
  batched person passes of :class:`PersonPassRecognizerGCN`. An eval-prepared model is for
  inference only: folded BatchNorms are gone from its state_dict.

A conversion applies to a layer of exactly the class it was written for. A subclass of such a class
(say a ``UnitGCN`` with an extra layer after the graph conv) may compute something else, so
``prepare`` refuses it by name; ``strict=False`` leaves it in its plain form instead, with a warning.

Example:
    >>> model = prepare(build_model(cfg), 'cpu', mode='eval')
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .gcns import cpu_forms as cf
from .gcns._common import PersonwiseBackbone
from .gcns.blocks import MSTCN, MultiScaleTCN, UnitGCN, UnitTCN
from .gcns.ctrgcn import CTRGC, CTRGCN, UnitCTRGCN
from .gcns.dgstgcn import DGMSTCN
from .gcns.msg3d import MSG3D, MSGCN, STMSGCN, MSG3DBlock, UnfoldTemporalWindows
from .gcns.protogcn import CentralizedMSTCN
from .gcns.stgcn import STGCN
from .recognizers import RecognizerGCN

__all__ = ["prepare", "fold_batch_norms", "PersonPassRecognizerGCN", "ConversionError"]

_MODES = ("train", "eval")
#: backbones whose layers all run channels-last on the CPU (their blocks have channels-last forms)
_CHANNELS_LAST_BACKBONES = (STGCN, CTRGCN, MSG3D)


class ConversionError(ValueError):
    """A module that ``prepare`` has a conversion for the base class of, but not for its own class."""


def _foldable_bn(bn: nn.Module, channels: int) -> bool:
    """A plain BatchNorm2d with running statistics over ``channels`` (foldable into a conv)."""
    return (type(bn) is nn.BatchNorm2d and bn.track_running_stats and bn.running_mean is not None
            and bn.num_features == channels)


def _fuse(conv: nn.Module, bn: nn.Module) -> nn.Module:
    return fuse_conv_bn_eval(conv, bn)


# ---- BatchNorm folding (every device, eval only) ---------------------------------------------------

def _fold_sequential(seq: nn.Sequential) -> None:
    names = list(seq._modules)
    for first, second in zip(names, names[1:]):
        conv, bn = seq._modules[first], seq._modules[second]
        if isinstance(conv, nn.Conv2d) and _foldable_bn(bn, conv.out_channels):
            seq._modules[first], seq._modules[second] = _fuse(conv, bn), nn.Identity()


def _fold_tcn(tcn: UnitTCN) -> None:
    if _foldable_bn(tcn.bn, tcn.conv.out_channels):
        tcn.conv, tcn.bn = _fuse(tcn.conv, tcn.bn), nn.Identity()


def _fold_mstcn(tcn: MSTCN) -> None:  # forward ends transform (.., Conv1x1) -> bn
    if _foldable_bn(tcn.bn, tcn.out_channels):
        tcn.transform[2], tcn.bn = _fuse(tcn.transform[2], tcn.bn), nn.Identity()


def _fold_msg3d_block(block: MSG3DBlock) -> None:  # forward ends out_conv (Conv3d) -> out_bn
    if _foldable_bn(block.out_bn, block.out_channels):
        block.out_conv, block.out_bn = _fuse(block.out_conv, block.out_bn), nn.Identity()


#: base class -> (classes whose forward the fold was written for, fold)
_FOLDS: dict[type, tuple[tuple[type, ...], Callable[[Any], None]]] = {
    UnitTCN: ((UnitTCN,), _fold_tcn),
    MSTCN: ((MSTCN, DGMSTCN, CentralizedMSTCN), _fold_mstcn),
    MSG3DBlock: ((MSG3DBlock,), _fold_msg3d_block),
}


def fold_batch_norms(model: nn.Module, strict: bool = True) -> nn.Module:
    """Fold every eval-mode BatchNorm2d that directly follows a conv into that conv, in place.

    Covers ``nn.Sequential(conv, bn, ...)`` (MSTCN branches, residual convs, MLPs), :class:`UnitTCN`,
    :class:`MSTCN`'s ``transform`` -> ``bn`` and :class:`MSG3DBlock`'s ``out_conv`` -> ``out_bn``.
    ``UnitGCN``'s BN (after the graph conv) is folded by :func:`prepare` on the CPU.

    Raises:
        RuntimeError: ``model`` is in training mode.
        ConversionError: (``strict``) a subclass of one of those classes.
    """
    if model.training:
        raise RuntimeError("folding BatchNorms is for eval-mode models (call .eval() first)")
    unknown = []
    for name, module in model.named_modules():
        if type(module) is nn.Sequential:
            _fold_sequential(module)
            continue
        for base, (known, fold) in _FOLDS.items():
            if isinstance(module, base):
                if type(module) in known:
                    fold(module)
                else:
                    unknown.append((name, module, base))
                break
    _report_unknown(unknown, "fold its BatchNorm", strict)
    return model


# ---- module replacement -----------------------------------------------------------------------------

def _require_pre_conv(unit: UnitGCN) -> bool:
    return unit.conv_pos == "pre"


def _can_fold_unit_gcn(unit: UnitGCN) -> bool:
    return unit.conv_pos == "pre" and _foldable_bn(unit.bn, unit.out_channels)


def _can_merge_mstcn(tcn: MSTCN) -> bool:
    """Folded BNs and the branch structure :class:`cf.MergedMSTCN` indexes: (1x1 conv, folded BN,
    ReLU, tail) for every sequential branch."""
    seq = [b for b in tcn.branches if isinstance(b, nn.Sequential)]
    return bool(seq) and all(
        type(b) is nn.Sequential and len(b) == 4 and type(b[0]) is nn.Conv2d and b[0].kernel_size == (1, 1)
        and b[0].stride == (1, 1) and b[0].bias is not None and type(b[1]) is nn.Identity
        and type(b[2]) is nn.ReLU for b in seq)


def _can_fold_ctrgcn(unit: UnitCTRGCN) -> bool:
    return _foldable_bn(unit.bn, unit.out_channels)


def _all_ctrgc(unit: UnitCTRGCN) -> bool:
    return all(type(m) is CTRGC for m in unit.convs)


class _Rule:
    """Replace a module of exactly class ``cls`` by ``form.from_module(module)`` when ``when(module)``;
    a subclass of ``cls`` is unknown (refused or, ``strict=False``, left as it is)."""

    def __init__(self, cls: type, form: type, when: Callable[[Any], bool] = lambda m: True) -> None:
        self.cls, self.form, self.when = cls, form, when


_CPU_TRAIN = [
    _Rule(UnitGCN, cf.ChannelsLastUnitGCN, _require_pre_conv),
    _Rule(MultiScaleTCN, cf.ChannelsLastMultiScaleTCN),
    _Rule(UnitCTRGCN, cf.ChannelsLastUnitCTRGCN, _all_ctrgc),
    _Rule(MSGCN, cf.ChannelsLastMSGCN),
    _Rule(STMSGCN, cf.ChannelsLastSTMSGCN),
    _Rule(UnfoldTemporalWindows, cf.ChannelsLastUnfold),
]
_CPU_EVAL = [
    _Rule(UnitGCN, cf.FoldedUnitGCN, _can_fold_unit_gcn),
    _Rule(UnitGCN, cf.ChannelsLastUnitGCN, _require_pre_conv),
    _Rule(MSTCN, cf.MergedMSTCN, _can_merge_mstcn),
    _Rule(UnitCTRGCN, cf.FoldedUnitCTRGCN, lambda m: _all_ctrgc(m) and _can_fold_ctrgcn(m)),
    *_CPU_TRAIN[1:],
]
#: subclasses with their own forward that the rules above know and deliberately leave plain
_KEPT = {DGMSTCN, CentralizedMSTCN}


def _replace_modules(model: nn.Module, rules: list[_Rule], strict: bool) -> nn.Module:
    converted = {rule.form for rule in rules}
    unknown = []
    replacements = []
    for name, module in model.named_modules():
        kind = type(module)
        if kind in converted or kind in _KEPT:
            continue
        for rule in rules:
            if kind is rule.cls:
                if rule.when(module):
                    replacements.append((name, rule.form.from_module(module)))
                    break
            elif isinstance(module, rule.cls):
                unknown.append((name, module, rule.cls))
                break
    _report_unknown(unknown, "give it a faster form", strict)
    for name, new in replacements:
        if not name:
            model = new
            continue
        parent, _, child = name.rpartition(".")
        model.get_submodule(parent)._modules[child] = new
    return model


def _report_unknown(unknown: list, what: str, strict: bool) -> None:
    if not unknown:
        return
    lines = [f"{name or '<model>'} ({type(module).__name__}, a subclass of {base.__name__})"
             for name, module, base in unknown]
    msg = (f"cannot {what}: " + "; ".join(lines) + ". The conversion was written for the base class "
           "and this subclass may compute something else; pass strict=False to keep it in its plain "
           "form, or add a conversion for it to pyskl.models.deploy")
    if strict:
        raise ConversionError(msg)
    warnings.warn(msg + " (kept plain)", stacklevel=3)


# ---- recognizer inference form ----------------------------------------------------------------------

def _padding_sources(x: torch.Tensor) -> torch.Tensor | None:
    """For persons [N, M, ...] flattened to N*M: each all-zero person's stand-in (the first all-zero
    person of its slot), every other person itself; None when no person is all zero."""
    padding = (x == 0).flatten(2).all(-1)  # N, M
    if not padding.any():
        return None
    n, m = padding.shape
    index = torch.arange(n * m, device=x.device).view(n, m)
    first = torch.where(padding, index, n * m).amin(0)  # [M]: first padded person of each slot
    return torch.where(padding, first.expand(n, m), index).flatten()


class PersonPassRecognizerGCN(RecognizerGCN):
    """Inference :class:`RecognizerGCN` for a person-wise backbone: the same features, computed with

    * all-zero persons (FormatGCNInput's padding of one-person samples) in the same person slot
      sharing one pass: after the data BN they are the same input, so a padded sample costs half;
    * the persons going through the blocks ``frames_per_pass`` person-frames at a time (None: all at
      once), which keeps a pass's activations in the caches on a CPU.
    """

    frames_per_pass: int | None = None

    @classmethod
    def from_module(cls, model: RecognizerGCN, frames_per_pass: int | None) -> PersonPassRecognizerGCN:
        new = cf._rebuild(cls, model)
        new.frames_per_pass = frames_per_pass
        return new

    def extract_feat(self, x: torch.Tensor) -> torch.Tensor:
        n, m, t = x.shape[:3]
        persons = self.backbone.normalize_input(x)  # [N*M, C, T, V]
        source = _padding_sources(x)
        if source is None:
            feats = self._in_passes(persons, t)
        else:
            kept = torch.unique(source)  # sorted
            feats = self._in_passes(persons[kept].contiguous(memory_format=self.backbone.memory_format), t)
            feats = feats[torch.searchsorted(kept, source)]
        return feats.contiguous().reshape((n, m) + feats.shape[1:])

    def _in_passes(self, persons: torch.Tensor, frames: int) -> torch.Tensor:
        fn = self.backbone.forward_persons
        per_pass = max(1, self.frames_per_pass // frames) if self.frames_per_pass else persons.shape[0]
        if persons.shape[0] <= per_pass:
            return fn(persons)
        return torch.cat([fn(part) for part in persons.split(per_pass)])


#: person-frames (clips x M x T) per backbone pass in CPU inference: a few clips of 2 x 100 frames
#: per pass, so that a pass's activations stay in the caches (see benchmarks/bench_models.py)
CPU_FRAMES_PER_PASS = 800


# ---- the entry point --------------------------------------------------------------------------------

def prepare(model: nn.Module, device: str | torch.device, mode: str = "train", *, fold_bn: bool = True,
            strict: bool = True, channels_last: bool | None = None) -> nn.Module:
    """``model`` with the fast forms for ``device`` and ``mode`` swapped in (see the module docstring).

    Args:
        model: a built model (a recognizer or a backbone), its checkpoint already loaded; it is
            converted in place where possible, so use the returned module.
        device: where the model runs; the CPU forms apply only to ``'cpu'``.
        mode: ``'train'`` (forms that train; the state_dict keeps PYSKL's keys) or ``'eval'``
            (inference forms too; the model is put in eval mode).
        fold_bn: (eval) fold BatchNorms into their convs.
        strict: refuse a subclass of a converted class (``False``: keep it plain, with a warning).
        channels_last: use the channels-last activations and forms (``gcns.cpu_forms``, written for
            oneDNN but plain torch ops that run on any device). None: on the CPU only. On CUDA they
            are an option to measure (``benchmarks/profile_gpu_step.py``): cuDNN's and PyTorch's NHWC
            BatchNorm kernels parallelise over the batch where the NCHW ones reduce one channel per block.

    Returns:
        The converted model.

    Raises:
        ConversionError: a layer ``prepare`` does not recognise (``strict``).
    """
    if mode not in _MODES:
        raise ValueError(f"prepare mode must be 'train' or 'eval', got {mode!r}")
    on_cpu = torch.device(device).type == "cpu"
    if channels_last is None:
        channels_last = on_cpu
    if mode == "eval":
        model.eval()
        if fold_bn:
            fold_batch_norms(model, strict)
    if channels_last:
        for module in model.modules():
            if type(module) in _CHANNELS_LAST_BACKBONES:
                module.memory_format = torch.channels_last
        rules = _CPU_EVAL if mode == "eval" and fold_bn else _CPU_TRAIN
        model = _replace_modules(model, rules, strict)
    if mode == "eval" and isinstance(model, RecognizerGCN) and type(model) is not PersonPassRecognizerGCN:
        if type(model) is not RecognizerGCN:
            _report_unknown([("", model, RecognizerGCN)], "run it in person passes", strict)
        elif isinstance(model.backbone, PersonwiseBackbone):
            model = PersonPassRecognizerGCN.from_module(model, CPU_FRAMES_PER_PASS if on_cpu else None)
    return model
