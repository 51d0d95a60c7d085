#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install what pyskl needs, saying what it does.
# Sourced by quickstart.sh and test.sh; safe to run again (skips work already done).
#   PYSKL_VENV         where the environment lives (default: .venv in the repository)
#   PYSKL_EXTRAS       pyproject extras to install (default: test)
#   PYSKL_TORCH        the PyTorch requirement (default: torch==2.13.0)
#   PYSKL_TORCH_INDEX  where PyTorch comes from: a pip index URL, or "default" for pip's own configuration
#                      (default: PyTorch's CPU wheel index when it answers, else pip's own configuration).
# A PyTorch already importable in the environment (e.g. a CUDA build) is kept as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PYSKL_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
EXTRAS="${PYSKL_EXTRAS:-test}"
TORCH_SPEC="${PYSKL_TORCH:-torch==2.13.0}"
CPU_INDEX="https://download.pytorch.org/whl/cpu"

say() { echo "setup_env: $*" >&2; }
# pip's own progress lines, without the "Requirement already satisfied" noise; a pip failure still fails.
pip_i() {
    "$PY" -m pip install --disable-pip-version-check --progress-bar off "$@" \
        | { grep -v '^Requirement already satisfied' || true; }
}

if [ ! -x "$PY" ]; then
    say "creating the virtual environment $VENV"
    python3 -m venv "$VENV"
fi

if "$PY" -c "import torch" 2>/dev/null; then
    say "using the installed PyTorch $("$PY" -c 'import torch; print(torch.__version__)')"
else
    # A plain `pip install torch` on Linux pulls the CUDA build (several GB); the CPU index has the small one.
    index="${PYSKL_TORCH_INDEX:-}"
    if [ -z "$index" ]; then
        if "$PY" -c "import urllib.request as u; u.urlopen('$CPU_INDEX/torch/', timeout=10)" 2>/dev/null; then
            index="$CPU_INDEX"
        else
            index="default"
            say "PyTorch's CPU index ($CPU_INDEX) does not answer: using pip's own configuration"
        fi
    fi
    if [ "$index" = "default" ]; then
        say "installing $TORCH_SPEC with pip's configured indexes (a few minutes)"
        pip_i "$TORCH_SPEC"
    else
        say "installing $TORCH_SPEC from $index (a few minutes)"
        pip_i "$TORCH_SPEC" --index-url "$index"
    fi
fi

stamp="$VENV/.pyskl-installed"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/setup_env.sh" | sha1sum | cut -c1-16)-$EXTRAS"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing pyskl from $ROOT (editable) with extras [$EXTRAS] and their dependencies"
    pip_i -e "$ROOT[$EXTRAS]"
    if [[ ",$EXTRAS," == *",demo,"* ]]; then
        # mediapipe's declared deps pull jax and opencv-contrib; the [demo] extra has what it uses.
        say "installing mediapipe==0.10.14 without its declared dependencies"
        pip_i --no-deps "mediapipe==0.10.14"
    fi
    echo "$want" > "$stamp"
    say "done"
fi
export PATH="$VENV/bin:$PATH"
