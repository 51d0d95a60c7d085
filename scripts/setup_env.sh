#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install what pyskl needs.
# Sourced by quickstart.sh and test.sh; safe to run again (skips work already done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PYSKL_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
EXTRAS="${PYSKL_EXTRAS:-test}"

[ -x "$PY" ] || python3 -m venv "$VENV"
pip_q() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

# The pinned CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
"$PY" -c "import torch" 2>/dev/null || pip_q "torch==2.13.0"

stamp="$VENV/.pyskl-installed"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/setup_env.sh" | sha1sum | cut -c1-16)-$EXTRAS"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    pip_q -e "$ROOT[$EXTRAS]"
    if [[ ",$EXTRAS," == *",demo,"* ]]; then
        # mediapipe's declared deps pull jax and opencv-contrib; the [demo] extra has what it uses.
        pip_q --no-deps "mediapipe==0.10.14"
    fi
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
