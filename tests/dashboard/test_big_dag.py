"""Big DAGs in the browser: finding steps, deep links, readable labels, 10,000 steps.

The 10,000-step test records how long the first nodes take to appear and the frame
rate while panning (``requestAnimationFrame`` in the page) in
``test-artifacts/dashboard-big-dag.json``; it asserts behaviour, not speed (the
machine is shared), and the figures are reported in docs/dashboard.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from playwright.async_api import expect

from flowyml import Pipeline, step
from tests.dashboard.browser import ARTIFACTS, app_for, browser_page
from tests.server.conftest import serve

pytestmark = pytest.mark.browser


def chains(n_chains: int, length: int) -> Pipeline:
    """``n_chains`` independent chains of ``length`` steps: c000_s000 -> c000_s001 -> ..."""

    def first() -> int:
        return 1

    def nxt(x: int) -> int:
        return x + 1

    p = Pipeline("big", enable_cache=False)
    for c in range(n_chains):
        p = p.add_step(step(name=f"c{c:03d}_s000", outputs=[f"o{c}_0"])(first))
        for i in range(1, length):
            p = p.add_step(
                step(
                    name=f"c{c:03d}_s{i:03d}", inputs={"x": f"o{c}_{i - 1}"}, outputs=[f"o{c}_{i}"]
                )(nxt)
            )
    return p


@asynccontextmanager
async def big_run(tmp_path: Path, n_chains: int, length: int) -> AsyncIterator[tuple[str, str]]:
    app = app_for(tmp_path, [chains(n_chains, length)])
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        run_id: str = (await http.post("/api/pipelines/big/runs", json={})).json()["run_id"]
        with anyio.fail_after(120):
            while (await http.get(f"/api/runs/{run_id}")).json()["run"]["status"] == "running":
                await anyio.sleep(0.1)
        yield base, run_id


IN_VIEW = """(name) => {
  const node = document.querySelector(`.react-flow__node[data-id="${name}"]`);
  const canvas = document.querySelector('.dag-canvas .react-flow');
  if (!node || !canvas) return false;
  const n = node.getBoundingClientRect();
  const c = canvas.getBoundingClientRect();
  return n.width > 0 && n.left >= c.left - 1 && n.top >= c.top - 1 && n.right <= c.right + 1 && n.bottom <= c.bottom + 1;
}"""


async def in_view(page: Any, name: str) -> bool:
    """The node is drawn and lies wholly inside the graph's canvas (waits up to 15 s)."""
    await page.wait_for_function(IN_VIEW, arg=name, timeout=15_000)
    return True


SMALLEST_TEXT = """() => {
  const vp = document.querySelector('.react-flow__viewport');
  const zoom = new DOMMatrixReadOnly(getComputedStyle(vp).transform).a;
  let smallest = Infinity;
  for (const el of document.querySelectorAll('.react-flow__node *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === 'hidden' || style.display === 'none' || el.offsetParent === null) continue;
    smallest = Math.min(smallest, parseFloat(style.fontSize) * zoom);
  }
  return { zoom, smallest };
}"""


async def test_find_step_deep_links_and_readable_labels(tmp_path: Path) -> None:
    async with big_run(tmp_path, 3, 100) as (base, run_id), browser_page() as page:
        # a deep link opens the step's panel and brings its node into view
        await page.goto(f"{base}/runs/{run_id}?step=c002_s090")
        await page.locator('[data-panel-step="c002_s090"]').wait_for()
        assert await in_view(page, "c002_s090")

        # "Find step" selects the step and centres the graph on it
        await page.get_by_role("searchbox", name="Find step").fill("c000_s050")
        await page.get_by_role("button", name="Find", exact=True).click()
        await page.locator('[data-panel-step="c000_s050"]').wait_for()
        assert await in_view(page, "c000_s050")
        assert "step=c000_s050" in page.url

        # the overview and the controls sit beside the canvas, never over a node
        canvas = await page.locator(".dag-canvas").bounding_box()
        minimap = await page.locator(".react-flow__minimap").bounding_box()
        assert canvas is not None and minimap is not None
        assert minimap["x"] >= canvas["x"] + canvas["width"] - 1

        # no label under 11 px on screen, however far out the user zooms
        zoom_out = page.get_by_role("button", name="Zoom out")
        seen = set()
        for _ in range(8):
            sizes = await page.evaluate(SMALLEST_TEXT)
            seen.add(round(sizes["zoom"], 2))
            assert sizes["smallest"] >= 10.99, sizes
            await zoom_out.click()
            await page.wait_for_timeout(150)
        assert len(seen) >= 4  # the zoom really changed

        # a phone: no minimap, nothing wider than the screen
        await page.set_viewport_size({"width": 375, "height": 800})
        await page.wait_for_timeout(200)
        assert not await page.locator(".react-flow__minimap").is_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375


FPS = """async (ms) => {
  const pane = document.querySelector('.dag-canvas .react-flow__pane');
  const r = pane.getBoundingClientRect();
  let frames = 0;
  let running = true;
  const count = () => { frames += 1; if (running) requestAnimationFrame(count); };
  requestAnimationFrame(count);
  const t0 = performance.now();
  const x0 = r.left + r.width / 2, y0 = r.top + r.height / 2;
  const opts = (x, y, buttons) => ({ bubbles: true, clientX: x, clientY: y, buttons, pointerId: 1, isPrimary: true, view: window });
  pane.dispatchEvent(new PointerEvent('pointerdown', opts(x0, y0, 1)));
  pane.dispatchEvent(new MouseEvent('mousedown', opts(x0, y0, 1)));
  let i = 0;
  while (performance.now() - t0 < ms) {
    i += 1;
    const x = x0 - (i * 7) % 600, y = y0 - (i * 5) % 300;
    window.dispatchEvent(new PointerEvent('pointermove', opts(x, y, 1)));
    window.dispatchEvent(new MouseEvent('mousemove', opts(x, y, 1)));
    await new Promise((res) => setTimeout(res, 8));
  }
  window.dispatchEvent(new MouseEvent('mouseup', opts(x0, y0, 0)));
  running = false;
  return { frames, seconds: (performance.now() - t0) / 1000 };
}"""


#: Notes (in the page, in ms since navigation) the first frame that shows a drawn node: what
#: the user sees, without the test's own polling delay.
FIRST_NODE_WATCH = """
  window.__firstNode = null;
  const seen = () => {
    const node = document.querySelector('.react-flow__node');
    if (node && getComputedStyle(node).visibility !== 'hidden' && node.getBoundingClientRect().width > 0) {
      window.__firstNode = performance.now();
    } else requestAnimationFrame(seen);
  };
  requestAnimationFrame(seen);
"""


async def test_ten_thousand_steps_first_nodes_then_pages(tmp_path: Path) -> None:
    async with big_run(tmp_path, 100, 100) as (base, run_id), browser_page() as page:
        await page.add_init_script(FIRST_NODE_WATCH)
        await page.goto(f"{base}/runs/{run_id}")
        await page.locator(".react-flow__node").first.wait_for()
        seen_by_test_ms = await page.evaluate("performance.now()")  # since navigation start
        first_node_ms = await page.evaluate("window.__firstNode")
        dag = await page.evaluate(
            "(() => { const e = performance.getEntriesByType('resource')"
            ".find(e => new URL(e.name).pathname.endsWith('/dag'));"
            " return { end: e.responseEnd, bytes: e.encodedBodySize, url: e.name }; })()"
        )
        assert "graph=true" in dag["url"]  # the page asks for the graph alone
        # every later page of steps arrives, and the DAG's nodes show their final state
        await page.get_by_text("10000/10000 done").wait_for(timeout=60_000)
        drawn = await page.locator(".react-flow__node").count()
        assert 0 < drawn < 10_000  # only what is in view is in the DOM
        transform = await page.evaluate(
            "getComputedStyle(document.querySelector('.react-flow__viewport')).transform"
        )
        pan = await page.evaluate(FPS, 2000)
        moved = await page.evaluate(
            "getComputedStyle(document.querySelector('.react-flow__viewport')).transform"
        )
        assert moved != transform  # the drag panned the graph
        # windowed rendering: a step far from the view is found and drawn, the fit button
        # shows the whole graph (from its layout, not from the nodes in the DOM)
        await page.get_by_role("searchbox", name="Find step").fill("c099_s099")
        await page.get_by_role("button", name="Find", exact=True).click()
        assert await in_view(page, "c099_s099")
        await page.get_by_role("button", name="Fit the whole graph").click()
        # from that far out the steps are shapes on one canvas, not 10,000 DOM nodes
        await page.get_by_role("img", name="10000 steps drawn as coloured shapes").wait_for()
        assert await page.locator(".react-flow__node").count() == 0
        await page.wait_for_function(
            "new DOMMatrixReadOnly(getComputedStyle(document.querySelector('.react-flow__viewport'))"
            ".transform).a < 0.2"
        )
        figures = {
            "steps": 10_000,
            "first_node_ms": round(first_node_ms),
            "first_node_seen_by_test_ms": round(seen_by_test_ms),
            "dag_received_ms": round(dag["end"]),  # the rest is layout and first render
            "dag_bytes": dag["bytes"],
            "pan_fps": round(pan["frames"] / pan["seconds"], 1),
            "nodes_in_dom": drawn,
        }
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "dashboard-big-dag.json").write_text(json.dumps(figures, indent=2))
        print(figures)


def with_sub_pipeline() -> Pipeline:
    @step(outputs=["raw"])
    def load() -> list[int]:
        return [3, 1, 3]

    @step(inputs=["raw"], outputs=["clean"])
    def clean(raw: list[int]) -> list[int]:
        return sorted(raw)

    @step(inputs=["clean"], outputs=["deduped"])
    def dedupe(clean: list[int]) -> list[int]:
        return sorted(set(clean))

    @step(inputs=["deduped"], outputs=["model"])
    def train(deduped: list[int]) -> int:
        return len(deduped)

    prep = Pipeline("prep").add_step(clean).add_step(dedupe)
    outer = Pipeline("outer", enable_cache=False).add_step(load)
    outer.add_step(prep, name="prep", inputs={"raw": "raw"}, outputs=["deduped"])
    return outer.add_step(train)


async def test_sub_pipelines_collapse_into_one_node(tmp_path: Path) -> None:
    app = app_for(tmp_path, [with_sub_pipeline()])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http, browser_page() as page:
        run_id = (await http.post("/api/pipelines/outer/runs", json={})).json()["run_id"]
        with anyio.fail_after(20):
            while (await http.get(f"/api/runs/{run_id}")).json()["run"]["status"] == "running":
                await anyio.sleep(0.05)
        await page.goto(f"{base}/runs/{run_id}")
        await page.locator('[data-step="prep.clean"]').wait_for()
        await page.get_by_role("button", name="Collapse sub-pipelines").click()
        group = page.locator('[data-step="prep"]')
        await group.wait_for()
        assert "sub-pipeline · 2 steps" in await group.inner_text()
        await expect(group.get_by_role("img")).to_have_attribute(
            "aria-label", "2 steps: 2 succeeded"
        )
        assert await page.locator('[data-step="prep.clean"]').count() == 0
        expand = page.get_by_role("button", name="Expand sub-pipelines")
        await expect(expand).to_have_attribute("aria-pressed", "true")
        # the folded node opens again on a click, and finding a step inside opens it too
        await group.click()
        await page.locator('[data-step="prep.dedupe"]').wait_for()
        await page.get_by_role("button", name="Collapse sub-pipelines").click()
        await page.locator('[data-step="prep"]').wait_for()
        await page.get_by_role("searchbox", name="Find step").fill("dedupe")
        await page.get_by_role("button", name="Find", exact=True).click()
        await page.locator('[data-panel-step="prep.dedupe"]').wait_for()
        await page.locator('[data-step="prep.dedupe"]').wait_for()
