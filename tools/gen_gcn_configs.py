"""Write the GCN model-zoo configs (configs/<family>/<name>/<modality>.py) from PYSKL's recipe facts.

The facts (model, pipelines, datasets, optimizer, schedule, loaders) come from the oracle's config
inventory (``../shared/oracle/pipelines/common/config_inventory.json``); the files are written in our
own layout as plain, readable PYSKL-style configs and committed, so nothing reads the inventory at
run time. Re-run after changing the layout:

    python tools/gen_gcn_configs.py [--inventory PATH] [--out configs]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INVENTORY = ROOT.parent / "shared" / "oracle" / "pipelines" / "common" / "config_inventory.json"
GCN_FAMILIES = ("stgcn", "stgcn++", "aagcn", "ctrgcn", "msg3d", "dgstgcn", "strong_aug")
WIDTH = 110

TITLES = {"stgcn": "ST-GCN", "stgcn++": "ST-GCN++", "aagcn": "AAGCN", "ctrgcn": "CTR-GCN",
          "msg3d": "MS-G3D", "dgstgcn": "DG-STGCN", "strong_aug": "ST-GCN++ (strong augmentation)"}
MODALITIES = {"j": "joint", "b": "bone", "jm": "joint motion", "bm": "bone motion"}
LOG_CONFIG = {"interval": 100, "hooks": [{"type": "TextLoggerHook"}]}


class Name(str):
    """A reference to a name bound earlier in the config file (printed bare)."""


def fmt(value, col: int = 0, base: int = 0) -> str:
    """Python source for ``value`` starting at column ``col`` of a line indented by ``base``.

    Dicts print as ``dict(k=v)``; a value that would pass ``WIDTH`` gets one item per line, indented
    four spaces deeper than its line.
    """
    flat = _flat(value)
    if col + len(flat) <= WIDTH or not isinstance(value, (dict, list, tuple)) or not value:
        return flat
    inner = base + 4
    pad = " " * inner
    if isinstance(value, dict):
        items = [f"{pad}{k}={fmt(v, inner + len(k) + 1, inner)}" for k, v in value.items()]
        return "dict(\n" + ",\n".join(items) + ")"
    items = [f"{pad}{fmt(v, inner, inner)}" for v in value]
    if isinstance(value, tuple):
        return "(\n" + ",\n".join(items) + ")"
    return "[\n" + ",\n".join(items) + ",\n" + " " * base + "]"


def _flat(value) -> str:
    if isinstance(value, Name):
        return str(value)
    if isinstance(value, dict):
        return "dict(" + ", ".join(f"{k}={_flat(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_flat(v) for v in value) + (", )" if len(value) == 1 else ")")
    return repr(value)


def _restore_tuples(pipeline: list[dict], paths: list) -> list[dict]:
    ops = []
    for i, op in enumerate(pipeline):
        args = dict(op["args"])
        for index, arg in paths:
            if index == i:
                args[arg] = tuple(args[arg])
        ops.append({"type": op["type"], **args})
    return ops


def _backbone(facts: dict) -> dict:
    backbone = dict(facts["backbone"])
    if "tcn_ms_cfg" in backbone:  # PYSKL writes the branch specs as tuples
        backbone["tcn_ms_cfg"] = [tuple(c) if isinstance(c, list) else c for c in backbone["tcn_ms_cfg"]]
    return backbone


def _dataset(facts: dict, split: str) -> dict:
    spec = facts["datasets"][split]
    inner = {"type": Name("dataset_type"), "ann_file": Name("ann_file"),
             "split": spec["dataset"]["split"], "pipeline": Name(f"{split}_pipeline")}
    if spec["wrapper_chain"][0] == "RepeatDataset":
        return {"type": "RepeatDataset", **spec["wrapper_args"], "dataset": inner}
    return inner


def render(rel: str, facts: dict) -> str:
    """The config file text for one inventory entry (``rel`` = 'configs/<family>/<name>/<mod>.py')."""
    _, family, name, modality = rel.split("/")
    modality = modality[:-3]
    keypoints = "HRNet 2D" if "hrnet" in name else "3D"
    lines = [f"# {TITLES[family]}, {MODALITIES[modality]} modality, {keypoints} skeletons.",
             f"# The recipe of PYSKL's configs/{family}/{name}/{modality}.py, written for pyskl.", ""]
    model = {"type": facts["model_type"], "backbone": _backbone(facts), "cls_head": facts["cls_head"]}
    if facts["model_train_cfg"] is not None:
        model["train_cfg"] = facts["model_train_cfg"]
    if facts["model_test_cfg"] is not None:
        model["test_cfg"] = facts["model_test_cfg"]
    lines.append(f"model = {fmt(model, 8)}")
    lines.append("")
    lines.append(f"dataset_type = {fmt(facts['dataset_type'])}")
    lines.append(f"ann_file = {fmt(facts['ann_file'])}")
    for split in ("train", "val", "test"):
        ops = _restore_tuples(facts["pipelines"][split], facts["pipeline_tuple_paths"][split])
        body = ",\n".join("    " + fmt(op, 4, 4) for op in ops)
        lines.append(f"{split}_pipeline = [\n{body},\n]")
    data = dict(facts["data_loader"])
    for split in ("train", "val", "test"):
        data[split] = _dataset(facts, split)
    lines.append(f"data = {fmt(data, 7)}")
    lines.append("")
    lines.append("# optimizer")
    lines.append(f"optimizer = {fmt(facts['optimizer'], 12)}")
    lines.append(f"optimizer_config = {fmt(facts['optimizer_config'], 19)}")
    lines.append("# learning policy")
    lines.append(f"lr_config = {fmt(facts['lr_config'], 12)}")
    lines.append(f"total_epochs = {fmt(facts['total_epochs'])}")
    other = dict(facts["other_top_level"])
    lines.append(f"checkpoint_config = {fmt(other.pop('checkpoint_config'), 20)}")
    lines.append(f"evaluation = {fmt(facts['evaluation'], 13)}")
    lines.append(f"log_config = {fmt(LOG_CONFIG, 13)}")
    lines.append("")
    lines.append("# runtime settings")
    work_dir = other.pop("work_dir")
    for key, value in other.items():
        lines.append(f"{key} = {fmt(value, len(key) + 3)}")
    lines.append(f"work_dir = {fmt(work_dir)}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=DEFAULT_INVENTORY)
    parser.add_argument("--out", type=Path, default=ROOT / "configs")
    args = parser.parse_args()
    inventory = json.loads(args.inventory.read_text())["configs"]
    count = 0
    for rel, facts in sorted(inventory.items()):
        if rel.split("/")[1] not in GCN_FAMILIES:
            continue
        path = args.out / Path(rel).relative_to("configs")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(rel, facts))
        count += 1
    print(f"wrote {count} GCN configs under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
