"""What a run reports: text log lines, ``log.jsonl``, TensorBoard (when installed), progress bars.

Only rank 0 writes. On a terminal each epoch gets a tqdm bar with ETA; otherwise (CI, files) a
plain line every ``log_interval`` iterations.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..utils.atomic import disk_full_error, is_disk_full

__all__ = ["get_logger", "setup_logging", "RunLog", "progress", "run_eta", "format_duration"]

LOGGER_NAME = "pyskl"


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def setup_logging(work_dir: str | Path | None, rank: int = 0, level: str = "INFO",
                  filename: str = "train.log") -> logging.Logger:
    """Console (rank 0 only; others warnings and up) plus ``work_dir/<filename>`` on rank 0."""
    logger = get_logger()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(fmt)
    console.setLevel(logger.level if rank == 0 else logging.WARNING)
    logger.addHandler(console)
    if rank == 0 and work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(Path(work_dir) / filename)
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    return logger


class RunLog:
    """``work_dir/log.jsonl`` records (one JSON object a line) and TensorBoard scalars on rank 0."""

    def __init__(self, work_dir: str | Path | None, enabled: bool = True, tensorboard: bool = True) -> None:
        self.enabled = enabled and work_dir is not None
        self.path = Path(work_dir) / "log.jsonl" if work_dir is not None else None
        self.tb = None
        if self.enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(work_dir) / "tf_logs"))
            except Exception:  # tensorboard is an optional extra
                self.tb = None

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(record, default=float) + "\n")
        except OSError as err:
            if is_disk_full(err):
                raise disk_full_error(self.path, err, "the checkpoints saved so far are intact") from None
            raise
        if self.tb is not None:
            step = record.get("iter", 0)
            prefix = record.get("mode", "train")
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("iter", "epoch"):
                    self.tb.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def run_eta(elapsed: float, iters_done: int, iters_left_in_run: int) -> float:
    """Seconds left in the whole run at the pace so far: ``elapsed`` over ``iters_done`` iterations of this
    epoch, ``iters_left_in_run`` iterations still to do in this and the remaining epochs."""
    return elapsed / max(iters_done, 1) * max(iters_left_in_run, 0)


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``2h07m``: an ETA a person reads at a glance."""
    seconds = int(round(max(seconds, 0.0)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _is_tty() -> bool:
    return sys.stderr.isatty()


def progress(iterable: Iterable, total: int, desc: str, enabled: bool = True,
             log_interval: int = 20, postfix: dict | None = None) -> Iterator:
    """Iterate with a tqdm bar (TTY) or a plain progress line every ``log_interval`` steps."""
    if enabled and _is_tty():
        from tqdm import tqdm

        bar = tqdm(iterable, total=total, desc=desc, dynamic_ncols=True, leave=False)
        yield from bar
        bar.close()
        return
    logger = get_logger()
    start = time.time()
    for i, item in enumerate(iterable):
        yield item
        done = i + 1
        if enabled and log_interval > 0 and (done % log_interval == 0 or done == total):
            elapsed = time.time() - start
            eta = elapsed / done * (total - done)
            extra = "".join(f", {k}: {v}" for k, v in (postfix or {}).items())
            logger.info(f"{desc} [{done}/{total}] elapsed {elapsed:.0f}s, eta {eta:.0f}s{extra}")
