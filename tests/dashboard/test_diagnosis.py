"""Diagnosing a failed run in the browser: the banner, the step panel, attempts, maps.

A real uvicorn on 127.0.0.1 serves a pipeline with a 50-element map (two elements
fail), a step skipped because of it, a step that fails twice before succeeding, and
a second run that takes the rest from the cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from flowyml import Pipeline, step
from tests.dashboard.browser import app_for, browser_page, shoot
from tests.server.conftest import serve

pytestmark = pytest.mark.browser


def diagnosis_pipeline() -> Pipeline:
    calls = {"flaky": 0}

    @step(outputs=["rows"])
    def extract() -> list[int]:
        return list(range(50))

    @step(inputs=["rows"], outputs=["fetched"], map_over="rows")
    def fetch(rows: int) -> int:
        if rows in (3, 40):
            raise KeyError(f"row {rows} has no id")
        return rows * 2

    @step(inputs=["fetched"], outputs=["report"])
    def report(fetched: list[int]) -> int:
        return sum(fetched)

    @step(outputs=["flaky"], retries=2, retry_delay=0)
    def flaky() -> int:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise ConnectionError(f"try {calls['flaky']}: upstream API timed out")
        return 1

    return Pipeline("diag").add_step(extract).add_step(fetch).add_step(report).add_step(flaky)


async def finished_run(http: httpx.AsyncClient, body: dict[str, Any] | None = None) -> str:
    run_id: str = (await http.post("/api/pipelines/diag/runs", json=body or {})).json()["run_id"]
    with anyio.fail_after(20):
        while (await http.get(f"/api/runs/{run_id}")).json()["run"]["status"] == "running":
            await anyio.sleep(0.05)
    return run_id


@asynccontextmanager
async def two_runs(tmp_path: Path) -> AsyncIterator[tuple[str, httpx.AsyncClient, str, str]]:
    """The server's URL, a client, a failed run and a second run served by the cache."""
    app = app_for(tmp_path, [diagnosis_pipeline()])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        first = await finished_run(http)
        second = await finished_run(http)
        yield base, http, first, second


async def test_failed_run_banner_leads_to_the_failing_step_and_its_elements(tmp_path: Path) -> None:
    async with two_runs(tmp_path) as (base, _, first, _second), browser_page() as page:
        await page.goto(f"{base}/runs/{first}")
        banner = page.locator(".failure-banner")
        await banner.wait_for()
        text = await banner.inner_text()
        assert "MapError" in text and "2 of 50 elements failed" in text

        # the mapped node: element count and status histogram
        node = page.locator('[data-step="fetch"]')
        assert await node.get_attribute("data-elements") == "50"
        histogram = node.get_by_role("img")
        assert await histogram.get_attribute("aria-label") == "50 elements: 48 succeeded, 2 failed"

        await banner.get_by_role("link", name="fetch").click()
        panel = page.locator('[data-panel-step="fetch"]')
        await panel.wait_for()
        assert "?step=fetch" in page.url
        assert "48 succeeded, 2 failed" in await panel.inner_text()
        await panel.get_by_text("Page 1 of 3").wait_for()
        await panel.get_by_role("button", name="Next").click()
        await panel.get_by_text("Page 2 of 3").wait_for()
        assert (
            await panel.locator("[data-element]").first.get_attribute("data-element") == "fetch[20]"
        )
        await panel.get_by_role("button", name="Previous").click()

        # an element opens in the panel; its traceback puts the user's frame first
        await panel.get_by_role("link", name="fetch[3]", exact=True).click()
        element = page.locator('[data-panel-step="fetch[3]"]')
        await element.wait_for()
        mine = element.get_by_role("list", name="Frames in your code")
        await mine.wait_for()
        frames = await mine.locator(".frame-fn").all_inner_texts()
        assert frames == ["fetch"]
        folded = element.locator("details.frames-folded")
        assert await folded.get_attribute("open") is None
        assert "of flowyml and the async runtime" in await folded.locator("summary").inner_text()
        assert "KeyError: 'row 3 has no id'" in await element.inner_text()
        # its input: item 3 of the list the map received, linked
        assert "item [3] of rows" in " ".join((await element.inner_text()).split())
        await element.get_by_role("link", name="rows").wait_for()
        await element.get_by_role("heading", name="Logs").wait_for()
        await shoot(page, "run-view-diagnosis.png", docs="dashboard-diagnosis.png")


async def test_attempts_skips_and_cache_hits_explain_themselves(tmp_path: Path) -> None:
    async with two_runs(tmp_path) as (base, _, first, second), browser_page() as page:
        # a step that failed twice, then succeeded: all three attempts
        await page.goto(f"{base}/runs/{first}?step=flaky")
        panel = page.locator('[data-panel-step="flaky"]')
        await panel.get_by_role("heading", name="Attempts (3)").wait_for()
        attempts = panel.locator("[data-attempt]")
        statuses = [await attempts.nth(i).get_attribute("data-status") for i in range(3)]
        assert statuses == ["failed", "failed", "succeeded"]
        assert "try 1: upstream API timed out" in await attempts.nth(0).inner_text()
        assert "try 2: upstream API timed out" in await attempts.nth(1).inner_text()

        # a skipped step says why, as a neutral note linking to the step at fault
        await page.goto(f"{base}/runs/{first}?step=report")
        panel = page.locator('[data-panel-step="report"]')
        note = panel.locator("[data-skip-reason=\"upstream step 'fetch' failed\"]")
        await note.wait_for()
        assert "upstream step fetch failed" in " ".join((await note.inner_text()).split())
        assert await panel.locator(".error-box").count() == 0
        await note.get_by_role("link", name="fetch").click()
        await page.locator('[data-panel-step="fetch"]').wait_for()

        # a cached step says "from cache" and links to the run that produced it
        await page.goto(f"{base}/runs/{second}?step=extract")
        panel = page.locator('[data-panel-step="extract"]')
        await panel.get_by_text("From cache", exact=True).wait_for()
        assert "Attempts" not in await panel.inner_text()
        await panel.get_by_role("link", name=first).click()
        await page.wait_for_url(f"**/runs/{first}")


async def test_resume_and_run_again_start_new_runs(tmp_path: Path) -> None:
    async with two_runs(tmp_path) as (base, http, first, second), browser_page() as page:
        await page.goto(f"{base}/runs/{first}")
        resume = page.get_by_role("button", name="Resume")
        await resume.click()
        await page.wait_for_function(f"!location.pathname.endsWith('{first}')")
        resumed = page.url.rsplit("/", 1)[-1].split("?")[0]
        run = (await http.get(f"/api/runs/{resumed}")).json()["run"]
        assert run["resumed_from"] == first
        await page.get_by_role("link", name=first).wait_for()  # "Resumed from"

        # a succeeded run cannot be resumed (the button says why), but can run again
        await page.goto(f"{base}/runs/{second}")
        await page.get_by_text("Pipeline", exact=False).first.wait_for()
        again = page.get_by_role("button", name="Run again")
        await again.wait_for()
        await page.get_by_label("without cache").check()
        await again.click()
        await page.wait_for_function(f"!location.pathname.endsWith('{second}')")
        fresh = page.url.rsplit("/", 1)[-1].split("?")[0]
        with anyio.fail_after(20):
            while (await http.get(f"/api/runs/{fresh}")).json()["run"]["status"] == "running":
                await anyio.sleep(0.05)
        steps = {s["step"]: s for s in (await http.get(f"/api/runs/{fresh}")).json()["steps"]}
        assert steps["extract"]["status"] == "succeeded"  # not from the cache
