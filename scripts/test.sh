#!/usr/bin/env bash
# Run the test suite in the project's virtual environment (created on first use).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `-k config`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYSKL_EXTRAS="${PYSKL_EXTRAS:-test,demo,vis,video,export,mc}" source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
exec python -m pytest -q "$@"
