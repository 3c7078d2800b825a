#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need (Python deps from
# uv.lock, Debian's PostgreSQL, MariaDB and Chromium, the dashboard's npm packages), starts
# the database servers on 127.0.0.1, then runs lint, type checks, the Python tests (which
# start their own moto S3 server, uvicorn servers and headless Chromium) and the dashboard's
# own tests and build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
bash scripts/bootstrap.sh

# System packages the tests use (skipped when present).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# Azure Blob emulator (Azurite, from npm) for the gs:// and az:// artifact store tests; the
# GCS emulator comes with the dev extra.  The tests install Azurite on first use too.
AZURITE_DIR=${FLOWYML_AZURITE_DIR:-$HOME/.cache/flowyml/azurite}
if [ ! -x "$AZURITE_DIR/node_modules/.bin/azurite-blob" ]; then
  npm install --prefix "$AZURITE_DIR" --no-audit --no-fund --loglevel=error azurite@3 >&2
fi
export FLOWYML_AZURITE_DIR=$AZURITE_DIR
eval "$(bash .ci/services.sh start)"
trap 'bash .ci/services.sh stop >/dev/null 2>&1 || true' EXIT

# Dashboard: install from the lock file, unit tests, production build (served by the server).
if [ -f web/package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run build)
fi

.venv/bin/ruff check flowyml tests examples benchmarks
.venv/bin/ruff format --check flowyml tests examples benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest --cov=flowyml --cov-report=term:skip-covered "$@"
