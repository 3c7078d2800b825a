"""The trigger form, the runs list, dark mode, accessibility and the connection indicator,
in Debian's Chromium against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import time
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import pytest
from playwright.async_api import expect

from flowyml import Pipeline, step
from tests.dashboard.browser import ARTIFACTS, app_for, browser_page, shoot
from tests.server.conftest import serve

pytestmark = pytest.mark.browser


def typed_pipeline() -> Pipeline:
    @step
    def train(
        lr: float,
        epochs: int,
        day: dt.date,
        mode: Literal["fast", "slow"],
        tags: list[int],
        shuffle: bool,
    ) -> int:
        return epochs

    p = Pipeline("typed", context={"epochs": 3, "shuffle": True}, enable_cache=False)
    return p.add_step(train)


def small_pipeline(name: str, fail: bool = False) -> Pipeline:
    @step(outputs=["raw"])
    def extract(n: int) -> list[int]:
        return list(range(n))

    @step(inputs=["raw"], outputs=["total"])
    def total(raw: list[int]) -> int:
        if fail:
            raise ValueError("totals do not add up")
        return sum(raw)

    return Pipeline(name, context={"n": 3}, enable_cache=False).add_step(extract).add_step(total)


async def wait_finished(http: httpx.AsyncClient, run_id: str) -> None:
    with anyio.fail_after(20):
        while (await http.get(f"/api/runs/{run_id}")).json()["run"]["status"] == "running":
            await anyio.sleep(0.05)


async def test_trigger_form_is_typed_and_shows_errors_on_their_fields(tmp_path: Path) -> None:
    app = app_for(tmp_path, [typed_pipeline()])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        await page.goto(f"{base}/pipelines/typed")
        form = page.locator("form.trigger-form")
        await form.get_by_label("epochs").wait_for()
        assert await form.get_by_label("lr").get_attribute("type") == "number"
        assert await form.get_by_label("day").get_attribute("type") == "date"
        assert await form.get_by_label("shuffle").is_checked()
        assert await form.get_by_label("mode").evaluate(
            "el => [...el.options].map(o => o.text)"
        ) == [
            "fast",
            "slow",
        ]
        assert await form.get_by_label("epochs").input_value() == "3"

        # checked in the browser: nothing is sent, the field says what is wrong
        await form.get_by_label("epochs").fill("2.5")
        await form.get_by_role("button", name="Start run").click()
        epochs = form.get_by_label("epochs")
        await expect(epochs).to_have_attribute("aria-invalid", "true")
        await form.get_by_text("epochs must be a whole number.").wait_for()
        runs = (await http.get("/api/runs")).json()["items"]
        assert runs == []

        # checked by the server: its 422 lands on the field it names
        await epochs.fill("4")
        await form.get_by_label("lr").fill("0.5")
        await form.get_by_label("day").fill("2026-12-01")
        await form.get_by_label("mode").select_option("slow")
        tags = form.get_by_label(re.compile(r"^tags"))  # the parameter, not "Run tags"
        await tags.fill('["x"]')
        await form.get_by_role("button", name="Start run").click()
        await form.locator("#param-tags-error").wait_for()
        assert "tags" in await form.locator("#param-tags-error").inner_text()
        await expect(tags).to_have_attribute("aria-invalid", "true")

        await tags.fill("[1, 2]")
        run_tags = form.get_by_label("Run tags")
        await run_tags.fill(f"nightly, {'x' * 101}")  # checked in the browser too
        await form.get_by_role("button", name="Start run").click()
        await expect(run_tags).to_have_attribute("aria-invalid", "true")
        await form.get_by_text("is longer than 100 characters").wait_for()
        await run_tags.fill(" nightly, team:data,nightly ")
        await form.get_by_role("button", name="Start run").click()
        await page.wait_for_url("**/runs/*")
        run_id = page.url.rsplit("/", 1)[-1]
        await wait_finished(http, run_id)
        run = (await http.get(f"/api/runs/{run_id}")).json()["run"]
        assert run["params"] == {
            "lr": 0.5,
            "epochs": 4,
            "day": "2026-12-01",
            "mode": "slow",
            "tags": [1, 2],
            "shuffle": True,
        }
        assert run["tags"] == ["nightly", "team:data"]


async def test_runs_list_search_filters_sorting_and_charts(tmp_path: Path) -> None:
    app = app_for(tmp_path, [small_pipeline("alpha"), small_pipeline("beta", fail=True)])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        ids = {}
        for name, n in (("alpha", 1), ("beta", 2), ("alpha", 3)):
            tags = ["nightly", "team:data"] if n != 2 else []
            body = {"params": {"n": n}, "tags": tags}
            r = await http.post(f"/api/pipelines/{name}/runs", json=body)
            ids[(name, n)] = r.json()["run_id"]
            await wait_finished(http, ids[(name, n)])
        await page.goto(f"{base}/")
        rows = page.locator("tr[data-run]")
        await rows.nth(2).wait_for()
        assert await page.locator("td.params-cell").first.inner_text() == "n=3"

        await page.get_by_role("searchbox", name="Search").fill("bet")
        await page.wait_for_function("document.querySelectorAll('tr[data-run]').length === 1")
        assert await rows.first.get_attribute("data-run") == ids[("beta", 2)]
        await page.get_by_role("searchbox", name="Search").fill("")
        await page.get_by_label("Status").select_option("succeeded")
        await page.wait_for_function("document.querySelectorAll('tr[data-run]').length === 2")
        await page.get_by_label("Status").select_option("")

        # sort by start, oldest first, then back
        started = page.get_by_role("button", name="Started")
        await started.click()
        header = page.locator("th", has=started)
        await expect(header).to_have_attribute("aria-sort", "ascending")
        await page.wait_for_function(
            f"document.querySelector('tr[data-run]').dataset.run === {json.dumps(ids[('alpha', 1)])}"
        )
        await page.get_by_role("button", name="Duration").click()
        duration = page.locator("th", has=page.get_by_role("button", name="Duration"))
        await expect(duration).to_have_attribute("aria-sort", "descending")
        await page.wait_for_function("location.search.includes('sort=duration')")

        # a small chart of recent runs per pipeline, outcomes in its accessible name
        chart = page.get_by_role("img", name="Last 1 runs of beta: 1 failed", exact=False)
        await chart.wait_for()
        alpha = page.locator('figure[data-pipeline="alpha"] svg')
        assert (await alpha.get_attribute("aria-label") or "").startswith(
            "Last 2 runs of alpha: 2 succeeded"
        )
        await shoot(page, "runs-list-search.png", docs="dashboard-runs.png")


CONTRAST = """() => {
  const lum = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('[disabled], .sr-only, svg, .react-flow__attribution') || !el.offsetParent) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || parseFloat(st.opacity) < 1) continue;
    const fg = rgba(st.color).slice(0, 3);
    const bg = bgOf(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) worst.push({ text: el.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100, cls: el.className });
  }
  return { worst, bg: getComputedStyle(document.documentElement).backgroundColor };
}"""

FOCUS = """() => {
  const el = document.activeElement;
  const st = getComputedStyle(el);
  const name = el.getAttribute('aria-label') || el.labels?.[0]?.textContent || el.textContent || el.title || '';
  const ring = (st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0) || st.boxShadow !== 'none'
    || [...el.querySelectorAll('*')].some((c) => getComputedStyle(c).outlineStyle !== 'none');
  return { tag: el.tagName, name: name.trim().slice(0, 40), ring };
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_contrast_keyboard_and_quiet_graph(
    tmp_path: Path, scheme: Literal["light", "dark"]
) -> None:
    app = app_for(tmp_path, [small_pipeline("alpha", fail=True)])
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=base) as http,
        browser_page(color_scheme=scheme) as page,
    ):
        run_id = (await http.post("/api/pipelines/alpha/runs", json={})).json()["run_id"]
        await wait_finished(http, run_id)
        await page.goto(f"{base}/runs/{run_id}?step=total")
        await page.locator('[data-panel-step="total"]').wait_for()
        await page.locator(".failure-banner").wait_for()
        result = await page.evaluate(CONTRAST)
        assert result["worst"] == [], result["worst"]
        dark = scheme == "dark"
        assert (result["bg"] == "rgb(15, 20, 25)") is dark
        if dark:
            await shoot(page, "run-view-dark.png", docs="dashboard-dark.png")

        # the read-only graph does not announce React Flow's editing hints
        hints = await page.evaluate(
            "[...document.querySelectorAll('[id^=react-flow__node-desc], [id^=react-flow__edge-desc]')]"
            ".map(e => e.textContent).join(' ')"
        )
        assert "delete" not in hints.lower() and "arrow keys" not in hints.lower()

        # every control on the way is reachable by Tab, named, and shows a focus ring
        await page.keyboard.press("Escape")
        await page.locator("[data-panel-step]").wait_for(state="detached")
        seen: list[dict[str, Any]] = []
        for _ in range(60):
            await page.keyboard.press("Tab")
            focus = await page.evaluate(FOCUS)
            if focus["tag"] == "BODY":  # past the last control
                break
            seen.append(focus)
            assert focus["name"], focus
            assert focus["ring"], focus
        names = [f["name"] for f in seen]
        for control in (
            "Resume",
            "Run again",
            "without cache",
            "Find step",
            "Zoom out",
            "Step total, failed",
        ):
            assert control in names, names


async def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_connection_indicator_tells_the_truth(tmp_path: Path) -> None:
    port = await free_port()
    figures: dict[str, Any] = {}
    async with browser_page() as page:
        async with serve(app_for(tmp_path, []), port) as base:
            await page.goto(f"{base}/")
            await page.wait_for_selector('[data-connection="live"]')
        # the server is gone: polls fail, the header says so
        await page.wait_for_selector('[data-connection="offline"]', timeout=20_000)
        async with serve(app_for(tmp_path, []), port):
            t0 = time.monotonic()
            await page.wait_for_selector('[data-connection="live"]', timeout=20_000)
            figures["back_to_live_s"] = round(time.monotonic() - t0, 2)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard-reconnect.json").write_text(json.dumps(figures))
    print(figures)


async def test_pipeline_page_and_artifacts(tmp_path: Path) -> None:
    app = app_for(tmp_path, [small_pipeline("alpha"), small_pipeline("beta", fail=True)])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        for name in ("alpha", "alpha", "beta"):
            await wait_finished(
                http, (await http.post(f"/api/pipelines/{name}/runs", json={})).json()["run_id"]
            )

        await page.goto(f"{base}/pipelines/alpha")
        await (
            page.locator("[data-success-rate]")
            .get_by_text("100% of the last 2 finished runs")
            .wait_for()
        )
        row = page.locator('tr[data-step-row="total"]')
        await row.wait_for()
        cells = await row.locator("td").all_inner_texts()
        assert cells[1:4] == ["no", "none", "on"]  # retries, timeout, cache
        await page.get_by_role("img", name="Last 2 runs of alpha", exact=False).wait_for()
        await shoot(page, "pipeline-page.png", docs="dashboard-pipeline.png")

        # artifacts: substring search, type filter, and the lineage drawn as a graph
        await page.goto(f"{base}/artifacts")
        await page.locator("tbody tr").nth(2).wait_for()
        await page.get_by_role("searchbox", name="Search").fill("tot")
        await page.get_by_role("button", name="Search").click()
        await page.wait_for_url("**q=tot**")
        names = await page.locator("tbody tr td:first-child").all_inner_texts()
        assert names and set(names) == {"total"}
        await page.get_by_label("Type").select_option("builtins.int")
        await page.get_by_role("button", name="Search").click()
        await page.wait_for_url("**type=builtins.int**")
        await page.get_by_role("link", name="total").first.click()
        graph = page.get_by_role("figure", name="Lineage of total")
        await graph.wait_for()
        assert (
            await graph.get_by_role("group", name="produced by (1)")
            .get_by_role("link")
            .inner_text()
            == "total"
        )
        assert (
            await graph.get_by_role("group", name="made from (1)").get_by_role("link").inner_text()
            == "raw"
        )


async def test_cancel_only_where_the_server_can_and_phone_layouts(tmp_path: Path) -> None:
    gate = anyio.Event()
    entered = anyio.Event()

    @step(outputs=["raw"])
    async def slow() -> int:
        entered.set()
        await gate.wait()
        return 1

    elsewhere = Pipeline("elsewhere", enable_cache=False).add_step(slow)
    store, artifacts = f"sqlite:///{tmp_path / 'meta.db'}", f"file://{tmp_path / 'artifacts'}"
    app = app_for(tmp_path, [elsewhere])
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=base) as http,
        browser_page(width=375, height=800) as page,
        anyio.create_task_group() as tg,
    ):
        # a run this server did not start (another process, in real life): no Cancel
        tg.start_soon(lambda: elsewhere.arun(store=store, artifacts=artifacts))
        await entered.wait()
        with anyio.fail_after(10):
            while not (items := (await http.get("/api/runs")).json()["items"]):
                await anyio.sleep(0.05)
        run_id = items[0]["run_id"]
        await page.goto(f"{base}/runs/{run_id}")
        await page.locator('[data-step="slow"][data-status="running"]').wait_for()
        await page.get_by_role("button", name="Resume").wait_for()
        assert await page.get_by_role("button", name="Resume").is_disabled()
        await page.get_by_text("The run is still running.").wait_for()
        assert await page.get_by_role("button", name="Cancel run").count() == 0
        # a phone: nothing wider than the screen, on the run page and the runs list
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375
        await shoot(page, "run-view-phone.png", docs="dashboard-phone.png")
        gate.set()
        await page.locator('[data-step="slow"][data-status="succeeded"]').wait_for()
        await page.goto(f"{base}/")
        await page.locator("tr[data-run]").first.wait_for()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375


async def test_live_streams_use_tickets_not_the_token(tmp_path: Path) -> None:
    app = app_for(tmp_path, [small_pipeline("alpha")], token="s3cret-token")
    auth = {"Authorization": "Bearer s3cret-token"}
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=base, headers=auth) as http,
        browser_page() as page,
    ):
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        await page.goto(f"{base}/?token=s3cret-token")
        await page.wait_for_selector('[data-connection="live"]')
        assert "token" not in page.url  # taken out of the address bar
        run_id = (await http.post("/api/pipelines/alpha/runs", json={})).json()["run_id"]
        await page.locator(f'tr[data-run="{run_id}"][data-status="succeeded"]').wait_for()
        streams = [u for u in urls if u.split("?")[0].endswith("/events")]
        assert streams and all("ticket=" in u for u in streams), streams
        assert not any("s3cret-token" in u for u in urls[1:]), urls
