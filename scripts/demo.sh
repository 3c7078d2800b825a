#!/usr/bin/env bash
# The demo: install, run the quickstart pipeline (SQLite + local files under ./.flowyml),
# then serve the dashboard on http://127.0.0.1:8080 (Ctrl-C to stop).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python examples/quickstart.py
.venv/bin/python examples/quickstart.py   # the second run comes from the cache
exec .venv/bin/flowyml ui --host 127.0.0.1 --port "${PORT:-8080}" --pipeline examples.quickstart:training
