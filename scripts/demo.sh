#!/usr/bin/env bash
# The demo: install flowyml's runtime dependencies into .venv, run the quickstart pipeline
# (SQLite + local files under ./.flowyml) twice, the second time from the cache, then serve
# the dashboard on http://127.0.0.1:${PORT:-8080} until Ctrl-C.
#
#   bash scripts/demo.sh
#   PORT=9000 bash scripts/demo.sh
#
# Needs a Python >= 3.11 (see scripts/bootstrap.sh); no Node: the dashboard is served from
# its build committed in flowyml/server/static.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8080}
say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }

# Everything that can fail fast is checked before anything is installed.
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] ||
  die "PORT=$PORT is not a port number (1-65535)"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "port $PORT on 127.0.0.1 is already in use: stop what listens there, or pick another port: PORT=8081 bash scripts/demo.sh"
fi
[ -f flowyml/server/static/index.html ] ||
  die "the dashboard build is missing from flowyml/server/static: restore it with 'git checkout -- flowyml/server/static' or build it with 'npm --prefix web ci && npm --prefix web run build' (Node ^20.19 or >= 22.12)"

log=$(mktemp -t flowyml-demo-install.XXXXXX.log)
if [ -x .venv/bin/python ]; then
  say "checking the installation (.venv)..."
else
  say "installing (first time only, ~20 s)..."
fi
if ! bash scripts/bootstrap.sh runtime >"$log" 2>&1; then
  cat "$log" >&2
  die "installation failed (log above, also in $log)"
fi
rm -f "$log"

say "running the quickstart..."
.venv/bin/python examples/quickstart.py
say "running it again: every step comes from the cache..."
.venv/bin/python examples/quickstart.py | grep '^run '

say "dashboard at http://127.0.0.1:$PORT (Ctrl-C to stop)"
exec .venv/bin/flowyml ui --host 127.0.0.1 --port "$PORT" --pipeline examples.quickstart:training
