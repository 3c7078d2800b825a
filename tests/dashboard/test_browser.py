"""The dashboard in a real headless Chromium (Debian's), against a real uvicorn on 127.0.0.1.

Steps block on events the test releases, so every state the page shows is reached
deterministically.  Screenshots of the run view are saved to ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from flowyml import Pipeline, step
from flowyml.server import flowyml_router
from tests.dashboard.browser import (
    ARTIFACTS,
    Gate,
    app_for,
    browser_page,
    shoot,
    status_of,
    wait_status,
)
from tests.server.conftest import FAST, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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
        await shoot(page, "run-view-live.png")

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
        await shoot(page, "run-view-finished.png", docs="dashboard-run.png")
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
        await shoot(page, "runs-list.png")


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
