"""``pyskl test``: the ``test()`` entry and the one evaluation loop that training's validation shares.

``run_test`` is that loop: ``inference`` runs ``model.predict`` (clip-averaged scores,
``test_cfg.average_clips``) on this rank's shard, ``gather_results`` puts every rank's rows back in
dataset order, and the metrics are computed on them. The results file written by ``save_results``
(``.pkl`` or ``.json``) is what ``pyskl fuse`` reads::

    {"scores": float32 [N, K], "labels": int64 [N], "frame_dir": [str] * N,
     "metrics": {name: value}, "average_clips": str | None}

The ``.pkl`` holds only numpy arrays and builtins, so ``pyskl.datasets.io``'s restricted unpickler
accepts it.
"""
from __future__ import annotations

import contextlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .batch_input import batch_input, build_heatmap_renderer
from .dist import DistEnv, all_gather_object
from .logging import progress

__all__ = ["inference", "prepare_for_inference", "gather_results", "save_results", "load_results", "autocast",
           "run_test", "TestOptions", "test"]


def autocast(device: torch.device, amp: str | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``--amp bf16|fp16`` (a no-op context without it)."""
    if not amp:
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    if dtype is None:
        raise ValueError(f"--amp must be bf16 or fp16, got {amp!r}")
    return torch.autocast(device_type=device.type, dtype=dtype)


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


@torch.no_grad()
def inference(model: nn.Module, loader: Any, env: DistEnv, amp: str | None = None,
              average_clips: str | None | type(...) = ..., desc: str = "test",
              show_progress: bool = True, renderer: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores of this rank's shard: ``(indices [n], scores [n, K] float32)``.

    Args:
        average_clips: override ``test_cfg.average_clips`` ('prob', 'score', None); ``...`` keeps it.
        renderer: heatmap renderer for batches of ``PoseToHeatmapInput`` keypoints (see batch_input).
    """
    net = _unwrap(model)
    was_training = net.training
    net.eval()
    saved = net.test_cfg.get("average_clips", "prob") if hasattr(net, "test_cfg") else None
    if average_clips is not ... and hasattr(net, "test_cfg"):
        net.test_cfg["average_clips"] = average_clips
    indices = list(getattr(loader.sampler, "indices", range(len(loader.dataset))))
    rows = []
    try:
        for batch in progress(loader, len(loader), desc, enabled=show_progress and env.is_main):
            x = batch_input(batch, env.device, renderer)
            with autocast(env.device, amp):
                scores = net.predict(x)
            rows.append(scores.float().reshape(scores.shape[0], -1).cpu().numpy())
    finally:
        if hasattr(net, "test_cfg"):
            net.test_cfg["average_clips"] = saved
        net.train(was_training)
    scores_arr = np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
    if len(indices) != len(scores_arr):
        raise RuntimeError(f"sampler yielded {len(indices)} indices but the model scored "
                           f"{len(scores_arr)} samples")
    return np.asarray(indices, dtype=np.int64), scores_arr.astype(np.float32)


def gather_results(indices: np.ndarray, scores: np.ndarray, n: int, env: DistEnv) -> np.ndarray:
    """All ranks' rows in dataset order ``[n, K]``; checks every index arrives exactly once."""
    parts = all_gather_object((indices, scores), env)
    all_idx = np.concatenate([p[0] for p in parts])
    all_scores = np.concatenate([p[1] for p in parts if len(p[1])])
    counts = np.bincount(all_idx, minlength=n)
    if len(counts) != n or not np.all(counts == 1):
        raise RuntimeError(f"gathered results cover indices wrongly: {int((counts == 0).sum())} missing, "
                           f"{int((counts > 1).sum())} duplicated of {n}")
    out = np.empty((n,) + all_scores.shape[1:], dtype=all_scores.dtype)
    out[all_idx] = all_scores
    return out


def save_results(path: str | Path, scores: np.ndarray, labels: np.ndarray, frame_dirs: list[str],
                 metrics: dict[str, float] | None = None, average_clips: str | None = "prob") -> Path:
    """Write per-sample scores, labels and frame_dirs as ``.pkl`` or ``.json`` (by suffix)."""
    path = Path(path)
    record = {"scores": np.asarray(scores, dtype=np.float32), "labels": np.asarray(labels, dtype=np.int64),
              "frame_dir": [str(f) for f in frame_dirs], "metrics": dict(metrics or {}),
              "average_clips": average_clips}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".json":
        out = dict(record, scores=record["scores"].tolist(), labels=record["labels"].tolist())
        tmp.write_text(json.dumps(out))
    elif path.suffix in (".pkl", ".pickle"):
        with open(tmp, "wb") as f:
            pickle.dump(record, f, protocol=4)
    else:
        raise ValueError(f"--out must end in .pkl or .json, got {path.name!r}")
    tmp.replace(path)
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results file back (``.json``; ``.pkl`` through the restricted annotation unpickler)."""
    path = Path(path)
    if path.suffix == ".json":
        rec = json.loads(path.read_text())
    else:
        from ..datasets.io import load_annotations  # restricted unpickler: runs nothing it names

        rec = load_annotations(path, validate=False)
    rec["scores"] = np.asarray(rec["scores"], dtype=np.float32)
    rec["labels"] = np.asarray(rec["labels"], dtype=np.int64)
    return rec


def run_test(model: nn.Module, dataset: Any, rt: Any, env: DistEnv, amp: str | None, desc: str,
             seed: int | None = None, out: str | None = None, average_clips: Any = ...,
             metrics: list[str] | None = None, loader_settings: dict | None = None) -> dict[str, float]:
    """Multi-clip evaluation of ``model`` on ``dataset`` on all ranks (``pyskl test`` and validation
    during training); rank 0 writes ``out`` when given.

    Args:
        loader_settings: the loader dict (``rt.val_loader`` for validation); default ``rt.test_loader``.
    """
    from ..core.evaluation import evaluate
    from .data import build_eval_loader, dataset_frame_dirs, dataset_labels

    settings = rt.test_loader if loader_settings is None else loader_settings
    loader = build_eval_loader(dataset, settings, env, seed)
    idx, scores = inference(model, loader, env, amp=amp, average_clips=average_clips, desc=desc,
                            renderer=build_heatmap_renderer(getattr(rt, "device_heatmap", None)))
    all_scores = gather_results(idx, scores, len(dataset), env)
    labels = dataset_labels(dataset)
    found = evaluate(all_scores, labels, metrics or rt.eval_metrics, rt.eval_topk) if len(labels) else {}
    if out and env.is_main:
        net = _unwrap(model)
        mode = net.test_cfg.get("average_clips") if average_clips is ... else average_clips
        save_results(out, all_scores, labels, dataset_frame_dirs(dataset), found, mode)
    return found


@dataclass
class TestOptions:
    """Command-line choices of ``pyskl test``."""

    checkpoint: str | None = None
    out: str | None = None
    metrics: list = field(default_factory=lambda: ["top_k_accuracy", "mean_class_accuracy"])
    average_clips: Any = ...  # '...' keeps model.test_cfg
    work_dir: str | None = None
    device: str | None = None
    amp: str | None = None
    compile: bool = False
    fuse_bn: bool = True


def prepare_for_inference(model: nn.Module, fuse_bn: bool = True, compile_: bool = False,
                          device: str | torch.device | None = None) -> nn.Module:
    """``model`` ready for inference: ``pyskl.models.deploy.prepare(model, device, 'eval')`` (BatchNorms
    folded unless ``fuse_bn`` is False, the device's fast forms) and, optionally, a compiled backbone.

    Folding removes the folded BNs from the state_dict, so use the result only for inference.
    ``torch.compile`` wraps the backbone's ``forward_persons`` (which GCN inference calls directly)
    or else the backbone, not the recognizer, because testing calls ``predict``, which a compiled
    ``forward`` would bypass; with Inductor's freezing the weights become constants, so convs get
    prepacked weights.

    Args:
        device: where the model runs; default: the device of its first parameter.
    """
    from ..models.deploy import prepare

    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    model = prepare(model, device, "eval", fold_bn=fuse_bn)
    if compile_:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # applies to no-grad graphs only; training is unaffected
        target = model.backbone if hasattr(model, "backbone") else model
        if hasattr(target, "forward_persons"):
            target.forward_persons = torch.compile(target.forward_persons)
            return model
        compiled = torch.compile(target)
        if target is model:
            return compiled
        model.backbone = compiled
    return model


def test(cfg: dict, opts: TestOptions) -> dict[str, float]:
    """Build ``data.test`` and the model, load the checkpoint, test, print and return the metrics."""
    from ..checkpoint import load_checkpoint
    from ..config import ConfigError
    from ..models import build_model
    from .data import build_split_dataset
    from .dist import cleanup, init_dist
    from .logging import setup_logging
    from .runtime import read_runtime

    rt = read_runtime(cfg, need_train=False)
    ckpt = opts.checkpoint
    if ckpt is None:
        work_dir = opts.work_dir or rt.work_dir
        if work_dir is None or not (Path(work_dir) / "latest.pth").exists():
            raise ConfigError("no checkpoint given and no latest.pth in the work_dir; pass CHECKPOINT")
        ckpt = str(Path(work_dir) / "latest.pth")
    env = init_dist(opts.device, rt.dist_backend)
    try:
        logger = setup_logging(None, env.rank, rt.log_level)
        head = cfg["model"].get("cls_head") or {}
        num_classes = head.get("num_classes") if isinstance(head, dict) else None
        dataset = build_split_dataset(cfg, "test", num_classes)
        model = build_model(cfg["model"]).to(env.device)
        load_checkpoint(model, ckpt)
        model = prepare_for_inference(model, opts.fuse_bn, opts.compile, env.device)
        logger.info(f"testing {ckpt} on {len(dataset)} samples ({env.world_size} process(es), {env.device})")
        metrics = run_test(model, dataset, rt, env, opts.amp, "test", out=opts.out,
                           average_clips=opts.average_clips, metrics=opts.metrics)
        if env.is_main:
            for k, v in metrics.items():
                print(f"{k}: {v:.4f}", flush=True)
            if opts.out:
                logger.info(f"per-sample results written to {opts.out}")
        return metrics
    finally:
        cleanup(env)
