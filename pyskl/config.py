"""Load PYSKL-style config files (flat Python modules of dicts) without running them.

A PYSKL config is a list of assignments of literals, ``dict(...)`` calls, names bound
earlier in the file and simple arithmetic. We evaluate exactly that subset from the
syntax tree, so a config file from an untrusted source cannot import or call anything.
"""
from __future__ import annotations

import ast
import copy
import json
import operator
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "load_config", "apply_overrides", "parse_overrides", "dump_config"]


class ConfigError(ValueError):
    """A config file or override that cannot be used, with the place it went wrong."""


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not}
_SAFE_CALLS = {"dict": dict, "list": list, "tuple": tuple, "set": set, "range": range, "len": len,
               "int": int, "float": float, "str": str, "bool": bool, "min": min, "max": max,
               "sum": sum, "abs": abs, "round": round, "zip": zip, "sorted": sorted,
               "reversed": reversed, "enumerate": enumerate}
_SAFE_STR_METHODS = {"format", "lower", "upper", "join", "replace", "split", "strip", "rstrip", "lstrip",
                     "startswith", "endswith"}
_SAFE_CONSTANTS = {"True": True, "False": False, "None": None}


class _Evaluator:
    def __init__(self, path: str) -> None:
        self.path = path
        self.scopes: list[dict[str, Any]] = [{}]

    def fail(self, node: ast.AST, what: str) -> ConfigError:
        return ConfigError(f"{self.path}:{getattr(node, 'lineno', '?')}: {what} is not allowed in a "
                           "config file (only assignments of literals, dict(...), names and arithmetic)")

    def lookup(self, node: ast.Name) -> Any:
        for scope in reversed(self.scopes):
            if node.id in scope:
                return scope[node.id]
        if node.id in _SAFE_CONSTANTS:
            return _SAFE_CONSTANTS[node.id]
        raise ConfigError(f"{self.path}:{node.lineno}: name {node.id!r} is not defined")

    def run(self, tree: ast.Module) -> dict[str, Any]:
        for stmt in tree.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            if isinstance(stmt, ast.Assign):
                value = self.eval(stmt.value)
                for target in stmt.targets:
                    self.assign(target, value)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value))
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                op = _BINOPS.get(type(stmt.op))
                if op is None:
                    raise self.fail(stmt, type(stmt.op).__name__)
                self.scopes[0][stmt.target.id] = op(self.lookup(stmt.target), self.eval(stmt.value))
            else:
                raise self.fail(stmt, f"a {type(stmt).__name__} statement")
        return self.scopes[0]

    def assign(self, target: ast.AST, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.scopes[-1][target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = list(value)
            if len(values) != len(target.elts):
                raise ConfigError(f"{self.path}:{target.lineno}: cannot unpack {len(values)} values "
                                  f"into {len(target.elts)} names")
            for sub, item in zip(target.elts, values):
                self.assign(sub, item)
        else:
            raise self.fail(target, f"assigning to a {type(target).__name__}")

    def eval(self, node: ast.AST) -> Any:  # noqa: C901  (one branch per node type)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node)
        if isinstance(node, ast.List):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.eval(e) for e in node.elts)
        if isinstance(node, ast.Set):
            return {self.eval(e) for e in node.elts}
        if isinstance(node, ast.Dict):
            out: dict = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    out.update(self.eval(v))
                else:
                    out[self.eval(k)] = self.eval(v)
            return out
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](self.eval(node.operand))
        if isinstance(node, ast.BoolOp):
            values = [self.eval(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else next((v for v in values if v), values[-1])
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = self.eval(right_node)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Subscript):
            return self.eval(node.value)[self.eval(node.slice)]
        if isinstance(node, ast.Slice):
            return slice(*(None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.JoinedStr):
            return "".join(self.eval(v) if not isinstance(v, ast.FormattedValue)
                           else format(self.eval(v.value), self.eval(v.format_spec) if v.format_spec else "")
                           for v in node.values)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node)
        raise self.fail(node, f"a {type(node).__name__} expression")

    def call(self, node: ast.Call) -> Any:
        func = self.callee(node)
        args = []
        for a in node.args:
            args.extend(self.eval(a.value)) if isinstance(a, ast.Starred) else args.append(self.eval(a))
        kwargs: dict = {}
        for kw in node.keywords:
            kwargs.update(self.eval(kw.value)) if kw.arg is None else kwargs.__setitem__(kw.arg, self.eval(kw.value))
        return func(*args, **kwargs)

    def callee(self, node: ast.Call) -> Any:
        """A whitelisted builtin, or a pure method of a string (``'a_{}'.format(x)``)."""
        func = node.func
        if isinstance(func, ast.Name) and func.id in _SAFE_CALLS:
            return _SAFE_CALLS[func.id]
        if isinstance(func, ast.Attribute) and func.attr in _SAFE_STR_METHODS:
            owner = self.eval(func.value)
            if isinstance(owner, str):
                return getattr(owner, func.attr)
        raise self.fail(node, f"calling {ast.unparse(func)}()")

    def comprehension(self, node: ast.AST) -> Any:
        results: list = []

        def loop(generators: list[ast.comprehension]) -> None:
            if not generators:
                if isinstance(node, ast.DictComp):
                    results.append((self.eval(node.key), self.eval(node.value)))
                else:
                    results.append(self.eval(node.elt))
                return
            gen, rest = generators[0], generators[1:]
            for item in self.eval(gen.iter):
                self.assign(gen.target, item)
                if all(self.eval(cond) for cond in gen.ifs):
                    loop(rest)

        self.scopes.append({})
        try:
            loop(node.generators)
        finally:
            self.scopes.pop()
        if isinstance(node, ast.DictComp):
            return dict(results)
        if isinstance(node, ast.SetComp):
            return set(results)
        return results


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a PYSKL-style ``.py`` config (or a ``.json`` dump of one) into a plain dict.

    Args:
        path: the config file, or a zoo name (``pyskl zoo list``) standing for its config.
        overrides: ``--cfg-options`` strings ``"a.b.c=value"`` applied after loading.

    Returns:
        The config's top-level names (private names starting with ``_`` dropped).
    """
    path = Path(path)
    if not path.is_file():
        from .zoo import ZooError, config_path, get_entry, is_zoo_name

        if not is_zoo_name(str(path)):
            raise ConfigError(f"config file {path} does not exist")
        try:
            path = config_path(get_entry(str(path)))
        except ZooError as err:
            raise ConfigError(str(err)) from err
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        cfg = json.loads(text)
    else:
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as err:
            raise ConfigError(f"{path}:{err.lineno}: syntax error: {err.msg}") from err
        cfg = {k: v for k, v in _Evaluator(str(path)).run(tree).items() if not k.startswith("_")}
    if overrides:
        apply_overrides(cfg, overrides)
    return cfg


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """``["a.b=1", "c='x'"]`` -> ``[("a.b", 1), ("c", "x")]``; unparsable values stay strings."""
    parsed = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.path=value")
        key, raw = item.split("=", 1)
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        parsed.append((key.strip(), value))
    return parsed


# Keys pyskl adds to PYSKL's config format: an override may set them where the config lacks them.
OPTIONAL_KEYS = ("data.device_pipeline",)


def apply_overrides(cfg: dict, items: list[str]) -> dict:
    """Apply ``--cfg-options`` in place; every key on the path must already exist (or be in ``OPTIONAL_KEYS``).

    A list in the path is indexed by an integer component (``data.train.pipeline.0.clip_len=50``).
    """
    for key, value in parse_overrides(items):
        parts = key.split(".")
        node: Any = cfg
        for depth, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[: depth + 1]), key)
        last = parts[-1]
        if isinstance(node, list):
            _child(node, last, key, key)
            node[int(last)] = value
        elif isinstance(node, dict):
            if last not in node and key not in OPTIONAL_KEYS:
                where = ".".join(parts[:-1]) or "the top level"
                raise ConfigError(f"--cfg-options {key}: unknown key {last!r} in {where} "
                                  f"(known: {', '.join(sorted(map(str, node)))})")
            node[last] = value
        else:
            raise ConfigError(f"--cfg-options {key}: {'.'.join(parts[:-1])} is a {type(node).__name__}, not a dict")
    return cfg


def _child(node: Any, part: str, prefix: str, full: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise ConfigError(f"--cfg-options {full}: unknown path {prefix!r}")
        return node[part]
    if isinstance(node, list):
        if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
            raise ConfigError(f"--cfg-options {full}: {prefix!r} is not an index of a list of {len(node)}")
        return node[int(part)]
    raise ConfigError(f"--cfg-options {full}: {prefix!r} is inside a {type(node).__name__}, not a dict")


def dump_config(cfg: dict, path: str | Path) -> None:
    """Write a resolved config as JSON (tuples become lists; classes become their names)."""
    def default(obj: Any) -> Any:
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        return getattr(obj, "__name__", repr(obj))

    Path(path).write_text(json.dumps(copy.deepcopy(cfg), indent=2, default=default) + "\n")
