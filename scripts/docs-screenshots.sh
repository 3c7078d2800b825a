#!/usr/bin/env bash
# Refresh the dashboard screenshots in docs/images/ from the browser tests.
#
#   bash scripts/docs-screenshots.sh
#
# tests/dashboard/test_browser.py drives Debian's Chromium against a real server and saves
# screenshots to test-artifacts/; this runs it and copies the ones the docs show.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q -p no:cacheprovider tests/dashboard/test_browser.py
cp test-artifacts/run-view-finished.png docs/images/dashboard-run.png
cp test-artifacts/run-view-live.png docs/images/dashboard-run-live.png
cp test-artifacts/runs-list.png docs/images/dashboard-runs.png
echo "docs/images/: dashboard-run.png, dashboard-run-live.png, dashboard-runs.png refreshed"
