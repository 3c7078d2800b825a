#!/usr/bin/env bash
# Refresh the dashboard screenshots in docs/images/ from the browser tests.
#
#   bash scripts/docs-screenshots.sh
#
# The browser tests (tests/dashboard/) drive Debian's Chromium against a real server and
# save screenshots to test-artifacts/; with FLOWYML_DOC_IMAGES=1 they also write the ones
# the docs show to docs/images/ (a plain test run leaves docs/ alone).
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWYML_DOC_IMAGES=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/dashboard
cp test-artifacts/run-view-live.png docs/images/dashboard-run-live.png
echo "docs/images/ refreshed"
