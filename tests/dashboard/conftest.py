"""Browser tests skip (or fail on CI) without Chromium or the dashboard build."""

from __future__ import annotations

import os

import pytest

from tests.dashboard.browser import browser_missing


@pytest.fixture(autouse=True)
def needs_browser_and_build() -> None:
    msg = browser_missing()
    if msg:
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
