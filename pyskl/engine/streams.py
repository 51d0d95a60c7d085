"""Multi-stream training: one config -> per-stream configs (j, b, jm, bm), train + test each, fuse, report.

PYSKL trains each modality as its own run with ``GenSkeFeat(feats=[stream])`` in every pipeline and
fuses the test scores joint:bone:joint-motion:bone-motion = 2:2:1:1 (two streams 1:1).
"""

from __future__ import annotations

import copy
import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, dump_config

__all__ = ["KNOWN_STREAMS", "STREAMS", "StreamsOptions", "stream_commands", "stream_config",
           "train_streams"]

#: PYSKL's four streams, the default set
STREAMS = ("j", "b", "jm", "bm")
#: every stream GenSkeFeat makes: PYSKL's plus ProtoGCN's K-Bone (k) and its motion (km)
KNOWN_STREAMS = STREAMS + ("k", "km")


def _pipelines(node: Any):
    while isinstance(node, dict):
        if isinstance(node.get("pipeline"), list):
            yield node["pipeline"]
        if isinstance(node.get("datasets"), list):
            for sub in node["datasets"]:
                yield from _pipelines(sub)
        node = node.get("dataset")


def _check_kbone_layout(stream: str, op: dict, split: str) -> None:
    from ..datasets.pipelines.protogcn import KB_PAIRS

    layout = op.get("dataset", "nturgb+d")
    if stream in ("k", "km") and layout not in KB_PAIRS:
        raise ConfigError(
            f"data.{split} pipeline: stream {stream!r} (K-Bone) needs GenSkeFeat dataset in "
            f"{', '.join(map(repr, KB_PAIRS))}, the config has {layout!r}"
        )


def stream_config(cfg: dict, stream: str, work_dir: str | Path | None = None) -> dict:
    """A copy of ``cfg`` training ``stream``: every ``GenSkeFeat`` of data.train/val/test gets ``feats=[stream]``.

    Raises:
        ConfigError: unknown stream, no ``GenSkeFeat`` in a data pipeline, or one combining several features
            (its channel count would change with the stream).
    """
    if stream not in KNOWN_STREAMS:
        raise ConfigError(f"unknown stream {stream!r}; choose from {', '.join(KNOWN_STREAMS)}")
    out = copy.deepcopy(cfg)
    found = 0
    for split in ("train", "val", "test"):
        for pipeline in _pipelines((out.get("data") or {}).get(split)):
            for op in pipeline:
                if isinstance(op, dict) and op.get("type") == "GenSkeFeat":
                    feats = list(op.get("feats", ["j"]))
                    if len(feats) != 1:
                        raise ConfigError(
                            f"data.{split} pipeline: GenSkeFeat combines feats={feats}; "
                            f"train-streams needs a single-feature config (feats=['j'])"
                        )
                    _check_kbone_layout(stream, op, split)
                    op["feats"] = [stream]
                    found += 1
    if not found:
        raise ConfigError(
            "no GenSkeFeat op in data.train/val/test pipelines: train-streams needs one to choose "
            "the stream (PYSKL's GCN configs have dict(type='GenSkeFeat', feats=['j']))"
        )
    for key in ("train_pipeline", "val_pipeline", "test_pipeline"):  # keep the top-level copies consistent
        for op in out.get(key) or []:
            if isinstance(op, dict) and op.get("type") == "GenSkeFeat":
                op["feats"] = [stream]
    if work_dir is not None:
        out["work_dir"] = str(work_dir)
    return out


@dataclass
class StreamsOptions:
    """Choices of ``pyskl train-streams``."""

    streams: tuple = STREAMS
    work_dir: str | None = None
    weights: list | None = None
    search: bool = False  # pick weights on data.val results
    seed: int | None = 0
    deterministic: bool = False
    device: str | None = None
    amp: str | None = None
    validate: bool = False
    config_path: str | None = None
    extra: dict = field(default_factory=dict)


def _base_work_dir(cfg: dict, opts: StreamsOptions) -> Path:
    if opts.work_dir:
        return Path(opts.work_dir)
    if cfg.get("work_dir"):
        return Path(cfg["work_dir"])
    return Path("./work_dirs") / (Path(opts.config_path).stem if opts.config_path else "streams")


def _val_as_test(cfg: dict) -> dict:
    out = copy.deepcopy(cfg)
    if not (out.get("data") or {}).get("val"):
        raise ConfigError("--search needs data.val in the config (weights are chosen on validation results)")
    out["data"]["test"] = out["data"]["val"]
    return out


def train_streams(cfg: dict, opts: StreamsOptions) -> dict:
    """Train and test every stream one after another, fuse, write ``report.md`` and ``report.json``.

    Returns:
        the report dict (per-stream metrics, fused metrics, weights, result files).
    """
    from ..core.fusion import format_report, fusion_report, load_stream, search_weights
    from .test import TestOptions, test
    from .train import TrainOptions, train

    base = _base_work_dir(cfg, opts)
    base.mkdir(parents=True, exist_ok=True)
    runs, tests, vals = {}, [], []
    for stream in opts.streams:
        work_dir = base / stream
        scfg = stream_config(cfg, stream, work_dir)
        t0 = time.time()
        train(
            copy.deepcopy(scfg),
            TrainOptions(
                work_dir=str(work_dir),
                seed=opts.seed,
                validate=opts.validate,
                deterministic=opts.deterministic,
                device=opts.device,
                amp=opts.amp,
                config_path=opts.config_path,
            ),
        )
        ckpt = str(work_dir / "latest.pth")
        out = work_dir / "test_results.pkl"
        test(
            copy.deepcopy(scfg), TestOptions(checkpoint=ckpt, out=str(out), device=opts.device, amp=opts.amp)
        )
        tests.append(load_stream(str(out), stream))
        if opts.search:
            vout = work_dir / "val_results.pkl"
            test(
                _val_as_test(scfg),
                TestOptions(checkpoint=ckpt, out=str(vout), device=opts.device, amp=opts.amp),
            )
            vals.append(load_stream(str(vout), stream))
        runs[stream] = {
            "work_dir": str(work_dir),
            "checkpoint": ckpt,
            "test_results": str(out),
            "seconds": round(time.time() - t0, 1),
        }
    searched = None
    weights = opts.weights
    if opts.search:
        weights, searched = search_weights([v.scores for v in vals], vals[0].labels)
    report = fusion_report(tests, weights)
    fused = report.pop("fused_scores")
    from ..core.results import save_results

    save_results(
        base / "fused_results.pkl", fused, tests[0].labels, tests[0].frame_dir or [], report["fused"], "fused"
    )
    report.update(
        config=opts.config_path,
        runs=runs,
        fused_results=str(base / "fused_results.pkl"),
        weight_source="searched on data.val"
        if searched
        else ("given" if opts.weights else "PYSKL default (2:2:1:1 / 1:1)"),
    )
    if searched:
        report["search"] = {"val_metrics": searched}
    best = max(report["streams"].values(), key=lambda m: m["top1_acc"])["top1_acc"]
    report["fused_minus_best_stream_top1"] = report["fused"]["top1_acc"] - best
    (base / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    md = [
        f"# Multi-stream results: {opts.config_path or 'config'}",
        "",
        (
            f"Streams trained one after another in `{base}`; test scores fused with weights "
            f"{':'.join(f'{w:g}' for w in report['weights'].values())} ({report['weight_source']}). "
            f"{report['num_samples']} test samples; metrics in percent."
        ),
        "",
        format_report(dict(report)),
        "",
    ]
    (base / "report.md").write_text("\n".join(md))
    return report


def stream_commands(cfg: dict, opts: StreamsOptions, nproc: int = 1) -> list[str]:
    """Write each stream's config (JSON) under the work_dir and return the shell commands that train,
    test and fuse them as separate (torchrun) jobs, for a scheduler or another machine."""
    base = _base_work_dir(cfg, opts)
    cmds, results = [], []
    launch = f"torchrun --nproc_per_node={nproc} -m pyskl" if nproc > 1 else "python -m pyskl"
    for stream in opts.streams:
        work_dir = base / stream
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / "stream_config.json"
        dump_config(stream_config(cfg, stream, work_dir), path)
        seed = f" --seed {opts.seed}" if opts.seed is not None else ""
        q = shlex.quote
        cmds.append(f"{launch} train {q(str(path))} --work-dir {q(str(work_dir))}{seed}")
        out = work_dir / "test_results.pkl"
        cmds.append(f"{launch} test {q(str(path))} {q(str(work_dir / 'latest.pth'))} --out {q(str(out))}")
        results.append(q(str(out)))
    weights = f" --weights {' '.join(f'{w:g}' for w in opts.weights)}" if opts.weights else ""
    cmds.append(
        f"python -m pyskl fuse {' '.join(results)} --names {' '.join(opts.streams)}{weights} "
        f"--report {q(str(base / 'report.md'))}"
    )
    return cmds
