"""Shared helpers of the browser tests: Debian's Chromium through Playwright, real apps."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
from fastapi import FastAPI

from flowyml import Pipeline
from flowyml.server import create_app
from tests.server.conftest import FAST

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
IMAGES = ROOT / "docs" / "images"
STATIC = ROOT / "flowyml" / "server" / "static" / "index.html"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append("Debian chromium (apt-get install chromium)")
    if not STATIC.exists():
        missing.append("the dashboard build (npm --prefix web ci && npm --prefix web run build)")
    return "browser tests need " + " and ".join(missing) if missing else None


@asynccontextmanager
async def browser_page(
    *, width: int = 1400, height: int = 900, color_scheme: Literal["light", "dark"] = "light"
) -> AsyncIterator[Any]:
    """A fresh page; fails the test if the page raised an uncaught error."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page(
                viewport={"width": width, "height": height}, color_scheme=color_scheme
            )
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page
            assert errors == [], errors
        finally:
            await browser.close()


async def shoot(page: Any, name: str, *, docs: str | None = None) -> None:
    """Save a screenshot in test-artifacts/ and, with ``docs`` when
    ``FLOWYML_DOC_IMAGES=1`` (scripts/docs-screenshots.sh), as docs/images/<docs>: a
    plain test run leaves the checkout's files alone."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name))
    if docs and os.environ.get("FLOWYML_DOC_IMAGES") == "1":
        await page.screenshot(path=str(IMAGES / docs))


class Gate:
    """A step waits on ``release``; the test waits on ``entered``."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()


def app_for(tmp_path: Path, pipelines: list[Pipeline], **kwargs: Any) -> FastAPI:
    """A standalone app on SQLite and a local artifact folder under ``tmp_path``."""
    return create_app(
        store=f"sqlite:///{tmp_path / 'meta.db'}",
        artifacts=f"file://{tmp_path / 'artifacts'}",
        pipelines=pipelines,
        options=FAST,
        **kwargs,
    )


async def status_of(page: Any, name: str) -> str:
    value: str = await page.get_attribute(f'[data-step="{name}"]', "data-status")
    return value


async def wait_status(page: Any, name: str, status: str) -> None:
    await page.wait_for_selector(f'[data-step="{name}"][data-status="{status}"]')
