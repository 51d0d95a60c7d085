"""``pyskl zoo list|show NAME|docs``: PYSKL's released models, their checkpoints and published accuracy."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError

HELP = "model zoo: list PYSKL's released models, show one, regenerate docs/model_zoo*.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = kinds.add_parser("list", help="one line per zoo model: name, published accuracy, config")
    ls.add_argument("pattern", nargs="?", default=None, help="only names containing this text")
    show = kinds.add_parser("show", help="everything about one zoo model, and whether it is cached")
    show.add_argument("name", help="zoo name (see `pyskl zoo list`)")
    docs = kinds.add_parser("docs", help="rewrite the generated tables of docs/model_zoo*.md")
    docs.add_argument("--check", action="store_true", help="only say whether they are in sync (1 if not)")
    docs.add_argument("--root", default=None, help="source checkout holding docs/ (default: this package's)")


def _accuracy(entry) -> str:
    if entry.top1 is None:
        return "-"
    return f"{entry.top1:.1f}" + (" (mean class)" if entry.metric == "mean_class" else "")


def run(args: argparse.Namespace) -> int:
    from ..zoo import entries, get_entry, zoo_cache_path

    if args.action == "list":
        rows = [e for e in entries() if args.pattern is None or args.pattern in e.name]
        width = max((len(e.name) for e in rows), default=4)
        for e in rows:
            flag = "" if e.url else "  (no released checkpoint)"
            print(f"{e.name:<{width}}  {_accuracy(e):>6}  {e.config}{flag}")
        print(f"{len(rows)} models")
        return 0
    if args.action == "show":
        e = get_entry(args.name)
        cached = zoo_cache_path(e.name)
        print(f"{e.name}: {e.family}, {e.dataset}" + (f", stream {e.stream}" if e.stream else ""))
        print(f"  config: {e.config}")
        note = " (PYSKL's, not re-measured here)" if e.top1 else ""
        print(f"  published accuracy: {_accuracy(e)}{note}")
        for key, value in e.details.items():
            print(f"  {key}: {value}")
        print(f"  checkpoint: {e.download_url or 'none released'}")
        print(f"  cache: {cached} ({'present' if cached.is_file() else 'not downloaded yet'})")
        return 0
    from pathlib import Path

    from ..zoo.docs import DOCS, sync_docs

    root = Path(args.root) if args.root else Path(__file__).resolve().parents[2]
    if not all((root / rel).is_file() for rel in DOCS):
        raise UsageError(f"{root} holds no {' / '.join(DOCS)}: pass --root SOURCE_CHECKOUT")
    stale = sync_docs(root, write=not args.check)
    if not stale:
        print("zoo docs in sync")
        return 0
    if not args.check:
        for path in stale:
            print(f"{path}: rewritten")
        return 0
    # --check: a stale table is the finding the check exists for, reported on stderr with status 1
    for path in stale:
        print(f"{path}: out of sync with the zoo table (pyskl zoo docs rewrites it)", file=sys.stderr)
    return 1
