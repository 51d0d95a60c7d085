"""The training run, top to bottom: config -> process group -> data -> model -> epochs -> checkpoints.

No hooks and no runner: ``train(cfg, opts)`` reads PYSKL's runtime keys (``runtime.read_runtime``),
builds everything, then loops ``train_one_epoch`` / ``evaluate`` / ``save`` per epoch.
"""
from __future__ import annotations

import os
import random
import resource
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import ConfigError, dump_config
from .data import build_split_dataset, build_train_loader
from .batch_input import batch_input, build_heatmap_renderer
from .dist import DistEnv, all_gather_object, all_reduce_mean, barrier, broadcast_object, cleanup, init_dist
from .fast_step import DeviceMeter, TrainStep, compile_model, to_channels_last
from .logging import RunLog, format_duration, get_logger, run_eta, setup_logging
from .optim import LRSchedule, build_optimizer
from .runtime import RuntimeConfig, read_runtime
from .state import (CheckpointError, capture_rng_state, config_differences, find_resume_checkpoint, jsonable_config,
                    load_training_checkpoint, restore_rng_state, save_best_checkpoint, save_training_checkpoint,
                    versions)
from ..utils.lock import clean_stale_temporaries, lock_work_dir
from .test import run_test

__all__ = ["TrainOptions", "RunFinishedError", "train", "train_one_epoch", "set_random_seed"]

# Fault injection for tests: SIGKILL this process right after the given global iteration.
_KILL_AT_ITER = int(os.environ.get("PYSKL_FAULT_KILL_AT_ITER", "0") or 0)

# Keys that may change between a run and its resumption (where it writes, not what it computes).
RESUME_IGNORED_KEYS = ("work_dir", "resume_from", "load_from", "log_config", "log_level")


class RunFinishedError(RuntimeError):
    """``--resume`` of a run that has already trained all its epochs."""


@dataclass
class TrainOptions:
    """Command-line choices for one run (``pyskl train`` flags)."""

    work_dir: str | None = None
    validate: bool = False
    test_last: bool = False
    test_best: bool = False
    seed: int | None = None
    deterministic: bool = False
    resume: str | None = None  # 'auto', a path, or None
    device: str | None = None
    amp: str | None = None
    compile: bool | str = False  # True or a torch.compile mode ('reduce-overhead': CUDA graphs)
    channels_last: bool = False  # 3D CNNs: NDHWC conv weights (fast_step.to_channels_last)
    config_path: str | None = None
    extra: dict = field(default_factory=dict)


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy's global RNG and torch; optionally make torch deterministic."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def _memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _input_and_label(batch: Any, device: torch.device, renderer: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, dict) or "label" not in batch:
        raise RuntimeError("a training batch must be a dict with 'keypoint' (or 'imgs') and 'label' "
                           "(end the pipeline with Collect(keys=['keypoint', 'label']) and ToTensor)")
    x = batch_input(batch, device, renderer)
    label = torch.as_tensor(batch["label"])
    label = label.reshape(label.shape[0], -1).squeeze(-1).long()
    return x, label.to(device, non_blocking=True)


@dataclass
class _Loop:
    """Mutable training state shared by the epoch function and the checkpoint writer."""

    model: nn.Module
    net: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: Any
    env: DistEnv
    rt: RuntimeConfig
    opts: TrainOptions
    runlog: RunLog
    renderer: Any = None  # renders PoseC3D heatmaps in the step (config key device_heatmap)
    sync_interval: int = 1  # read the step's values back (and check the loss) every this many steps
    epoch: int = 0
    it: int = 0
    best: dict = field(default_factory=dict)


def train_one_epoch(loop: _Loop, loader: Any) -> dict[str, float]:
    """One pass over ``loader``; returns the epoch's mean logged values (averaged over ranks).

    The step's values stay on the device (``DeviceMeter``) and are read every ``loop.sync_interval``
    steps (1: every step, with the loss checked for NaN each time) and at each log line.
    """
    logger = get_logger()
    env, rt = loop.env, loop.rt
    loop.model.train()
    step = TrainStep(loop.model, _unwrap(loop.model), loop.optimizer, loop.opts.amp, loop.scaler, rt.grad_clip)
    total = len(loader)
    sums: dict[str, float] = {}
    window, window_times = DeviceMeter(), {"time": 0.0, "data_time": 0.0}
    bar = None
    if env.is_main and os.isatty(2):
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"epoch {loop.epoch + 1}/{rt.total_epochs}", dynamic_ncols=True, leave=False)
    t_start = t_end = time.time()
    checked = 0  # steps of this window whose loss was read back finite
    for i, batch in enumerate(loader):
        data_time = time.time() - t_end
        lr = loop.schedule.apply(loop.epoch, loop.it)
        x, label = _input_and_label(batch, env.device, loop.renderer)
        window.add(step(x, label))
        loop.it += 1
        if _KILL_AT_ITER and loop.it == _KILL_AT_ITER:  # fault injection for the resume tests
            os.kill(os.getpid(), signal.SIGKILL)
        window_times["time"] += time.time() - t_end
        window_times["data_time"] += data_time
        if bar is not None:
            bar.update(1)
        last = window.count == rt.log_interval or i + 1 == total
        if last or window.count - checked >= loop.sync_interval:
            means = window.means()
            if not np.isfinite(means["loss"]):
                first = loop.it - (window.count - checked) + 1
                where = f"iter {i + 1}" if first == loop.it else f"iters {first}..{loop.it} (global)"
                raise FloatingPointError(f"loss is {means['loss']} at epoch {loop.epoch + 1}, {where}: "
                                         "lower the LR or enable optimizer_config.grad_clip")
            checked = window.count
            if bar is not None:
                left = (total - i - 1) + (rt.total_epochs - loop.epoch - 1) * total
                bar.set_postfix(loss=f"{means['loss']:.4f}", lr=f"{lr:.2e}",
                                run_eta=format_duration(run_eta(time.time() - t_start, i + 1, left)))
        if last:
            means.update({k: v / window.count for k, v in window_times.items()})
            for k, v in means.items():
                sums[k] = sums.get(k, 0.0) + v * window.count
            keys = sorted(means)
            reduced = all_reduce_mean(torch.tensor([means[k] for k in keys], dtype=torch.float64), env).tolist()
            means = dict(zip(keys, reduced))
            record = {"mode": "train", "epoch": loop.epoch + 1, "iter": loop.it, "lr": lr,
                      "memory": round(_memory_mb(env.device)), **means}
            loop.runlog.write(record) if env.is_main else None
            if bar is None and env.is_main:
                # the whole run: this epoch's rest plus the epochs after it, at this epoch's pace
                left = (total - i - 1) + (rt.total_epochs - loop.epoch - 1) * total
                eta = format_duration(run_eta(time.time() - t_start, i + 1, left))
                logger.info(f"Epoch [{loop.epoch + 1}][{i + 1}/{total}] lr: {lr:.3e}, eta: {eta}, "
                            f"time: {means['time']:.3f}, data_time: {means['data_time']:.3f}, "
                            f"memory: {record['memory']}, "
                            + ", ".join(f"{k}: {means[k]:.4f}" for k in keys if k not in ("time", "data_time")))
            window, window_times, checked = DeviceMeter(), {"time": 0.0, "data_time": 0.0}, 0
        t_end = time.time()
    if bar is not None:
        bar.close()
    return {k: v / max(total, 1) for k, v in sums.items()}


def _save(loop: _Loop, work_dir: Path, cfg_json: dict, seed: int) -> Path | None:
    """Checkpoint after epoch ``loop.epoch`` (1-based count of finished epochs); rank 0 writes."""
    rng = all_gather_object(capture_rng_state(), loop.env)  # every rank's streams, by rank
    if not loop.env.is_main:
        return None
    net = loop.net
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "optimizer": loop.optimizer.state_dict() if loop.rt.save_optimizer else {},
        "scheduler": loop.schedule.state_dict(),
        "epoch": loop.epoch,
        "iter": loop.it,
        "meta": {"config": cfg_json, "seed": seed, "versions": versions(), "rng": rng,
                 "world_size": loop.env.world_size, "best": dict(loop.best), "epoch": loop.epoch,
                 "iter": loop.it, "time": time.strftime("%Y-%m-%d %H:%M:%S")},
    }
    if loop.scaler is not None:
        payload["scaler"] = loop.scaler.state_dict()
    return save_training_checkpoint(work_dir, payload, loop.epoch, loop.rt.max_keep_ckpts)


def _resolve_resume(opts: TrainOptions, rt: RuntimeConfig, work_dir: Path) -> Path | None:
    choice = opts.resume or rt.resume_from
    if choice is None:
        return None
    if choice == "auto":
        found = find_resume_checkpoint(work_dir)
        if found is None:
            get_logger().info(f"--resume auto: no checkpoint in {work_dir}, starting from scratch")
        return found
    path = Path(choice)
    if not path.is_file():
        raise CheckpointError(f"--resume {choice}: no such checkpoint")
    return path


def _check_same_config(ckpt: dict, cfg_json: dict, path: Path) -> None:
    old = {k: v for k, v in ckpt["meta"].get("config", {}).items() if k not in RESUME_IGNORED_KEYS}
    new = {k: v for k, v in cfg_json.items() if k not in RESUME_IGNORED_KEYS}
    diffs = config_differences(old, new)
    if diffs:
        shown = ", ".join(diffs[:10]) + (f" (+{len(diffs) - 10} more)" if len(diffs) > 10 else "")
        raise ConfigError(f"refusing to resume from {path}: the config differs from the one it was trained "
                          f"with at {shown}. Use the original config, or a new --work-dir to start afresh")


def _num_classes(cfg: dict) -> int | None:
    head = cfg["model"].get("cls_head") or {}
    value = head.get("num_classes") if isinstance(head, dict) else None
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"config key 'model.cls_head.num_classes' must be a positive int, got {value!r}")
    return value


def train(cfg: dict, opts: TrainOptions) -> dict[str, Any]:
    """Run a whole training as configured; returns the final metrics (rank 0; others get them too)."""
    rt = read_runtime(cfg, need_train=True)
    num_classes = _num_classes(cfg)
    env = init_dist(opts.device, rt.dist_backend)
    work_dir = Path(opts.work_dir or rt.work_dir or
                    f"./work_dirs/{Path(opts.config_path).stem if opts.config_path else 'run'}")
    lock = None
    try:
        if env.is_main:  # one run per work_dir; the lock also says the temporaries left here are stale
            lock = lock_work_dir(work_dir)
            clean_stale_temporaries(work_dir)
        return _train(cfg, opts, rt, env, num_classes, work_dir)
    finally:
        if lock is not None:
            lock.release()
        cleanup(env)


def _train(cfg: dict, opts: TrainOptions, rt: RuntimeConfig, env: DistEnv, num_classes: int | None,
           work_dir: Path) -> dict:
    cfg["work_dir"] = str(work_dir)
    logger = setup_logging(work_dir, env.rank, rt.log_level)
    if env.is_main:
        for warning in rt.warnings:
            logger.warning(warning)
    if opts.amp and env.device.type != "cuda" and opts.amp == "fp16":
        raise ConfigError("--amp fp16 needs a CUDA device (use --amp bf16 on CPU)")
    cfg_json = jsonable_config(cfg)

    resume_path = _resolve_resume(opts, rt, work_dir)
    ckpt = None
    if resume_path is not None:
        ckpt = load_training_checkpoint(resume_path)
        _check_same_config(ckpt, cfg_json, resume_path)
        if int(ckpt["epoch"]) >= rt.total_epochs:
            # nothing left to train: say so rather than exit (or re-test) as if it had trained
            raise RunFinishedError(f"{resume_path}: this run is finished ({ckpt['epoch']} of {rt.total_epochs} "
                                   f"epochs trained); test it with `pyskl test CONFIG {resume_path}`, or train "
                                   "again with another --work-dir")

    seed = opts.seed
    if ckpt is not None:
        if seed is not None and seed != ckpt["meta"]["seed"]:
            logger.warning(f"--seed {seed} ignored: resuming keeps the run's seed {ckpt['meta']['seed']} "
                           "(it drives the per-epoch sampling order)")
        seed = ckpt["meta"]["seed"]
    if seed is None:
        seed = broadcast_object(int(np.random.randint(2**31)), env)
    set_random_seed(seed, opts.deterministic)
    if rt.cudnn_benchmark and not opts.deterministic:
        torch.backends.cudnn.benchmark = True

    train_set = build_split_dataset(cfg, "train", num_classes)
    val_set = build_split_dataset(cfg, "val", num_classes) if opts.validate else None
    test_set = build_split_dataset(cfg, "test", num_classes) if (opts.test_last or opts.test_best) else None

    from ..models import build_model
    from ..models.deploy import prepare

    net = build_model(cfg["model"]).to(env.device)
    if rt.load_from and ckpt is None:
        from ..checkpoint import load_checkpoint

        load_checkpoint(net, rt.load_from)
        logger.info(f"loaded weights from {rt.load_from}")
    if rt.sync_bn and env.distributed:
        from .sync_bn import convert_sync_batchnorm

        net = convert_sync_batchnorm(net, env.device)
    net = prepare(net, env.device, "train")  # the device's fast forms; same parameters and state_dict
    if opts.channels_last:
        to_channels_last(net)
    fast = rt.device_pipeline is not None
    optimizer = build_optimizer(net, rt.optimizer, fused=fast and env.device.type == "cuda")
    if fast:
        from ..datasets.device_pipeline import build_device_train_data

        settings = rt.train_loader
        loader = build_device_train_data(train_set, rt.device_pipeline, settings["videos_per_gpu"], env.device,
                                         env.rank, env.world_size, seed, settings.get("shuffle", True),
                                         settings.get("drop_last", False))
    else:
        loader = build_train_loader(train_set, rt.train_loader, env, seed)
    schedule = LRSchedule(optimizer, rt.lr_config, rt.total_epochs, len(loader))
    scaler = torch.amp.GradScaler(env.device.type) if opts.amp == "fp16" else None

    model: nn.Module = net
    if opts.compile:
        model = compile_model(model, None if opts.compile is True else opts.compile)
    if env.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(model, device_ids=[env.device.index] if env.device.type == "cuda" else None,
                    find_unused_parameters=rt.find_unused_parameters)

    runlog = RunLog(work_dir, enabled=env.is_main)
    loop = _Loop(model=model, net=net, optimizer=optimizer, schedule=schedule, scaler=scaler, env=env, rt=rt,
                 opts=opts, runlog=runlog, renderer=build_heatmap_renderer(rt.device_heatmap),
                 sync_interval=rt.log_interval if fast else 1)
    if ckpt is not None:
        net.load_state_dict(ckpt["state_dict"])
        if ckpt["optimizer"]:
            optimizer.load_state_dict(ckpt["optimizer"])
        schedule.load_state_dict(ckpt["scheduler"])
        if scaler is not None and "scaler" in ckpt:
            scaler.load_state_dict(ckpt["scaler"])
        loop.epoch, loop.it, loop.best = int(ckpt["epoch"]), int(ckpt["iter"]), dict(ckpt["meta"].get("best", {}))
        rng = ckpt["meta"].get("rng") or []
        if len(rng) == env.world_size:
            restore_rng_state(rng[env.rank])
        else:
            logger.warning(f"{resume_path} was written by {len(rng)} process(es), this run has {env.world_size}: "
                           "RNG streams are not restored, so the continuation is not bit-identical")
        logger.info(f"resumed from {resume_path} at epoch {loop.epoch}, iteration {loop.it}")

    if env.is_main:
        dump_config(cfg, work_dir / "config.json")
        logger.info(f"work_dir: {work_dir}; seed: {seed}; device: {env.device}; world size: {env.world_size}; "
                    f"{len(train_set)} training samples, {len(loader)} iterations per epoch")
    key = None
    if opts.validate and rt.save_best:
        key = "top1_acc" if rt.save_best == "auto" else rt.save_best
        if rt.save_best == "auto" and "top_k_accuracy" not in rt.eval_metrics:
            key = "mean_class_accuracy"

    last_ckpt: Path | None = None
    results: dict[str, Any] = {}
    while loop.epoch < rt.total_epochs:
        loader.sampler.set_epoch(loop.epoch)
        t0 = time.time()
        means = train_one_epoch(loop, loader)
        loop.epoch += 1
        if env.is_main:
            logger.info(f"Epoch {loop.epoch}/{rt.total_epochs} done in {time.time() - t0:.1f}s, "
                        f"mean loss {means.get('loss', float('nan')):.4f}")
        is_last = loop.epoch == rt.total_epochs
        improved = False
        if val_set is not None and (loop.epoch % rt.eval_interval == 0 or is_last):
            metrics = run_test(model, val_set, rt, env, opts.amp, f"val epoch {loop.epoch}", seed,
                               loader_settings=rt.val_loader)
            results["val"] = metrics
            if env.is_main:
                logger.info(f"Epoch(val) [{loop.epoch}] " + ", ".join(f"{k}: {v:.4f}" for k, v in metrics.items()))
                runlog.write({"mode": "val", "epoch": loop.epoch, "iter": loop.it, **metrics})
            if key is not None and key in metrics and metrics[key] > loop.best.get("score", -1.0):
                loop.best = {"key": key, "score": metrics[key], "epoch": loop.epoch}
                improved = True
        if loop.epoch % rt.ckpt_interval == 0 or is_last or improved:
            last_ckpt = _save(loop, work_dir, cfg_json, seed)
            if improved and env.is_main:
                best_path = save_best_checkpoint(work_dir, last_ckpt, key, loop.epoch)
                logger.info(f"best {key} {loop.best['score']:.4f} at epoch {loop.epoch}: {best_path.name}")
        barrier(env)

    runlog.close()
    for which, wanted in (("last", opts.test_last), ("best", opts.test_best)):
        if not wanted:
            continue
        if which == "best":
            found = sorted(work_dir.glob("best_*_epoch_*.pth"))
            if not found:
                logger.warning("--test-best: no best checkpoint (it needs --validate); skipped")
                continue
            from ..checkpoint import load_checkpoint

            load_checkpoint(net, found[0])
        metrics = run_test(model, test_set, rt, env, opts.amp, f"test ({which})", seed)
        results[f"test_{which}"] = metrics
        if env.is_main:
            print(f"Test ({which} checkpoint): " + ", ".join(f"{k}: {v:.4f}" for k, v in metrics.items()), flush=True)
    return results

