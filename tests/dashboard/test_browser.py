"""The dashboard in a real headless Chromium (Debian's), against a real uvicorn on 127.0.0.1.

Steps block on events the test releases, so every state the page shows is reached
deterministically.  Screenshots of the run view are saved to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from flowyml import Pipeline, step
from flowyml.server import create_app, flowyml_router
from tests.server.conftest import FAST, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STATIC = Path(__file__).resolve().parents[2] / "flowyml" / "server" / "static" / "index.html"
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


@pytest.fixture(autouse=True)
def needs_browser_and_build() -> None:
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append("Debian chromium (apt-get install chromium)")
    if not STATIC.exists():
        missing.append("the dashboard build (npm --prefix web ci && npm --prefix web run build)")
    if missing:
        msg = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@asynccontextmanager
async def browser_page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page
            assert errors == [], errors
        finally:
            await browser.close()


class Gate:
    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()


def gated_pipeline(gates: dict[str, Gate]) -> Pipeline:
    """extract -> transform -> load, plus a side branch `audit` that fails when released."""

    @step(outputs=["raw"])
    async def extract() -> list[int]:
        gates["extract"].entered.set()
        await gates["extract"].release.wait()
        return [1, 2, 3]

    @step(inputs=["raw"], outputs=["clean"])
    async def transform(raw: list[int]) -> list[int]:
        gates["transform"].entered.set()
        await gates["transform"].release.wait()
        return [2 * x for x in raw]

    @step(inputs=["clean"], outputs=["loaded"])
    async def load(clean: list[int]) -> int:
        gates["load"].entered.set()
        await gates["load"].release.wait()
        return len(clean)

    @step(inputs=["raw"], outputs=["audit"])
    async def audit(raw: list[int]) -> None:
        gates["audit"].entered.set()
        await gates["audit"].release.wait()
        raise ValueError("audit found 3 suspicious rows")

    p = Pipeline("etl-live", enable_cache=False)
    return p.add_step(extract).add_step(transform).add_step(load).add_step(audit)


def app_for(tmp_path: Path, pipelines: list[Pipeline]) -> FastAPI:
    return create_app(
        store=f"sqlite:///{tmp_path / 'meta.db'}",
        artifacts=f"file://{tmp_path / 'artifacts'}",
        pipelines=pipelines,
        options=FAST,
    )


async def status_of(page: Any, name: str) -> str:
    value: str = await page.get_attribute(f'[data-step="{name}"]', "data-status")
    return value


async def wait_status(page: Any, name: str, status: str) -> None:
    await page.wait_for_selector(f'[data-step="{name}"][data-status="{status}"]')


async def test_run_view_follows_a_live_run(tmp_path: Path) -> None:
    gates = {n: Gate() for n in ("extract", "transform", "load", "audit")}
    app = app_for(tmp_path, [gated_pipeline(gates)])
    ARTIFACTS.mkdir(exist_ok=True)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        r = await http.post("/api/pipelines/etl-live/runs", json={"params": {}})
        assert r.status_code == 202
        run_id = r.json()["run_id"]
        await page.goto(f"{base}/runs/{run_id}")
        await gates["extract"].entered.wait()
        await wait_status(page, "extract", "running")
        assert await status_of(page, "transform") == "pending"
        assert await status_of(page, "load") == "pending"

        gates["extract"].release.set()
        await wait_status(page, "extract", "succeeded")
        await wait_status(page, "transform", "running")
        await wait_status(page, "audit", "running")
        assert await status_of(page, "load") == "pending"
        await page.screenshot(path=str(ARTIFACTS / "run-view-live.png"))

        gates["audit"].release.set()
        await wait_status(page, "audit", "failed")
        gates["transform"].release.set()
        await wait_status(page, "transform", "succeeded")
        await wait_status(page, "load", "running")
        gates["load"].release.set()
        await wait_status(page, "load", "succeeded")
        await page.wait_for_selector("text=failed")

        # the failing step shows its error with the traceback, from the keyboard too
        await page.focus('.react-flow__node[data-id="audit"]')  # keyboard: Tab target
        await page.keyboard.press("Enter")
        panel = page.locator("[data-panel-step]")
        await panel.wait_for()
        assert "audit found 3 suspicious rows" in await panel.inner_text()
        assert "ValueError" in await panel.inner_text()
        await page.screenshot(path=str(ARTIFACTS / "run-view-finished.png"))
        await page.keyboard.press("Escape")
        await panel.wait_for(state="detached")


async def test_cancel_button_cancels_a_running_run(tmp_path: Path) -> None:
    gates = {n: Gate() for n in ("extract", "transform", "load", "audit")}
    app = app_for(tmp_path, [gated_pipeline(gates)])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        run_id = (await http.post("/api/pipelines/etl-live/runs", json={})).json()["run_id"]
        await page.goto(f"{base}/runs/{run_id}")
        await wait_status(page, "extract", "running")
        await page.get_by_role("button", name="Cancel").click()
        await wait_status(page, "extract", "cancelled")
        run = (await http.get(f"/api/runs/{run_id}")).json()["run"]
        assert run["status"] == "cancelled"


async def test_run_list_updates_without_reload(tmp_path: Path) -> None:
    gates = {n: Gate() for n in ("extract", "transform", "load", "audit")}
    app = app_for(tmp_path, [gated_pipeline(gates)])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        await page.goto(f"{base}/")
        await page.wait_for_selector('[data-connection="live"]')
        run_id = (await http.post("/api/pipelines/etl-live/runs", json={})).json()["run_id"]
        row = f'tr[data-run="{run_id}"]'
        await page.wait_for_selector(f'{row}[data-status="running"]')
        for name in ("extract", "transform", "load", "audit"):
            gates[name].release.set()
        await page.wait_for_selector(f'{row}[data-status="failed"]')
        await page.screenshot(path=str(ARTIFACTS / "runs-list.png"))


async def test_deep_links_work_under_a_prefix_in_another_app(tmp_path: Path) -> None:
    gates = {n: Gate() for n in ("extract", "transform", "load", "audit")}
    host = FastAPI()
    host.include_router(
        flowyml_router(
            store=f"sqlite:///{tmp_path / 'meta.db'}",
            artifacts=f"file://{tmp_path / 'artifacts'}",
            pipelines=[gated_pipeline(gates)],
            options=FAST,
        ),
        prefix="/flowyml",
    )
    async with (
        serve(host) as base,
        httpx.AsyncClient(base_url=base) as http,
        browser_page() as page,
    ):
        run_id = (await http.post("/flowyml/api/pipelines/etl-live/runs", json={})).json()["run_id"]
        await page.goto(f"{base}/flowyml/runs/{run_id}")  # a deep link, loaded fresh
        await wait_status(page, "extract", "running")
        for name in ("extract", "transform", "load", "audit"):
            gates[name].release.set()
        await wait_status(page, "load", "succeeded")
        await page.reload()
        await wait_status(page, "load", "succeeded")
        await page.goto(f"{base}/flowyml/pipelines/etl-live")
        await page.wait_for_selector('[data-step="transform"]')
