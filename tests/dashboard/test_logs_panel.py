"""A running step's logs in its panel: shown live (follow), filtered by level."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from flowyml import Pipeline, StepContext, step
from tests.dashboard.browser import app_for, browser_page
from tests.server.conftest import serve

pytestmark = pytest.mark.browser


async def test_a_running_steps_lines_arrive_live_and_filter_by_level(tmp_path: Path) -> None:
    gate = anyio.Event()

    @step
    async def talk(ctx: StepContext) -> int:
        ctx.logger.info("before the gate")
        await gate.wait()
        ctx.logger.warning("after the gate")
        return 1

    app = app_for(tmp_path, [Pipeline("talker", enable_cache=False).add_step(talk)])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        run_id = (await http.post("/api/pipelines/talker/runs", json={})).json()["run_id"]
        await page.goto(f"{base}/runs/{run_id}?step=talk")
        panel = page.locator('[data-panel-step="talk"]')
        logs = panel.get_by_role("list", name="Log records")
        await logs.get_by_text("before the gate").wait_for()  # while the step still waits
        gate.set()
        await logs.get_by_text("after the gate").wait_for()  # followed without a reload
        await panel.get_by_label("Log level").select_option("WARNING")
        await logs.get_by_text("after the gate").wait_for()
        assert await logs.get_by_text("before the gate").count() == 0
