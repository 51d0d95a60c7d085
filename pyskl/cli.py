"""The ``pyskl`` command: one entry point, one module per subcommand.

Each subcommand lives in ``pyskl/commands/<name>.py`` and provides ``HELP`` (one line, also the
``pyskl --help`` entry, read from the source), ``add_arguments(parser)`` and ``run(args) -> int``.
A module is imported only when its subcommand runs, so ``pyskl --help`` stays fast.

Errors a person can act on (a missing or corrupt file, a bad config key or option: the exceptions
pyskl defines, and file-system errors) print one ``error: ...`` line and exit with status 2; a
traceback is shown only with ``--debug`` or ``PYSKL_DEBUG=1``. Anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

# subcommand -> module under pyskl.commands; "data" has its own nested subcommands.
SUBCOMMANDS: dict[str, str] = {
    "data": "data",
    "train": "train", "test": "test",
    "fuse": "fuse",
    "export": "export",
    "info": "info",
    "train-streams": "train_streams",
    "extract": "extract", "demo": "demo", "gesture": "gesture", "vis": "vis", "zoo": "zoo",
}

class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one ``error: ...`` line pointing at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def command_help(module_name: str) -> str:
    """The ``HELP`` line of ``pyskl/commands/<module_name>.py``, read from its source without importing it
    (a command module may import torch at the top, and ``pyskl --help`` should not wait for that)."""
    spec = importlib.util.find_spec(f"pyskl.commands.{module_name}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "HELP" for t in node.targets):
            return ast.literal_eval(node.value)
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="pyskl", description="Skeleton-based action recognition (PYSKL-compatible).")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"pyskl {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also PYSKL_DEBUG=1; allowed after the command too)")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        text = command_help(module_name)
        sub = subs.add_parser(name, help=text, description=text)
        sub.set_defaults(_command=name)
    return parser


def configure_process() -> None:
    """The process settings every ``pyskl`` command runs with; call before torch is imported."""
    # OpenMP threads that busy-wait make a shared or oversubscribed CPU crawl; waiting passively
    # costs little when idle.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from .utils.malloc import keep_freed_blocks

    keep_freed_blocks()  # CPU steps reuse activation buffers instead of faulting in fresh pages


# File-system errors carry the path they failed on, so they are reported like pyskl's own errors.
_USER_OS_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
# Longest error line printed; the rest is behind --debug.
_MAX_MESSAGE = 600


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` is a mistake in the input (reported as one line) rather than a bug in pyskl.

    The exception classes pyskl defines (``ConfigError``, ``AnnotationError``, ``CheckpointError``,
    ``FusionError``, ...) exist to describe a bad input, so any of them counts, as do file-system errors,
    a non-finite loss (its message says what to change), and a ``ValueError``/``RuntimeError``/
    ``LookupError``/``TypeError`` that a ``raise`` statement in pyskl's own code wrote a message for. A
    failure inside numpy or torch, or a bare ``d[key]`` lookup, keeps its traceback.
    """
    if isinstance(err, _USER_OS_ERRORS + (FloatingPointError,)):
        return True
    if any(cls.__module__.startswith("pyskl.") and cls.__name__.endswith("Error") for cls in type(err).__mro__):
        return True
    return isinstance(err, (ValueError, RuntimeError, LookupError, TypeError)) and _raised_by_pyskl(err)


def _raised_by_pyskl(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    package = os.path.dirname(os.path.abspath(__file__))
    in_pyskl = os.path.abspath(last.filename).startswith(package + os.sep)
    return in_pyskl and (last.line or "").lstrip().startswith("raise")


def error_line(err: BaseException) -> str:
    """``err`` as one line: whitespace collapsed, long messages cut (``--debug`` shows them whole)."""
    text = err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 else err
    text = _worker_error(str(text))
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in str(err.strerror or ""):
        text = f"{err.filename}: {err.strerror}" if err.strerror else text
    message = " ".join(str(text).split()) or type(err).__name__
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 40].rstrip() + " ... (--debug shows the whole message)"
    return f"error: {message}"


def _worker_error(message: str) -> str:
    """The original error of a DataLoader worker (torch re-raises it with the worker's traceback as text)."""
    if "Original Traceback (most recent call last):" not in message:
        return message
    last = [line for line in message.splitlines() if line.strip()][-1]
    kind, sep, rest = last.partition(": ")
    return rest if sep and "." in kind and " " not in kind else last


def _wants_debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("PYSKL_DEBUG", "").strip() not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = _wants_debug(argv)
    argv = [a for a in argv if a != "--debug"]
    try:
        return _run_command(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug or not is_user_error(err):
            raise
        sys.stdout.flush()  # what the command printed before the error comes first on a terminal
        print(error_line(err), file=sys.stderr)
        return 2


def _run_command(argv: list[str]) -> int:
    configure_process()
    parser = build_parser()
    # Parse the command name first, then let its module define the rest of the parser.
    known, _ = parser.parse_known_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    name = getattr(known, "_command", None)
    if name is None:
        parser.print_help()
        return 0 if not argv else 2
    module = importlib.import_module(f"pyskl.commands.{SUBCOMMANDS[name]}")
    sub = CommandParser(prog=f"pyskl {name}", description=module.HELP)
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    return int(module.run(args) or 0)
