"""``pyskl.models.deploy``: every conversion gives the unconverted layer's outputs and gradients.

Layers are compared in float64 (no float32 rounding or ReLU-mask flips), so the tolerances are a few
ulps of the sums involved (1e-10). Each conversion is parametrised over the blocks it applies to;
subclasses it was not written for are refused by name, or kept plain with ``strict=False``.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from gcn_backbone_checks import randomize_gates, randomize_norms
from torch import nn

from pyskl.models import build_model
from pyskl.models.deploy import ConversionError, PersonPassRecognizerGCN, fold_batch_norms, prepare
from pyskl.models.gcns import cpu_forms as cf
from pyskl.models.gcns.blocks import MSTCN, MultiScaleTCN, UnitGCN, UnitTCN
from pyskl.models.gcns.ctrgcn import UnitCTRGCN
from pyskl.models.gcns.dgstgcn import DGMSTCN
from pyskl.models.gcns.msg3d import MSGCN, STMSGCN, MSG3DBlock, UnfoldTemporalWindows
from pyskl.utils import Graph

TOL = dict(rtol=1e-10, atol=1e-10)
A_COCO = torch.tensor(Graph("coco", "spatial").A, dtype=torch.float32)
A_BINARY = np.asarray(Graph("coco", "binary_adj").A[0])


def _trained_looking(module: nn.Module, seed: int = 0) -> nn.Module:
    """float64, non-trivial BN statistics, conv biases, gates and adjacency offsets."""
    module = randomize_norms(module.double(), seed)
    randomize_gates(module, ("alpha",), seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, p in module.named_parameters():
            if key.endswith("bias") or key.endswith("PA"):
                p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.05)
    return module


def _outputs_and_grads(module: nn.Module, x: torch.Tensor, train: bool) -> tuple:
    """Output, and (train) the gradients of every parameter and of the input for a fixed weighting."""
    x = x.detach().clone().requires_grad_(train)
    with torch.set_grad_enabled(train):
        out = module(x)
    if not train:
        return out, {}
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    grads = {k: p.grad for k, p in module.named_parameters()}
    grads["input"] = x.grad
    return out, grads


def _assert_same(converted: nn.Module, plain: nn.Module, x: torch.Tensor, train: bool) -> None:
    out, grads = _outputs_and_grads(converted.train(train), x, train)
    want, want_grads = _outputs_and_grads(plain.train(train), x, train)
    torch.testing.assert_close(out, want, **TOL)
    assert grads.keys() == want_grads.keys()
    for key in want_grads:
        torch.testing.assert_close(grads[key], want_grads[key], **TOL, msg=key)


def _inputs(channels: int, frames: int = 9, joints: int = 17) -> list[torch.Tensor]:
    x = torch.randn(2, channels, frames, joints, dtype=torch.float64)
    return [x, x.contiguous(memory_format=torch.channels_last)]  # prepare makes it channels-last


UNIT_GCNS = {
    "init+res-conv": lambda: UnitGCN(4, 6, A_COCO, adaptive="init", with_res=True),
    "init+res-identity": lambda: UnitGCN(6, 6, A_COCO, adaptive="init", with_res=True),
    "importance": lambda: UnitGCN(4, 6, A_COCO, adaptive="importance"),
    "offset+res-conv": lambda: UnitGCN(4, 6, A_COCO, adaptive="offset", with_res=True),
    "none+leaky": lambda: UnitGCN(4, 6, A_COCO, adaptive=None, act=dict(type="LeakyReLU")),
}


@pytest.mark.parametrize("layout", ["nchw", "channels-last"])
@pytest.mark.parametrize("name", list(UNIT_GCNS))
def test_channels_last_unit_gcn(name, layout):
    torch.manual_seed(0)
    plain = _trained_looking(UNIT_GCNS[name]())
    x = _inputs(plain.in_channels)[layout == "channels-last"]
    for train in (True, False):
        _assert_same(cf.ChannelsLastUnitGCN.from_module(copy.deepcopy(plain)), copy.deepcopy(plain), x, train)


@pytest.mark.parametrize("name", list(UNIT_GCNS))
def test_folded_unit_gcn(name):
    torch.manual_seed(0)
    plain = _trained_looking(UNIT_GCNS[name]()).eval()
    folded = fold_batch_norms(copy.deepcopy(plain))  # the residual's conv + BN first, as prepare does
    folded = cf.FoldedUnitGCN.from_module(folded)
    assert isinstance(folded.bn, nn.Identity)
    for x in _inputs(plain.in_channels):
        _assert_same(folded, plain, x, train=False)
        # folded weights are still differentiable in the input
        out = folded.eval()(x.clone().requires_grad_())
        assert out.requires_grad


MSTCNS = {
    "default": lambda: MSTCN(12, 12),
    "stride2": lambda: MSTCN(12, 12, stride=2),
    "ratio+kernel5": lambda: MSTCN(12, 12, mid_channels=0.25, ms_cfg=[(3, 1), (5, 2), ("max", 3), "1x1"]),
}


@pytest.mark.parametrize("name", list(MSTCNS))
def test_merged_mstcn(name):
    torch.manual_seed(0)
    plain = _trained_looking(MSTCNS[name]()).eval()
    merged = cf.MergedMSTCN.from_module(fold_batch_norms(copy.deepcopy(plain)))
    for x in _inputs(12):
        _assert_same(merged, plain, x, train=False)


MULTISCALE_TCNS = {
    "no-residual": lambda: MultiScaleTCN(12, 12, kernel_size=5, dilations=(1, 2), residual=False),
    "identity": lambda: MultiScaleTCN(12, 12),
    "strided-conv": lambda: MultiScaleTCN(12, 24, stride=2),
    "kernels": lambda: MultiScaleTCN(8, 8, kernel_size=[3, 5], dilations=(1, 2)),
}


@pytest.mark.parametrize("no_act", [False, True])
@pytest.mark.parametrize("name", list(MULTISCALE_TCNS))
def test_channels_last_multiscale_tcn(name, no_act):
    torch.manual_seed(0)
    plain = _trained_looking(MULTISCALE_TCNS[name]())
    if no_act:  # MS-G3D's second spatial TCN has no final activation
        plain.act = nn.Identity()
    for x in _inputs(plain.branches[0][0].in_channels):
        for train in (True, False):
            _assert_same(cf.ChannelsLastMultiScaleTCN.from_module(copy.deepcopy(plain)), copy.deepcopy(plain),
                         x, train)


@pytest.mark.parametrize("channels", [(3, 8), (16, 16), (16, 32)])
def test_ctrgcn_unit_forms(channels):
    torch.manual_seed(0)
    plain = _trained_looking(UnitCTRGCN(*channels, A_COCO))
    for x in _inputs(channels[0]):
        for train in (True, False):
            _assert_same(cf.ChannelsLastUnitCTRGCN.from_module(copy.deepcopy(plain)), copy.deepcopy(plain),
                         x, train)
        folded = cf.FoldedUnitCTRGCN.from_module(fold_batch_norms(copy.deepcopy(plain).eval()))
        _assert_same(folded, copy.deepcopy(plain), x, train=False)


@pytest.mark.parametrize("channels", [3, 16])  # the raw coordinates take a GEMM, wide inputs a bmm
def test_channels_last_msgcn(channels):
    torch.manual_seed(0)
    plain = _trained_looking(MSGCN(3, channels, 8, A_BINARY))
    for x in _inputs(channels):
        for train in (True, False):
            converted = cf.ChannelsLastMSGCN.from_module(copy.deepcopy(plain))
            _assert_same(converted, copy.deepcopy(plain), x, train)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("channels", [3, 16])
def test_channels_last_stmsgcn(channels, residual):
    torch.manual_seed(0)
    plain = _trained_looking(STMSGCN(channels, 8, A_BINARY, num_scales=2, window_size=3, residual=residual))
    for x in _inputs(channels, joints=3 * 17):
        for train in (True, False):
            _assert_same(cf.ChannelsLastSTMSGCN.from_module(copy.deepcopy(plain)), copy.deepcopy(plain), x,
                         train)


@pytest.mark.parametrize("size,stride,dilation", [(3, 1, 1), (5, 2, 1), (3, 1, 2), (3, 2, 3)])
def test_channels_last_unfold(size, stride, dilation):
    plain = UnfoldTemporalWindows(size, stride, dilation)
    for x in _inputs(4, frames=11, joints=5):
        converted = cf.ChannelsLastUnfold.from_module(copy.deepcopy(plain))
        _assert_same(converted, plain, x, train=True)
        assert converted(x).is_contiguous(memory_format=torch.channels_last)


FOLDABLE = {  # name: (block, input channels)
    "unit_tcn": (lambda: UnitTCN(6, 8, kernel_size=3, stride=2), 6),
    "mstcn": (lambda: MSTCN(12, 12), 12),
    "dgmstcn": (lambda: DGMSTCN(12, 12, num_joints=17), 12),
    "msg3d_block": (lambda: MSG3DBlock(8, 8, A_BINARY, num_scales=2, window_size=3, window_stride=1,
                                       window_dilation=1), 8),
    "sequential": (lambda: nn.Sequential(nn.Conv2d(6, 8, 1), nn.BatchNorm2d(8), nn.ReLU()), 6),
}


@pytest.mark.parametrize("name", list(FOLDABLE))
def test_fold_batch_norms(name):
    torch.manual_seed(0)
    block, channels = FOLDABLE[name]
    plain = _trained_looking(block())
    if name == "dgmstcn":
        randomize_gates(plain, ("add_coeff",))
    plain.eval()
    folded = fold_batch_norms(copy.deepcopy(plain))
    norms = [m for m in folded.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) < len([m for m in plain.modules() if isinstance(m, nn.BatchNorm2d)])
    for x in _inputs(channels):
        _assert_same(folded, plain, x, train=False)
    with pytest.raises(RuntimeError, match="eval"):
        fold_batch_norms(copy.deepcopy(plain).train())


SMALL_MODELS = {
    "stgcn": dict(type="STGCN", base_channels=16, num_stages=4, inflate_stages=[3], down_stages=[3]),
    "stgcnpp": dict(type="STGCN", gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn", base_channels=16,
                    num_stages=4, inflate_stages=[3], down_stages=[3]),
    "stgcn-post": dict(type="STGCN", gcn_adaptive="offset", gcn_conv_pos="post", gcn_with_res=True,
                       base_channels=16, num_stages=3, inflate_stages=[3], down_stages=[3]),
    "ctrgcn": dict(type="CTRGCN", base_channels=16, num_stages=4, inflate_stages=[3], down_stages=[3]),
    "msg3d": dict(type="MSG3D", base_channels=12, num_gcn_scales=3, num_g3d_scales=2),
    "aagcn": dict(type="AAGCN", base_channels=16, num_stages=3, inflate_stages=[3], down_stages=[3]),
    "dgstgcn": dict(type="DGSTGCN", base_channels=16, num_stages=3, inflate_stages=[3], down_stages=[3]),
}
HEAD_CHANNELS = {"msg3d": 48}


def _small_recognizer(name: str) -> nn.Module:
    torch.manual_seed(0)
    np.random.seed(0)
    mode = {"msg3d": "binary_adj", "dgstgcn": "random"}.get(name, "spatial")
    backbone = dict(SMALL_MODELS[name], graph_cfg=dict(layout="coco", mode=mode))
    model = build_model(dict(type="RecognizerGCN", backbone=backbone,
                             cls_head=dict(type="GCNHead", num_classes=5,
                                           in_channels=HEAD_CHANNELS.get(name, 32))))
    model = _trained_looking(model)
    randomize_gates(model, ("beta", "add_coeff", "gamma"))
    return model


@pytest.mark.parametrize("name", [
    name if name == "stgcnpp" else pytest.param(name, marks=pytest.mark.slow) for name in SMALL_MODELS])
def test_prepared_models_equal_the_plain_model(name):
    """Whole models: the train forms in training (outputs, every gradient, the state_dict and the BN
    statistics it updates) and the eval forms (folded, merged, person passes) in inference."""
    plain = _small_recognizer(name)
    x = torch.randn(3, 1, 2, 10, 17, 3, dtype=torch.float64)
    trained = prepare(copy.deepcopy(plain), "cpu", "train")
    assert list(trained.state_dict()) == list(plain.state_dict())  # checkpoints keep PYSKL's keys
    reference = copy.deepcopy(plain)
    _assert_same(trained, reference, x, train=True)
    # a padded one-person sample; not in training above: its constant frames tie in the max-pooling,
    # whose gradient then goes to whichever tied frame the kernel picks
    x[0, :, 1] = 0
    for (key, value), want in zip(trained.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(value, want, **TOL, msg=key)
    inference = prepare(copy.deepcopy(plain), "cpu", "eval")
    assert isinstance(inference, PersonPassRecognizerGCN) and not inference.training
    with torch.no_grad():
        torch.testing.assert_close(inference.predict(x), plain.eval().predict(x), **TOL)
        torch.testing.assert_close(trained.eval().predict(x), reference.eval().predict(x), **TOL)


@pytest.mark.parametrize("name", ["stgcnpp", "ctrgcn"])
def test_train_forms_train_under_bf16_autocast(name):
    """Mixed precision: the train forms run forward and backward under bf16 autocast (their matmuls see
    bf16 gradients next to fp32 saved inputs) and give the plain model's loss and gradients to bf16
    accuracy. Both runs round differently, so they are compared as whole vectors: a relative error of a
    few times bf16's unit roundoff (2**-8) over the layers. Single entries are not compared: the gradient
    of a conv bias followed by BatchNorm is zero in exact arithmetic and only rounding noise here."""
    plain = _small_recognizer(name).float()
    trained = prepare(copy.deepcopy(plain), "cpu", "train")
    x = torch.randn(3, 1, 2, 10, 17, 3)

    def loss_and_grads(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
        loss = logits.float().square().mean()
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert all(g.dtype == torch.float32 for g in grads)
        return loss.detach(), torch.cat([g.flatten() for g in grads])

    (loss, grads), (want_loss, want_grads) = loss_and_grads(trained), loss_and_grads(plain)
    assert grads.shape == want_grads.shape and torch.isfinite(grads).all()
    assert abs(loss - want_loss) / want_loss < 8 * 2**-8
    assert (grads - want_grads).norm() / want_grads.norm() < 8 * 2**-8


def test_eval_alone_never_changes_the_formulation():
    model = _small_recognizer("stgcnpp")
    classes = [type(m) for m in model.modules()]
    model.eval()
    assert [type(m) for m in model.modules()] == classes
    assert not any(type(m).__module__.endswith("cpu_forms") for m in model.modules())


def test_prepare_on_another_device_folds_but_keeps_the_plain_forms():
    model = prepare(_small_recognizer("stgcnpp"), "meta", "eval")  # any non-CPU device
    assert not any(type(m).__module__.endswith("cpu_forms") for m in model.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.gcn[1].tcn.branches[0])
    assert model.frames_per_pass is None
    assert prepare(_small_recognizer("stgcnpp"), "cpu", "eval").frames_per_pass


@pytest.mark.parametrize("name", ["stgcnpp", "ctrgcn"])
def test_channels_last_forms_on_request_for_another_device(name):
    """``channels_last=True`` gives a GPU the CPU's channels-last train forms (the device only picks the
    default); ``channels_last=False`` keeps the CPU on the plain forms. Same values either way."""
    plain = _small_recognizer(name)
    x = torch.randn(2, 1, 2, 10, 17, 3, dtype=torch.float64)
    forms = prepare(copy.deepcopy(plain), "cuda", "train", channels_last=True)
    assert any(type(m).__module__.endswith("cpu_forms") for m in forms.modules())
    assert forms.backbone.memory_format == torch.channels_last
    _assert_same(forms, copy.deepcopy(plain), x, train=True)
    kept = prepare(copy.deepcopy(plain), "cpu", "train", channels_last=False)
    assert [type(m) for m in kept.modules()] == [type(m) for m in plain.modules()]
    assert kept.backbone.memory_format == torch.contiguous_format


def test_prepare_checks_its_mode():
    with pytest.raises(ValueError, match="'train' or 'eval'"):
        prepare(_small_recognizer("stgcn"), "cpu", "test")


class GCNWithNorm(UnitGCN):
    """A researcher's variant: an extra LayerNorm over joints after the graph conv."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra = nn.LayerNorm(17)

    def forward(self, x, A=None):
        return self.extra(super().forward(x, A))


def _with_variant() -> nn.Module:
    model = _small_recognizer("stgcnpp")
    unit = model.backbone.gcn[1].gcn
    variant = GCNWithNorm(unit.in_channels, unit.out_channels, A_COCO, adaptive="init", with_res=True)
    variant.load_state_dict(unit.state_dict(), strict=False)
    model.backbone.gcn[1].gcn = variant.double()
    return model


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_subclass_is_refused_by_name_or_kept_plain(mode):
    model = _with_variant()
    refused = r"backbone\.gcn\.1\.gcn \(GCNWithNorm, a subclass of UnitGCN\)"
    with pytest.raises(ConversionError, match=refused):
        prepare(copy.deepcopy(model), "cpu", mode)
    with pytest.warns(UserWarning, match="GCNWithNorm"):
        converted = prepare(copy.deepcopy(model), "cpu", mode, strict=False)
    assert type(converted.backbone.gcn[1].gcn) is GCNWithNorm  # its forward (with the extra layer) kept
    assert type(converted.backbone.gcn[2].gcn) is not UnitGCN  # the others converted
    x = torch.randn(2, 1, 2, 10, 17, 3, dtype=torch.float64)
    with torch.no_grad():
        want = model.eval().predict(x)
        torch.testing.assert_close(converted.eval().predict(x), want, **TOL)
        without_extra = copy.deepcopy(model)
        without_extra.backbone.gcn[1].gcn.extra = nn.Identity()
        assert (without_extra.predict(x) - want).abs().max() > 1e-6  # the extra layer counts (float64)


def test_a_subclass_of_a_folded_block_is_refused():
    class ScaledTCN(UnitTCN):
        def forward(self, x):
            return 2 * self.bn(self.conv(x))

    seq = nn.Sequential(ScaledTCN(4, 4, kernel_size=3)).eval()
    with pytest.raises(ConversionError, match=r"0 \(ScaledTCN, a subclass of UnitTCN\)"):
        fold_batch_norms(seq)


@pytest.mark.parametrize("data_bn_type", ["VC", "MVC"])
def test_padding_persons_share_one_pass_per_slot(data_bn_type):
    model = build_model(dict(type="RecognizerGCN", backbone=dict(
        type="STGCN", graph_cfg=dict(layout="coco", mode="spatial"), gcn_adaptive="init", gcn_with_res=True,
        tcn_type="mstcn", base_channels=16, num_stages=4, inflate_stages=[3], down_stages=[3],
        data_bn_type=data_bn_type), cls_head=dict(type="GCNHead", num_classes=5, in_channels=32)))
    randomize_norms(model).eval()
    x = torch.randn(4, 2, 2, 12, 17, 3)
    x[::2, :, 1] = 0  # one-person samples, padded as FormatGCNInput does
    x[1, 0, 0] = 0  # a padded first slot too: its data-BN'd input differs from the second slot's ('MVC')
    backbone = model.backbone
    seen = []
    forward_persons = backbone.forward_persons
    backbone.forward_persons = lambda persons: seen.append(persons.shape[0]) or forward_persons(persons)
    with torch.no_grad():
        want = model.cls_head(backbone(x.reshape((8,) + x.shape[2:]))).reshape(4, 2, -1)
        got = PersonPassRecognizerGCN.from_module(model, None).predict(x)
    assert seen[-1] == 11 + 2  # 11 real persons + one shared zero person per slot, not 16
    torch.testing.assert_close(got, torch.softmax(want, -1).mean(1), rtol=1e-5, atol=1e-6)


def test_graph_conv_channels_last_is_the_einsum():
    torch.manual_seed(0)
    k, c = 3, 4
    y = torch.randn(2, k * c, 5, 6, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    A = torch.randn(k, 6, 6, dtype=torch.float64)
    expected = torch.einsum("nkctv,kvw->nctw", y.reshape(2, k, c, 5, 6), A)
    torch.testing.assert_close(cf.graph_conv_channels_last(y, A), expected)
    addend = torch.randn(1, c, 1, 1, dtype=torch.float64)
    torch.testing.assert_close(cf.graph_conv_channels_last(y, A, addend), expected + addend)
    y.requires_grad_()
    A.requires_grad_()
    assert torch.autograd.gradcheck(cf.graph_conv_channels_last, (y, A))
