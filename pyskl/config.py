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
import re
import string
from pathlib import Path
from typing import Any, Iterable

from .utils.atomic import atomic_write

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


# Bounds of config evaluation: far above any real config (PYSKL's largest lists have a few hundred
# items), far below what would hang or exhaust memory.
MAX_ITEMS = 10**5  # length of one str/list/tuple/dict/set/range; a file builds at most 10x this in all
MAX_INT_BITS = 10**5  # an integer of ~30,000 digits
MAX_ITERATIONS = 10**6  # comprehension steps in the whole file
MAX_FORMAT_WIDTH = 1000  # field widths and precisions in format specs
MAX_FILE_BYTES = 16 * 2**20
_FORMAT_NUMBER = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%[#0 +-]*(\*|\d*)(?:\.(\*|\d*))?")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)) else 1


class _Evaluator:
    def __init__(self, path: str) -> None:
        self.path = path
        self.scopes: list[dict[str, Any]] = [{}]
        self.items = 0  # items built so far (sequence results of operators, calls and comprehensions)
        self.iterations = 0
        self.weights: dict[int, tuple[Any, int]] = {}

    def too_big(self, node: ast.AST, what: str) -> ConfigError:
        return ConfigError(f"{self.path}:{getattr(node, 'lineno', '?')}: {what}; config files are limited to "
                           f"{MAX_ITEMS} items, {MAX_INT_BITS}-bit integers and {MAX_ITERATIONS} loop steps")

    def weight(self, value: Any) -> int:
        """Items in ``value`` counting shared parts each time they occur (what a JSON dump would write)."""
        if isinstance(value, (str, bytes)):
            return len(value)
        if not isinstance(value, (list, tuple, dict, set, frozenset)):
            return 1
        known = self.weights.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        children = value.items() if isinstance(value, dict) else value
        total = 1
        for child in children:
            total += self.weight(child)
            if total > 2 * MAX_ITEMS:
                break
        self.weights[id(value)] = (value, total)  # the value is kept alive, so its id stays unique
        return total

    def built(self, node: ast.AST, value: Any) -> Any:
        """Charge a newly built value to the file's budget; refuse one that is too large."""
        size = _size(value)
        if size > MAX_ITEMS:
            raise self.too_big(node, f"a {type(value).__name__} of {size} items")
        if isinstance(value, (list, tuple, dict, set)) and self.weight(value) > 2 * MAX_ITEMS:
            raise self.too_big(node, f"a {type(value).__name__} holding more than {2 * MAX_ITEMS} items in all "
                                     "(counting repeated references)")
        self.items += size
        if self.items > MAX_ITEMS * 10:
            raise self.too_big(node, f"building {self.items} items in all")
        return value

    def binop(self, node: ast.BinOp, left: Any, right: Any) -> Any:
        """``left op right`` after checking that the result's size stays bounded."""
        op = type(node.op)
        if op is ast.Pow and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right * max(abs(left).bit_length() - 1, 1) > MAX_INT_BITS:
                raise self.too_big(node, f"{left} ** {right} is too large")
        if op is ast.Mult:
            count, seq = (right, left) if isinstance(right, int) else (left, right)
            if isinstance(count, int) and isinstance(seq, (str, bytes, list, tuple)) and count * len(seq) > MAX_ITEMS:
                raise self.too_big(node, f"repeating {len(seq)} items {count} times")
            both_int = isinstance(left, int) and isinstance(right, int)
            if both_int and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise self.too_big(node, "the product is too large")
        if op is ast.Add and isinstance(left, (str, list, tuple)) and _size(left) + _size(right) > MAX_ITEMS:
            raise self.too_big(node, f"a {type(left).__name__} of {_size(left) + _size(right)} items")
        if op is ast.Mod and isinstance(left, str):
            self.check_percent(node, left)
        result = _BINOPS[op](left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise self.too_big(node, "the result is too large an integer")
        return self.built(node, result) if isinstance(result, (str, bytes, list, tuple)) else result

    def check_spec(self, node: ast.AST, spec: str) -> None:
        if any(int(n) > MAX_FORMAT_WIDTH for n in _FORMAT_NUMBER.findall(spec)):
            raise self.too_big(node, f"format spec {spec[:40]!r} asks for a width above {MAX_FORMAT_WIDTH}")

    def check_percent(self, node: ast.AST, text: str) -> None:
        for width, precision in _PERCENT_SPEC.findall(text):
            if "*" in (width, precision):
                raise self.fail(node, "a '*' width in %-formatting")
            self.check_spec(node, f"{width}.{precision}")

    def check_format(self, node: ast.AST, text: str) -> None:
        """``str.format`` templates may name fields, not walk attributes or items (``{0.__class__}``)."""
        try:
            fields = list(string.Formatter().parse(text))
        except ValueError as err:
            raise ConfigError(f"{self.path}:{node.lineno}: bad format string {text[:40]!r}: {err}") from None
        for _, field, spec, _ in fields:
            if field and ("." in field or "[" in field):
                raise self.fail(node, f"the format field {{{field}}} (attribute or item access)")
            if spec:
                if "{" in spec:
                    raise self.fail(node, f"a nested format field in {{{field}:{spec}}}")
                self.check_spec(node, spec)

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
            try:
                self.statement(stmt)
            except ConfigError:
                raise
            except RecursionError:
                raise ConfigError(f"{self.path}:{stmt.lineno}: the expression nests too deeply") from None
            except MemoryError:
                raise self.too_big(stmt, "out of memory") from None
            except Exception as err:  # a TypeError, ZeroDivisionError, ... of the file's own arithmetic
                raise ConfigError(f"{self.path}:{stmt.lineno}: {type(err).__name__}: {err}") from None
        return self.scopes[0]

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # docstring
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
            fake = ast.BinOp(left=stmt.target, op=stmt.op, right=stmt.value, lineno=stmt.lineno)
            self.scopes[0][stmt.target.id] = self.binop(fake, self.lookup(stmt.target), self.eval(stmt.value))
        else:
            raise self.fail(stmt, f"a {type(stmt).__name__} statement")

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
            return self.built(node, [self.eval(e) for e in node.elts])
        if isinstance(node, ast.Tuple):
            return self.built(node, tuple(self.eval(e) for e in node.elts))
        if isinstance(node, ast.Set):
            return self.built(node, {self.eval(e) for e in node.elts})
        if isinstance(node, ast.Dict):
            out: dict = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    out.update(self.eval(v))
                else:
                    out[self.eval(k)] = self.eval(v)
            return self.built(node, out)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self.binop(node, self.eval(node.left), self.eval(node.right))
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
            return self.built(node, "".join(self.eval(v) if not isinstance(v, ast.FormattedValue)
                                            else self.formatted(v) for v in node.values))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node)
        raise self.fail(node, f"a {type(node).__name__} expression")

    def formatted(self, node: ast.FormattedValue) -> str:
        spec = self.eval(node.format_spec) if node.format_spec else ""
        self.check_spec(node, spec)
        return format(self.eval(node.value), spec)

    def call(self, node: ast.Call) -> Any:
        func = self.callee(node)
        args = []
        for a in node.args:
            args.extend(self.eval(a.value)) if isinstance(a, ast.Starred) else args.append(self.eval(a))
        kwargs: dict = {}
        for kw in node.keywords:
            kwargs.update(self.eval(kw.value)) if kw.arg is None else kwargs.__setitem__(kw.arg, self.eval(kw.value))
        self.check_call(node, func, args, kwargs)
        result = func(*args, **kwargs)
        return self.built(node, result) if isinstance(result, (str, list, tuple, dict, set, range)) else result

    def check_call(self, node: ast.Call, func: Any, args: list, kwargs: dict) -> None:
        """Refuse calls whose cost is not bounded by their arguments' sizes."""
        owner = getattr(func, "__self__", None)
        name = getattr(func, "__name__", "")
        if func is range and len(range(*args)) > MAX_ITEMS:
            raise self.too_big(node, f"a range of {len(range(*args))} numbers")
        if func is round and len(args) > 1 and isinstance(args[1], int) and abs(args[1]) > MAX_FORMAT_WIDTH:
            raise self.too_big(node, f"round(..., {args[1]})")
        if func is sum and (len(args) > 1 or kwargs) and not isinstance((args[1:] or list(kwargs.values()))[0],
                                                                         (int, float)):
            raise self.fail(node, "sum() of non-numbers")
        if isinstance(owner, str):
            if name == "format":
                self.check_format(node, owner)
            elif name == "replace" and args and isinstance(args[0], str) and len(args) > 1:
                grows = max(len(str(args[1])) - len(args[0]), 0) * (owner.count(args[0]) if args[0] else len(owner) + 1)
                if len(owner) + grows > MAX_ITEMS:
                    raise self.too_big(node, "the replaced string is too long")
            elif name == "join" and args:
                parts = list(args[0]) if not isinstance(args[0], str) else args[0]
                total = sum(len(p) for p in parts if isinstance(p, str)) + len(owner) * max(len(parts) - 1, 0)
                if total > MAX_ITEMS:
                    raise self.too_big(node, f"a joined string of {total} characters")
                args[0] = parts

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
                self.iterations += 1
                if self.iterations > MAX_ITERATIONS:
                    raise self.too_big(node, f"more than {MAX_ITERATIONS} comprehension steps")
                self.assign(gen.target, item)
                if all(self.eval(cond) for cond in gen.ifs):
                    loop(rest)

        self.scopes.append({})
        try:
            loop(node.generators)
        finally:
            self.scopes.pop()
        if isinstance(node, ast.DictComp):
            return self.built(node, dict(results))
        if isinstance(node, ast.SetComp):
            return self.built(node, set(results))
        return self.built(node, results)


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
    if path.suffix not in (".py", ".json"):
        raise ConfigError(f"{path}: a config file is a PYSKL-style .py file (or a .json dump of one), "
                          f"not {path.suffix or 'a file without extension'}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size} bytes is too large for a config file "
                          f"(limit {MAX_FILE_BYTES // 2**20} MiB)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file, so not a config") from None
    if path.suffix == ".json":
        try:
            cfg = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not a readable JSON config: it nests too deeply") from None
        if not isinstance(cfg, dict):
            raise ConfigError(f"{path}: a JSON config must hold an object of config keys")
    else:
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as err:
            raise ConfigError(f"{path}:{err.lineno}: syntax error: {err.msg}") from err
        except (RecursionError, MemoryError):
            raise ConfigError(f"{path}: the file nests too deeply to be a config") from None
        cfg = {k: v for k, v in _Evaluator(str(path)).run(tree).items() if not k.startswith("_")}
    if overrides:
        apply_overrides(cfg, overrides, substituted=_names_used(tree) if path.suffix != ".json" else ())
    return cfg


def _names_used(tree: ast.Module) -> set[str]:
    """Top-level names the file reads after assigning them: their values were copied into other keys."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


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


def apply_overrides(cfg: dict, items: list[str], substituted: Iterable[str] = ()) -> dict:
    """Apply ``--cfg-options`` in place; every key on the path must already exist (or be in ``OPTIONAL_KEYS``).

    A list in the path is indexed by an integer component (``data.train.pipeline.0.clip_len=50``).

    Args:
        cfg: the loaded config.
        items: ``"key.path=value"`` strings.
        substituted: top-level names the config file used in other assignments (``ann_file`` in
            ``dict(ann_file=ann_file)``). Their values were copied when the file was read, so replacing
            one would change nothing: that is refused, naming the keys that hold the copies.
    """
    substituted = set(substituted)
    for key, value in parse_overrides(items):
        parts = key.split(".")
        if len(parts) == 1 and key in substituted and key in cfg:
            raise ConfigError(_substituted_message(cfg, key, substituted))
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


def _substituted_message(cfg: dict, name: str, substituted: set[str]) -> str:
    # copies inside other helper variables (train_pipeline) are the same objects as those in data.*: name those
    copies = [p for k, v in cfg.items() if k != name and k not in substituted for p in _paths_holding(v, cfg[name], k)]
    shown = " ".join(f"{p}=..." for p in copies[:6]) + (f" (+{len(copies) - 6} more)" if len(copies) > 6 else "")
    where = f"set the keys that use it instead: --cfg-options {shown}" if copies else \
        "no other key holds its value now, so set the keys that used it"
    hint = " (or pyskl train/test --ann-file FILE, which sets every split's file)" if name == "ann_file" else ""
    return (f"--cfg-options {name}: the config file copied {name!r} into other keys when it was read, so "
            f"changing it has no effect; {where}{hint}")


def _paths_holding(tree: Any, value: Any, prefix: str) -> list[str]:
    """Dotted paths under ``tree`` whose value is ``value`` (the same object, or an equal scalar)."""
    if tree is value or (not isinstance(value, (dict, list, tuple)) and type(tree) is type(value) and tree == value):
        return [prefix]
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    return [p for k, v in items for p in _paths_holding(v, value, f"{prefix}.{k}")]


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

    text = json.dumps(copy.deepcopy(cfg), indent=2, default=default) + "\n"
    atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))
