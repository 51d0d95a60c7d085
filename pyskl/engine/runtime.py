"""PYSKL's runtime keys, read explicitly and type-checked before anything is built.

Each key a PYSKL config may carry is either used here, recognised as a helper variable whose value
was already inlined into ``model``/``data`` (``dataset_type``, ``train_pipeline``, ``left_kp``...),
or accepted but not acted on: those give exactly one warning each, never silence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError

__all__ = ["RuntimeConfig", "read_runtime", "loader_settings"]

# Top-level names that only exist to be inlined into other keys (no behaviour of their own).
HELPER_KEYS = {"dataset_type", "ann_file", "train_pipeline", "val_pipeline", "test_pipeline", "left_kp",
               "right_kp", "box_thr", "valid_ratio", "data_root", "data_root_val", "img_norm_cfg", "mc_cfg",
               "clip_len", "num_classes", "skeletons", "test_cfg", "train_cfg"}
USED_KEYS = {"model", "data", "optimizer", "optimizer_config", "lr_config", "total_epochs", "checkpoint_config",
             "evaluation", "log_config", "log_level", "work_dir", "load_from", "resume_from", "dist_params",
             "find_unused_parameters", "cudnn_benchmark", "workflow", "seed", "sync_bn", "memcached",
             "device_heatmap"}
_UNUSED_REASON = {
    "gpu_ids": "devices come from --device / torchrun",
    "omnisource": "OmniSource training is not supported",
    "module_hooks": "module hooks are not supported",
    "opencv_num_threads": "not used",
    "mp_start_method": "not used",
}


@dataclass
class RuntimeConfig:
    """The runtime settings of one training run, taken from the config dict."""

    total_epochs: int
    optimizer: dict
    grad_clip: dict | None
    lr_config: dict
    videos_per_gpu: int
    workers_per_gpu: int
    train_loader: dict
    val_loader: dict
    test_loader: dict
    ckpt_interval: int = 1
    max_keep_ckpts: int = -1
    save_optimizer: bool = True
    eval_interval: int = 1
    eval_metrics: list = field(default_factory=lambda: ["top_k_accuracy"])
    eval_topk: tuple = (1, 5)
    save_best: str | None = "auto"
    log_interval: int = 20
    log_level: str = "INFO"
    tensorboard: bool = True
    work_dir: str | None = None
    load_from: str | None = None
    resume_from: str | None = None
    find_unused_parameters: bool = False
    dist_backend: str | None = None
    cudnn_benchmark: bool = False
    sync_bn: bool = False
    device_heatmap: dict | None = None  # GeneratePoseTarget args: render heatmaps in the step
    device_pipeline: dict | None = None  # data.device_pipeline options: the train pipeline runs on the device
    warnings: list = field(default_factory=list)


def _typed(cfg: dict, key: str, types: type | tuple, where: str, default: Any = ..., allow_none: bool = False) -> Any:
    if key not in cfg:
        if default is ...:
            raise ConfigError(f"config key '{where}{key}' is required")
        return default
    value = cfg[key]
    if value is None and allow_none:
        return None
    names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
    allowed = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise ConfigError(f"config key '{where}{key}' must be {names}, got {type(value).__name__} {value!r}")
    return value


def _leftovers(section: dict, known: set, where: str, warnings: list, why: str = "not used by pyskl") -> None:
    for key in section:
        if key not in known:
            warnings.append(f"config key '{where}{key}' is accepted but ignored ({why})")


def _value_inlined(value: Any, tree: Any) -> bool:
    if tree == value and value not in (None, True, False, 0, 1, "", [], {}):
        return True
    if isinstance(tree, dict):
        return any(_value_inlined(value, v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return any(_value_inlined(value, v) for v in tree)
    return False


def loader_settings(data: dict, split: str, videos_per_gpu: int, workers_per_gpu: int) -> dict:
    """Batch size and workers for one split: ``data.{split}_dataloader`` overrides the shared keys."""
    over = data.get(f"{split}_dataloader") or {}
    if not isinstance(over, dict):
        raise ConfigError(f"config key 'data.{split}_dataloader' must be dict, got {type(over).__name__}")
    out = {"videos_per_gpu": videos_per_gpu, "workers_per_gpu": workers_per_gpu}
    for key in ("videos_per_gpu", "workers_per_gpu"):
        if key in over:
            out[key] = _typed(over, key, int, f"data.{split}_dataloader.")
    for key in ("persistent_workers", "pin_memory", "shuffle", "drop_last"):
        if key in over:
            out[key] = bool(over[key])
    return out


def _device_pipeline(value: Any) -> dict | None:
    """``data.device_pipeline``: False/None (off), True (defaults) or ``dict(storage='float16')``."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if not isinstance(value, dict) or set(value) - {"storage"}:
        raise ConfigError(f"config key 'data.device_pipeline' must be True, False or dict(storage=...), got {value!r}")
    return dict(value)


def read_runtime(cfg: dict, need_train: bool = True) -> RuntimeConfig:
    """Check the runtime keys' types and collect them; ``.warnings`` lists the ignored ones."""
    if not isinstance(cfg.get("model"), dict):
        raise ConfigError("config key 'model' is required and must be a dict")
    data = _typed(cfg, "data", dict, "")
    warnings: list[str] = []
    for key in cfg:
        if key in USED_KEYS or key in HELPER_KEYS:
            continue
        if key in _UNUSED_REASON:
            warnings.append(f"config key '{key}' is accepted but ignored ({_UNUSED_REASON[key]})")
        elif not _value_inlined(cfg[key], {"model": cfg["model"], "data": data}):
            warnings.append(f"config key '{key}' is accepted but ignored (not a runtime key pyskl knows)")

    videos = _typed(data, "videos_per_gpu", int, "data.", default=16)
    workers = _typed(data, "workers_per_gpu", int, "data.", default=2)
    if videos < 1 or workers < 0:
        raise ConfigError(f"data.videos_per_gpu must be >= 1 and data.workers_per_gpu >= 0 (got {videos}, {workers})")
    for split in ("train", "val", "test"):
        if split in data and not isinstance(data[split], dict):
            raise ConfigError(f"config key 'data.{split}' must be dict, got {type(data[split]).__name__}")
    if need_train and "train" not in data:
        raise ConfigError("config key 'data.train' is required for training")
    _leftovers(data, {"videos_per_gpu", "workers_per_gpu", "train", "val", "test", "train_dataloader",
                      "val_dataloader", "test_dataloader", "device_pipeline"}, "data.", warnings)
    device_pipeline = _device_pipeline(data.get("device_pipeline", False))
    train_loader = loader_settings(data, "train", videos, workers)
    # PYSKL's test_dataloader also serves validation unless val_dataloader is given.
    val_loader = loader_settings(data, "val", videos, workers) if "val_dataloader" in data else \
        loader_settings(data, "test", videos, workers)
    test_loader = loader_settings(data, "test", videos, workers)

    total_epochs = _typed(cfg, "total_epochs", int, "", default=None if not need_train else ...)
    if need_train and total_epochs < 1:
        raise ConfigError(f"total_epochs must be >= 1, got {total_epochs}")
    optimizer = _typed(cfg, "optimizer", dict, "", default=None if not need_train else ...)
    if optimizer is not None:
        if "lr" in optimizer and not isinstance(optimizer["lr"], (int, float)):
            raise ConfigError(f"config key 'optimizer.lr' must be a number, got {optimizer['lr']!r}")
        if "paramwise_cfg" in optimizer:
            optimizer = {k: v for k, v in optimizer.items() if k != "paramwise_cfg"}
            warnings.append("config key 'optimizer.paramwise_cfg' is accepted but ignored (not supported)")

    opt_cfg = _typed(cfg, "optimizer_config", dict, "", default={}, allow_none=True) or {}
    grad_clip = _typed(opt_cfg, "grad_clip", dict, "optimizer_config.", default=None, allow_none=True)
    if grad_clip is not None:
        _typed(grad_clip, "max_norm", (int, float), "optimizer_config.grad_clip.")
        _leftovers(grad_clip, {"max_norm", "norm_type"}, "optimizer_config.grad_clip.", warnings)
    _leftovers(opt_cfg, {"grad_clip"}, "optimizer_config.", warnings)

    lr_config = _typed(cfg, "lr_config", dict, "", default={"policy": "fixed"}, allow_none=True) or {"policy": "fixed"}

    ckpt = _typed(cfg, "checkpoint_config", dict, "", default={}, allow_none=True) or {}
    ckpt_interval = _typed(ckpt, "interval", int, "checkpoint_config.", default=1)
    max_keep = _typed(ckpt, "max_keep_ckpts", int, "checkpoint_config.", default=-1)
    save_optimizer = bool(ckpt.get("save_optimizer", True))
    if ckpt.get("by_epoch", True) is not True:
        raise ConfigError("checkpoint_config.by_epoch=False is not supported (checkpoints are per epoch)")
    _leftovers(ckpt, {"interval", "max_keep_ckpts", "save_optimizer", "by_epoch"}, "checkpoint_config.", warnings)

    ev = _typed(cfg, "evaluation", dict, "", default={}, allow_none=True) or {}
    eval_interval = _typed(ev, "interval", int, "evaluation.", default=1)
    metrics = ev.get("metrics", ["top_k_accuracy"])
    metrics = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(metrics, (list, tuple)) or not all(isinstance(m, str) for m in metrics):
        raise ConfigError(f"config key 'evaluation.metrics' must be a str or list of str, got {metrics!r}")
    from ..core.evaluation import SUPPORTED_METRICS

    for m in metrics:
        if m not in SUPPORTED_METRICS:
            raise ConfigError(f"evaluation.metrics: {m!r} is not supported "
                              f"(choose from {', '.join(SUPPORTED_METRICS)})")
    topk = ev.get("topk", (1, 5))
    topk = (topk,) if isinstance(topk, int) else tuple(topk)
    if not all(isinstance(k, int) and k >= 1 for k in topk):
        raise ConfigError(f"config key 'evaluation.topk' must be positive ints, got {topk!r}")
    save_best = ev.get("save_best", "auto")
    if ev.get("rule", "greater") != "greater":
        raise ConfigError("evaluation.rule: only 'greater' is supported")
    _leftovers(ev, {"interval", "metrics", "topk", "save_best", "rule", "by_epoch"}, "evaluation.", warnings,
               "RGBPose-only or not supported")

    log_cfg = _typed(cfg, "log_config", dict, "", default={}, allow_none=True) or {}
    log_interval = _typed(log_cfg, "interval", int, "log_config.", default=20)
    for hook in log_cfg.get("hooks", []) or []:
        kind = hook.get("type") if isinstance(hook, dict) else hook
        if kind not in ("TextLoggerHook", "TensorboardLoggerHook"):
            warnings.append(f"config key 'log_config.hooks' entry {kind!r} is accepted but ignored "
                            "(pyskl logs text, log.jsonl and TensorBoard itself)")
    _leftovers(log_cfg, {"interval", "hooks"}, "log_config.", warnings)

    workflow = cfg.get("workflow", [("train", 1)])
    if [list(w) for w in workflow] != [["train", 1]]:
        warnings.append(f"config key 'workflow' = {workflow!r} is accepted but ignored (pyskl trains; "
                        "validation follows evaluation.interval)")
    if cfg.get("memcached"):
        warnings.append("config key 'memcached' is accepted but ignored (pyskl train does not start a "
                        "memcached server; start one yourself before training)")
    dist_params = _typed(cfg, "dist_params", dict, "", default={}, allow_none=True) or {}

    return RuntimeConfig(
        total_epochs=total_epochs, optimizer=optimizer, grad_clip=grad_clip, lr_config=lr_config,
        videos_per_gpu=videos, workers_per_gpu=workers, train_loader=train_loader, val_loader=val_loader,
        test_loader=test_loader, ckpt_interval=ckpt_interval, max_keep_ckpts=max_keep,
        save_optimizer=save_optimizer, eval_interval=eval_interval, eval_metrics=list(metrics), eval_topk=topk,
        save_best=save_best, log_interval=log_interval,
        log_level=_typed(cfg, "log_level", str, "", default="INFO"),
        work_dir=_typed(cfg, "work_dir", str, "", default=None, allow_none=True),
        load_from=_typed(cfg, "load_from", str, "", default=None, allow_none=True),
        resume_from=_typed(cfg, "resume_from", str, "", default=None, allow_none=True),
        find_unused_parameters=bool(cfg.get("find_unused_parameters", False)),
        dist_backend=dist_params.get("backend"),
        cudnn_benchmark=bool(cfg.get("cudnn_benchmark", False)),
        sync_bn=bool(cfg.get("sync_bn", False)),
        device_heatmap=_typed(cfg, "device_heatmap", dict, "", default=None, allow_none=True),
        device_pipeline=device_pipeline,
        warnings=warnings)
