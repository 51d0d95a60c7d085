"""Config evaluation is bounded: hostile arithmetic fails fast with file:line instead of hanging."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyskl.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]

HOSTILE = {  # name: (config text, line of the error, what the error says)
    "power": ("x = 9 ** 9 ** 9", 1, "is too large"),
    "comprehension": ("x = [i for i in range(10**10)]", 1, "a range of 10000000000 numbers"),
    "nested-comprehension": ("x = [[0 for j in range(10**4)] for i in range(10**4)]", 1,
                             "comprehension steps|items in all"),
    "repetition": ("x = 'a' * 10**11", 1, "repeating 1 items 100000000000 times"),
    "sum": ("x = sum(range(10**12))", 1, "a range of"),
    "round": ("x = round(5, -10**8)", 1, "round"),
    "format-width": ("x = f'{1:>1000000000}'", 1, "width above 1000"),
    "percent-star": ("x = '%*d' % (10**9, 1)", 1, "'\\*' width"),
    "format-attribute": ("x = '{0.__class__.__mro__}'.format(1)", 1, "attribute or item access"),
    "format-item": ("x = '{0[0]}'.format([1])", 1, "attribute or item access"),
    "shared-references": ("a = [0] * 1000\nb = [a] * 1000\nx = [b] * 1000", 2, "counting repeated references"),
    "doubling": ("x = 2\n" + "x *= x\n" * 40, 18, "too large"),
    "replace": ("a = 'a' * 10**5\nx = a.replace('a', a)", 2, "too long"),
}


def test_hostile_configs_fail_fast_naming_file_and_line(tmp_path):
    for name, (text, _, _) in HOSTILE.items():
        (tmp_path / f"{name}.py").write_text(text)
    # one fresh process for all: today's evaluator would hang or exhaust memory, the timeout tells
    code = f"""
        import json, resource
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
        from pyskl.config import ConfigError, load_config
        out = {{}}
        for name in {list(HOSTILE)!r}:
            try:
                load_config({str(tmp_path)!r} + f"/{{name}}.py")
                out[name] = "loaded"
            except ConfigError as err:
                out[name] = str(err)
        print(json.dumps(out))
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    for name, (_, line, expect) in HOSTILE.items():
        assert results[name].startswith(f"{tmp_path / name}.py:{line}: "), (name, results[name])
        assert re.search(expect, results[name]), (name, results[name])


def test_ordinary_arithmetic_still_works(tmp_path):
    path = tmp_path / "ok.py"
    path.write_text(textwrap.dedent("""
        clip_len = 100
        work_dir = './work_dirs/{}_{}'.format('stgcn', clip_len)
        tag = f'{clip_len:04d}' + '%s-%d' % ('j', 2)
        pairs = [(i, (i + 1) % 25) for i in range(25)]
        big = 2 ** 64 * 3
        names = ['a'] * 120
    """))
    cfg = load_config(path)
    assert cfg["work_dir"] == "./work_dirs/stgcn_100" and cfg["tag"] == "0100j-2"
    assert cfg["pairs"][24] == (24, 0) and cfg["big"] == 3 * 2**64 and len(cfg["names"]) == 120


def test_runtime_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("a = 1\nb = a / 0\n")
    with pytest.raises(ConfigError, match=r"bad\.py:2: ZeroDivisionError"):
        load_config(path)
