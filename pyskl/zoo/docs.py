"""The model-zoo tables of ``docs/model_zoo*.md``, generated from the zoo table.

Each table sits between ``<!-- zoo:FAMILY -->`` and ``<!-- /zoo -->`` in a doc; the prose around it is
written by hand. ``pyskl zoo docs`` rewrites the tables, ``pyskl zoo docs --check`` says whether they are
in sync.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

from .table import ZooEntry, entries

__all__ = ["DOCS", "render_table", "sync_docs"]

# the docs holding generated tables, relative to the source checkout
DOCS = ("docs/model_zoo.md", "docs/model_zoo_posec3d.md")
_BLOCK = re.compile(r"(<!-- zoo:(?P<family>[^>]+?) -->\n)(?P<body>.*?)(<!-- /zoo -->)", re.S)
_GCN_STREAMS = ("J", "B", "JM", "BM")


def _acc(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _rows(family: str, key) -> OrderedDict:
    groups: OrderedDict = OrderedDict()
    for entry in entries():
        if entry.family == family:
            groups.setdefault(key(entry), []).append(entry)
    return groups


def _gcn_table(family: str) -> list[str]:
    lines = ["| Dataset | Split | Annotation | Practice | Epochs | J | B | JM | BM | 2s | 4s | Zoo names |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    groups = _rows(family, lambda e: e.config.rsplit("/", 1)[0])
    for group in groups.values():
        by_stream = {e.stream: e for e in group}
        first: ZooEntry = group[0]
        d = first.details
        cells = [first.dataset, d["split"], d["annotation"], d["practice"], str(d["epochs"])]
        cells += [f"[{_acc(by_stream[s].top1)}](../{by_stream[s].config})" for s in _GCN_STREAMS]
        cells += [_acc(d["fused"].get("2s")), _acc(d["fused"].get("4s"))]
        prefix = first.name.rsplit("_", 1)[0]
        cells.append(f"`{prefix}_{{j,b,jm,bm}}`")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _posec3d_table() -> list[str]:
    lines = ["| Dataset (split) | Backbone | Pretrain | Zoo names | Joint | Limb | Two-stream | Params |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    for group in _rows("PoseC3D", lambda e: e.config.rsplit("/", 1)[0]).values():
        first, streams = group[0], {e.stream: e for e in group}
        stems = [e.name[len(first.config.split("/")[2]) + 1:] for e in group]
        names = f"`{first.config.split('/')[2]}_{stems[0]}`" if len(stems) == 1 else \
            f"`{first.config.split('/')[2]}_{{{','.join(stems)}}}`"
        limb = streams.get("limb")
        cells = [first.dataset, first.details["backbone"], first.details["pretrain"], names,
                 _acc(streams["joint"].top1), _acc(limb.top1 if limb else None),
                 _acc(first.details["fused"].get("2s")), first.details["params"]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _other_table() -> list[str]:
    lines = ["| Zoo name | Config | Checkpoint | Dataset |", "| --- | --- | --- | --- |"]
    for entry in entries():
        if entry.family in _OTHER:
            ckpt = f"[PYSKL's]({entry.url})" if entry.url else "none released: train it"
            config = f"[{entry.config}](../{entry.config})"
            lines.append(f"| `{entry.name}` | {config} | {ckpt} | {entry.dataset} |")
    return lines


_OTHER = ("ST-GCN++ (hand gestures)", "RGBPoseConv3D", "Quickstart")


def render_table(family: str) -> str:
    """The markdown table of one family (``PoseC3D``, ``other`` or a GCN family name as in the table)."""
    tables = {"PoseC3D": _posec3d_table, "other": _other_table}
    lines = tables[family]() if family in tables else _gcn_table(family)
    if len(lines) == 2:
        raise KeyError(f"no zoo entries of family {family!r}")
    return "\n".join(lines) + "\n"


def sync_docs(root: str | Path, write: bool) -> list[Path]:
    """Re-render every generated table in :data:`DOCS` under ``root``.

    Returns:
        The docs whose tables differ from the zoo table (rewritten when ``write``).
    """
    stale = []
    for rel in DOCS:
        path = Path(root) / rel
        text = path.read_text(encoding="utf-8")
        new = _BLOCK.sub(lambda m: m.group(1) + render_table(m.group("family")) + m.group(4), text)
        if new != text:
            stale.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    return stale
