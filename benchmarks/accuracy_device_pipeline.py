"""Accuracy is not traded for speed: numpy pipeline vs device pipeline on the synthetic NTU-25 3D set, several seeds.

Usage::

    python benchmarks/accuracy_device_pipeline.py [--seeds 0 1 2] [--epochs 4] [--device cpu] [--tiny]
        [--fast-amp bf16] [--fast-compile] [--json out.json]

Trains the quickstart ST-GCN++ (configs/quickstart/stgcnpp_synthetic.py) on a synthetic set made by
``pyskl.datasets.synthetic.write_synthetic`` once per seed with the numpy train pipeline (fp32, the
reference) and once with ``data.device_pipeline`` (plus ``--fast-amp``/``--fast-compile``, what a GPU run
uses), and reports each arm's validation top-1 (xsub_val, 1 clip) per seed, their means and standard
deviations, and the difference of the means against its standard error: "within noise" when
``|mean difference| <= 2 x sqrt(var_numpy / n + var_device / n)`` (with a floor of one validation sample).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyskl.config import load_config  # noqa: E402
from pyskl.datasets.synthetic import write_synthetic  # noqa: E402
from pyskl.engine import TrainOptions, train  # noqa: E402


def run_arm(ann: Path, work: Path, seed: int, args: argparse.Namespace, device_pipeline: bool) -> float:
    overrides = [f"total_epochs={args.epochs}", f"data.train.dataset.ann_file='{ann}'", f"data.val.ann_file='{ann}'",
                 f"data.test.ann_file='{ann}'", f"model.cls_head.num_classes={args.classes}", "log_config.interval=50"]
    if device_pipeline:
        overrides.append("data.device_pipeline={'storage': 'float16'}")
    if args.tiny:  # a 3-block ST-GCN++ of 8 channels on 16-frame clips: minutes on a busy 2-core CPU
        overrides += ["model.backbone.base_channels=8", "model.backbone.num_stages=3", "model.backbone.inflate_stages=[]",
                      "model.backbone.down_stages=[]", "model.cls_head.in_channels=8", "data.videos_per_gpu=8"]
        overrides += [f"data.{split}.pipeline.2.clip_len=16" for split in ("val", "test")]
        overrides.append("data.train.dataset.pipeline.2.clip_len=16")
    cfg = load_config(str(ROOT / "configs/quickstart/stgcnpp_synthetic.py"), overrides)
    opts = TrainOptions(work_dir=str(work), seed=seed, validate=True, device=args.device,
                        amp=args.fast_amp if device_pipeline else None,
                        compile=args.fast_compile and device_pipeline, config_path="stgcnpp_synthetic.py")
    return float(train(cfg, opts)["val"]["top1_acc"])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--samples-per-class", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fast-amp", choices=["bf16", "fp16"], default=None)
    parser.add_argument("--fast-compile", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="a much smaller model and clips (slow CPUs)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    results: dict = {"args": vars(args), "numpy": [], "device": []}
    with tempfile.TemporaryDirectory() as tmp:
        ann = write_synthetic(Path(tmp) / "synthetic.pkl", kind="ntu3d", num_classes=args.classes,
                              samples_per_class=args.samples_per_class, seed=0)
        from pyskl.datasets import build_dataset

        n_val = len(build_dataset(dict(type="PoseDataset", ann_file=str(ann), split="xsub_val", pipeline=[])))
        for seed in args.seeds:
            for arm in ("numpy", "device"):
                acc = run_arm(ann, Path(tmp) / f"{arm}_{seed}", seed, args, arm == "device")
                results[arm].append(acc)
                print(f"seed {seed} {arm:6s} top1 {acc:.4f}", flush=True)
    n = len(args.seeds)
    for arm in ("numpy", "device"):
        values = results[arm]
        results[f"{arm}_mean"] = statistics.fmean(values)
        results[f"{arm}_std"] = statistics.stdev(values) if n > 1 else 0.0
    diff = results["device_mean"] - results["numpy_mean"]
    stderr = (results["numpy_std"] ** 2 / n + results["device_std"] ** 2 / n) ** 0.5
    bound = max(2 * stderr, 1 / n_val)
    results.update(difference=diff, bound=bound, within_noise=abs(diff) <= bound, val_samples=n_val)
    print(f"numpy  top1 {results['numpy_mean']:.4f} +- {results['numpy_std']:.4f}  ({n} seeds)")
    print(f"device top1 {results['device_mean']:.4f} +- {results['device_std']:.4f}")
    print(f"difference {diff:+.4f}, bound {bound:.4f}: {'within' if results['within_noise'] else 'OUTSIDE'} noise")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
