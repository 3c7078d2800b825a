#!/usr/bin/env bash
# Create or update .venv with flowyml installed from this checkout, exactly as pinned in uv.lock.
#
#   bash scripts/bootstrap.sh                 # runtime dependencies + the `dev` extra (tests, lint)
#   bash scripts/bootstrap.sh runtime         # runtime dependencies only (what the demo needs)
#   bash scripts/bootstrap.sh dev docs        # any list of extras from pyproject.toml
#
# Works with Debian's and Ubuntu's own python3 (PEP 668: nothing is installed into the system
# Python), pyenv and uv-managed Pythons.  The interpreter is $PYTHON, else python3.11, else
# python3 (>= 3.11), by its real path (a pyenv shim resolved).  uv comes from PATH; without
# one, it is installed once per user into a virtual environment of its own under
# ${XDG_CACHE_HOME:-~/.cache}/flowyml/uv (set FLOWYML_UV_HOME to choose another folder; this
# needs python3-venv on Debian/Ubuntu).  An existing .venv is kept and synced in place, so a
# run with nothing to change takes about a second.  Packages already installed are never
# removed (a demo run after a test run keeps the dev tools).  Never downloads a Python
# interpreter.  Progress and errors go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "bootstrap: $*" >&2; exit 1; }

extras=()
for arg in "${@:-dev}"; do
  case "$arg" in
    runtime) ;;
    -*) die "unknown option $arg (arguments are extras: dev, docs, postgres, ...; or 'runtime')" ;;
    *) extras+=(--extra "$arg") ;;
  esac
done

export UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

# The requested interpreter's real path: a pyenv shim is a script, and a venv made from it
# would name the shim, not the Python behind it.
real_python() {
  "$1" -c 'import sys; assert sys.version_info >= (3, 11), sys.version; print(sys.executable)' 2>/dev/null
}

venv_ok() {
  [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null
}

if [ -n "${PYTHON:-}" ]; then
  PY=$(real_python "$PYTHON") || die "PYTHON=$PYTHON is not a working Python >= 3.11"
  # An explicit interpreter that differs from the one .venv was made with replaces .venv.
  if venv_ok; then
    base=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
    [ "$(readlink -f "$base")" = "$(readlink -f "$PY")" ] || rm -rf .venv
  fi
else
  PY=""
  for cand in python3.11 python3.12 python3.13 python3; do
    command -v "$cand" >/dev/null 2>&1 || continue
    PY=$(real_python "$cand") && break
  done
  [ -n "$PY" ] || venv_ok || die "no Python >= 3.11 found: install one (apt-get install python3) or set PYTHON=/path/to/python3"
fi

# uv: one on PATH that works (a pyenv shim for a Python without uv does not), else our own.
if command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1; then
  UV=uv
else
  tool=${FLOWYML_UV_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/flowyml/uv}
  UV=$tool/bin/uv
  if ! "$UV" --version >/dev/null 2>&1; then
    [ -n "$PY" ] || PY=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
    echo "bootstrap: installing uv into $tool (once)" >&2
    [ ! -f "$tool/pyvenv.cfg" ] || rm -rf "$tool"   # only a virtual environment of ours
    mkdir -p "$(dirname "$tool")" || die "cannot create $(dirname "$tool"): set FLOWYML_UV_HOME to a writable folder"
    err=$(mktemp)
    if ! "$PY" -m venv "$tool" >/dev/null 2>"$err"; then
      rm -rf "$tool"
      if grep -q ensurepip "$err"; then
        rm -f "$err"
        die "$PY cannot create virtual environments: apt-get install python3-venv (Debian/Ubuntu), then run this again"
      fi
      cat "$err" >&2; rm -f "$err"
      die "$PY -m venv $tool failed (output above)"
    fi
    rm -f "$err"
    "$tool/bin/python" -m pip install -q uv >&2 || die "could not install uv from PyPI into $tool"
  fi
fi

if ! venv_ok; then
  rm -rf .venv
  echo "bootstrap: creating .venv with $PY" >&2
  "$UV" venv -q --python "$PY" .venv >&2
fi

# --inexact keeps the extras synced by an earlier run.
"$UV" sync --frozen --inexact "${extras[@]}" --python .venv/bin/python -q >&2
