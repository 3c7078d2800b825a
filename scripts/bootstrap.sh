#!/usr/bin/env bash
# Create .venv with flowyml and its dev extras, exactly as pinned in uv.lock.
# Idempotent and fast when nothing changed (uv).  Never downloads a Python interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install -q --disable-pip-version-check uv >&2
fi
UV=$(command -v uv || echo "$PY -m uv")
$UV sync --frozen --inexact --extra dev --python "$PY" -q >&2
