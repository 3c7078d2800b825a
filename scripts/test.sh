#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine (what CI runs, via .ci/run).
#
#   bash scripts/test.sh            # every phase below
#   bash scripts/test.sh -k sse     # extra arguments go to the main pytest run
#
# Needs root or passwordless sudo (it installs Debian's Chromium, PostgreSQL and MariaDB when
# missing, and starts the database servers on 127.0.0.1) and Node + npm in the range
# web/package.json's "engines" gives (the pinned Vite's own).  Both are checked first.
# Phases: Python dependencies from uv.lock; system packages; database servers; the dashboard
# (npm ci, unit tests, build); ruff; mypy; the documentation site (mkdocs --strict); pytest
# with coverage; the fast tests again against the newest anyio release.  Installers' output
# goes to log files under $FLOWYML_TEST_LOGS (default .test-logs/), named when a phase fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1

LOGS=${FLOWYML_TEST_LOGS:-$PWD/.test-logs}
mkdir -p "$LOGS"
phase() { echo "==> $*"; }
fail() { echo "test.sh: $*" >&2; exit 1; }
# Run a command with its output in a log file; on failure show the log's tail and name it.
quiet() {
  local log="$LOGS/$1.log"
  shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "'$*' failed; its whole output is in $log"
  fi
}

# --- Prerequisites, all checked before anything is installed --------------------------------
APT_PACKAGES=()
command -v chromium >/dev/null 2>&1 || APT_PACKAGES+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || APT_PACKAGES+=(postgresql)
{ command -v mariadbd || [ -x /usr/sbin/mariadbd ]; } >/dev/null 2>&1 || APT_PACKAGES+=(mariadb-server)

missing=()
SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    missing+=("root or passwordless sudo (to install ${APT_PACKAGES[*]:-system packages} and start PostgreSQL and MariaDB)")
  fi
fi
command -v python3 >/dev/null 2>&1 || missing+=("python3 >= 3.11 (apt-get install python3 python3-venv)")
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=("Node and npm, in the range web/package.json's engines gives")
elif command -v python3 >/dev/null 2>&1; then
  # Does `node --version` satisfy engines.node (a semver range of ^X.Y.Z / >=X.Y.Z terms joined by ||)?
  node_problem=$(python3 - "$(node --version)" <<'PY'
import json, re, sys
have = tuple(int(x) for x in re.findall(r"\d+", sys.argv[1])[:3])
wanted = json.load(open("web/package.json"))["engines"]["node"]
def ok(term):
    op, ver = re.fullmatch(r"\s*(\^|>=)?\s*v?([\d.]+)\s*", term).groups()
    v = tuple(int(x) for x in ver.split("."))
    v += (0,) * (3 - len(v))
    return have >= v and (op != "^" or have[0] == v[0])
if not any(ok(t) for t in wanted.split("||")):
    print(f"Node {wanted} (web/package.json engines; found {sys.argv[1]})")
PY
  )
  [ -z "$node_problem" ] || missing+=("$node_problem")
fi
if [ ${#missing[@]} -gt 0 ]; then
  msg=$(printf '%s; ' "${missing[@]}")
  fail "missing: ${msg%; }"
fi

# --- Installs ---------------------------------------------------------------------------------
phase "Python dependencies (.venv from uv.lock, extras dev and docs)"
quiet bootstrap bash scripts/bootstrap.sh dev docs

if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
  phase "system packages: ${APT_PACKAGES[*]} (apt-get)"
  quiet apt "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -q && apt-get install -y -q --no-install-recommends ${APT_PACKAGES[*]}"
fi

phase "database servers: PostgreSQL 127.0.0.1:55432, MariaDB 127.0.0.1:33306"
"${SUDO[@]}" bash .ci/services.sh start >"$LOGS/services.env" 2>"$LOGS/services.log" ||
  { tail -n 30 "$LOGS/services.log" >&2; fail "starting the database servers failed; see $LOGS/services.log"; }
eval "$(cat "$LOGS/services.env")"
trap '"${SUDO[@]}" bash .ci/services.sh stop >/dev/null 2>&1 || true' EXIT

# Azure Blob emulator (Azurite, from npm) for the az:// artifact store tests; the GCS emulator
# comes with the dev extra.  The tests would install Azurite on first use too.
export FLOWYML_AZURITE_DIR=${FLOWYML_AZURITE_DIR:-$HOME/.cache/flowyml/azurite}
if [ ! -x "$FLOWYML_AZURITE_DIR/node_modules/.bin/azurite-blob" ]; then
  phase "Azure Blob emulator: npm install azurite@3 into $FLOWYML_AZURITE_DIR"
  quiet azurite npm install --prefix "$FLOWYML_AZURITE_DIR" --no-audit --no-fund azurite@3
fi

if [ -f web/package-lock.json ]; then
  phase "dashboard: npm ci, unit tests, production build into flowyml/server/static"
  quiet npm-ci npm --prefix web ci --no-audit --no-fund
  (cd web && npm test && npm run build)
fi

# --- Checks -----------------------------------------------------------------------------------
phase "ruff"
.venv/bin/ruff check flowyml tests examples benchmarks
.venv/bin/ruff format --check flowyml tests examples benchmarks
phase "mypy (strict)"
.venv/bin/mypy
phase "documentation site: mkdocs build --strict"
# Not --quiet: it hides the warnings that --strict turns into a failure.
quiet mkdocs env NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "$LOGS/site"
phase "pytest (the whole suite, with coverage)"
.venv/bin/python -m pytest --cov=flowyml --cov-report=term:skip-covered "$@"

# --- The fast tests against the newest anyio --------------------------------------------------
# The lock keeps anyio below 4.14 for the benchmarks (see pyproject.toml); users get the
# newest release, so it is tested too, in a second environment with everything else as locked.
phase "pytest -m 'not slow' against the newest anyio (.venv-anyio-latest)"
if uv --version >/dev/null 2>&1; then UV=uv; else UV=.venv/bin/uv; fi
quiet anyio-latest-env sh -c "
  $UV venv -q --allow-existing --python .venv/bin/python .venv-anyio-latest &&
  $UV export -q --frozen --extra dev --no-hashes --no-emit-project --no-header |
    grep -v '^anyio==' >'$LOGS/anyio-latest-requirements.txt' &&
  $UV pip install --no-config -q --python .venv-anyio-latest/bin/python --compile-bytecode \
    -r '$LOGS/anyio-latest-requirements.txt' -e . 'anyio>=4.14' --upgrade-package anyio"
anyio_version=$(.venv-anyio-latest/bin/python -c 'import anyio, importlib.metadata as m; print(m.version("anyio"))')
echo "    anyio $anyio_version"
if ! .venv-anyio-latest/bin/python -m pytest -m "not slow" -q -p no:cacheprovider; then
  fail "the fast tests fail with anyio $anyio_version (the newest release; the lock has $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("anyio"))')); see the failures above"
fi
