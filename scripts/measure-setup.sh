#!/usr/bin/env bash
# Time from `git clone` to a served dashboard showing the quickstart's first run.
#
#   bash scripts/measure-setup.sh          # warm: uv's package cache as it is
#   bash scripts/measure-setup.sh --cold   # cold: empty package caches (downloads everything, and
#                                          # installs uv again when it is not on PATH)
#
# Clones this checkout's HEAD into a temporary folder, runs `bash scripts/demo.sh` there on a
# free port, and polls the API until a run is listed; prints the seconds it took.  The clone
# and its server are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

cold=0
[ "${1:-}" = "--cold" ] && cold=1
work=$(mktemp -d -t flowyml-setup.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$cold" = 1 ]; then
  export UV_CACHE_DIR="$work/uv-cache" PIP_NO_CACHE_DIR=1 FLOWYML_UV_HOME="$work/uv-tool"
fi

start=$(date +%s.%N)
git clone -q "file://$PWD" "$work/flowyml"
( cd "$work/flowyml" && PORT=$port exec setsid bash scripts/demo.sh ) >"$work/demo.log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$port/api/runs" 2>/dev/null | grep -q '"run_id"'; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/demo.log" >&2; echo "measure: the demo stopped" >&2; exit 1; }
  sleep 0.1
done
end=$(date +%s.%N)
curl -sf "http://127.0.0.1:$port/" | grep -q '<div id="root">' ||
  { echo "measure: / did not answer the dashboard" >&2; exit 1; }
python3 -c "print(f'clone to served dashboard ({\"cold\" if $cold else \"warm\"} cache): {$end - $start:.1f} s')"
