"""Run tags in the dashboard: chips on every run, a tag filter that stays live, links from
a run's page, readable in light and dark."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from playwright.async_api import expect

from flowyml import Pipeline, step
from tests.dashboard.browser import app_for, browser_page
from tests.dashboard.test_pages import CONTRAST, wait_finished
from tests.server.conftest import serve

pytestmark = pytest.mark.browser


def nightly() -> Pipeline:
    @step
    def one() -> int:
        return 1

    return Pipeline("alpha", tags=["nightly"], enable_cache=False).add_step(one)


async def start(http: httpx.AsyncClient, tags: list[str]) -> str:
    r = await http.post("/api/pipelines/alpha/runs", json={"tags": tags})
    run_id: str = r.json()["run_id"]
    await wait_finished(http, run_id)
    return run_id


async def rows(page: Any, n: int) -> None:
    await page.wait_for_function(f"document.querySelectorAll('tr[data-run]').length === {n}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_filter_runs_by_tag_chips(tmp_path: Path, scheme: Literal["light", "dark"]) -> None:
    app = app_for(tmp_path, [nightly()])
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=base) as http,
        browser_page(color_scheme=scheme) as page,
    ):
        marked = await start(http, ["candidate"])
        plain = await start(http, [])
        await page.goto(f"{base}/")
        await rows(page, 2)
        row = page.locator(f'tr[data-run="{marked}"]')
        tags = row.get_by_role("list", name="Tags").get_by_role("listitem")
        await expect(tags).to_have_text(["nightly", "candidate"])
        await expect(page.locator(f'tr[data-run="{plain}"] .tag-chip')).to_have_text(["nightly"])

        # a chip filters the list by its tag (the server filters: ?tag= on api/runs)
        async with page.expect_request(lambda r: "api/runs?" in r.url and "tag=candidate" in r.url):
            await row.get_by_role("button", name="Filter by tag candidate").click()
        await rows(page, 1)
        assert await page.locator("tr[data-run]").get_attribute("data-run") == marked
        assert "tag=candidate" in page.url
        chip = row.get_by_role("button", name="Filter by tag candidate")
        await expect(chip).to_have_attribute("aria-pressed", "true")
        await expect(page.get_by_role("combobox", name="Tag", exact=True)).to_have_value(
            "candidate"
        )
        found = await page.evaluate(CONTRAST)
        assert [w for w in found["worst"] if "tag-chip" in str(w["cls"])] == []

        # the filtered list stays live: a new run with the tag appears, one without does not
        await start(http, [])
        newest = await start(http, ["candidate", "rc"])
        await page.locator(f'tr[data-run="{newest}"]').wait_for()
        await rows(page, 2)

        # a second click on the chip (or the clear button) shows every run again
        await chip.click()
        await rows(page, 4)
        await page.get_by_role("combobox", name="Tag", exact=True).select_option("rc")
        await rows(page, 1)
        await page.get_by_role("button", name="Clear tag filter").click()
        await rows(page, 4)
        assert "tag=" not in page.url

        # a run's page lists its tags; each one opens the runs list filtered by it
        await page.goto(f"{base}/runs/{marked}")
        await page.get_by_role("link", name="Runs tagged candidate").click()
        await page.wait_for_url("**/?tag=candidate")
        await rows(page, 2)
