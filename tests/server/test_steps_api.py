"""A run's steps page by page (a 10,000-step run), and one step's attempts."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from flowyml import Pipeline, step
from flowyml.events import Event, RunFinished, RunStarted, StepStarted, StepSucceeded
from flowyml.server import FlowymlServer
from flowyml.storage._records import PipelineRecord

from .conftest import api, make_app, serve

STEPS = 10_000


async def record_big_run(server: FlowymlServer, run_id: str = "big") -> list[str]:
    """A finished run of ``STEPS`` steps (plus 50 map elements), written as events."""
    names = [f"work_{i}" for i in range(STEPS)]
    now = time.time()
    nodes = [
        {"id": n, "name": n, "inputs": [names[i - 1]] if i else [], "outputs": [n]}
        for i, n in enumerate(names)
    ]
    edges = [
        {"source": names[i - 1], "target": n, "name": names[i - 1]} for i, n in enumerate(names)
    ]
    await server.store.save_pipeline(
        PipelineRecord(
            name="wide",
            dag={"pipeline": "wide", "nodes": nodes, "edges": edges[1:]},
            code_version="v1",
            created_at=now,
            updated_at=now,
        )
    )
    events: list[Event] = [RunStarted(run_id=run_id, ts=now, pipeline="wide", steps=names)]
    for i, n in enumerate(names):
        events.append(StepStarted(run_id=run_id, ts=now + i, step=n))
        if i % 10:  # every tenth step stays "running"
            events.append(StepSucceeded(run_id=run_id, ts=now + i, step=n, duration=0.5))
    elements = [f"fetch[{i}]" for i in range(50)]
    events += [StepSucceeded(run_id=run_id, ts=now, step=e) for e in elements]
    events.append(RunFinished(run_id=run_id, ts=now + STEPS, status="succeeded"))
    for start in range(0, len(events), 5000):
        await server.store.append_events(events[start : start + 5000])
    return names + sorted(elements)  # unlisted steps come by name: fetch[10] before fetch[2]


async def test_a_10000_step_run_pages(urls: tuple[str, str]) -> None:
    app = make_app(urls)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as c:
        everything = await record_big_run(app.state.flowyml)
        r = await c.get("/api/runs/big", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert r.num_bytes_downloaded < 100_000, r.num_bytes_downloaded
        first = r.json()
        assert first["dag"] is None and first["dag_size"] == STEPS
        assert first["can_cancel"] is False
        seen = [s["step"] for s in first["steps"]]
        cursor = first["steps_next_cursor"]
        assert len(seen) == 200 and cursor is not None
        while cursor is not None:
            page = (
                await c.get("/api/runs/big/steps", params={"cursor": cursor, "limit": 1000})
            ).json()
            seen += [s["step"] for s in page["items"]]
            cursor = page["next_cursor"]
        assert seen == everything
        running = (
            await c.get("/api/runs/big/steps", params={"status": "running", "limit": 1000})
        ).json()
        # run_finished closes the steps left open: they are no longer "running".
        assert running["items"] == []
        mapped = (
            await c.get("/api/runs/big/steps", params={"parent": "fetch", "limit": 20})
        ).json()
        assert [s["step"] for s in mapped["items"]] == everything[STEPS : STEPS + 20]
        dag = (await c.get("/api/runs/big/dag")).json()
        assert len(dag["nodes"]) == STEPS
        bad = await c.get("/api/runs/big/steps", params={"cursor": "nonsense"})
        assert bad.status_code == 422 and "cursor" in bad.json()["detail"]
        assert (await c.get("/api/runs/nope/steps")).status_code == 404
        assert (await c.get("/api/runs/nope/dag")).status_code == 404


def flaky_pipeline(failures: int) -> Pipeline:
    """``load`` (cached after the first run) -> ``flaky`` (fails ``failures`` times) ->
    ``report``; ``never`` after ``doomed``, which always fails, is skipped."""
    calls = {"flaky": 0}

    @step
    def load() -> int:
        return 41

    @step(retries=3, cache=False)
    def flaky(x: int) -> int:
        calls["flaky"] += 1
        if calls["flaky"] <= failures:
            raise ValueError(f"boom {calls['flaky']}")
        return x + 1

    @step(cache=False)
    def doomed(x: int) -> int:
        raise RuntimeError("always")

    @step(cache=False)
    def never(y: int) -> int:
        return y

    p = Pipeline("flaky")
    p.add_step(load).add_step(flaky, inputs={"x": "load"})
    p.add_step(doomed, inputs={"x": "load"}).add_step(never, inputs={"y": "doomed"})
    return p


async def test_step_detail_has_every_attempt(urls: tuple[str, str]) -> None:
    pipeline = flaky_pipeline(failures=2)
    first: Any = await pipeline.arun(store=urls[0], artifacts=urls[1])
    second: Any = await pipeline.arun(store=urls[0], artifacts=urls[1])
    app = make_app(urls)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        detail = (await c.get(f"/api/runs/{first.run_id}/steps/flaky")).json()
        attempts = detail["attempts"]
        assert [a["status"] for a in attempts] == ["failed", "failed", "succeeded"]
        assert [a["attempt"] for a in attempts] == [1, 2, 3]
        assert attempts[0]["error"] == "ValueError: boom 1"
        assert attempts[0]["error_type"] == "ValueError"
        assert all(a["duration"] is not None and a["duration"] >= 0 for a in attempts)
        doomed = (await c.get(f"/api/runs/{first.run_id}/steps/doomed")).json()
        (last,) = doomed["attempts"]
        assert last["error_type"] == "RuntimeError" and "always" in last["traceback"]
        never = (await c.get(f"/api/runs/{first.run_id}/steps/never")).json()
        assert never["step"]["status"] == "skipped"
        assert never["attempts"] == [] and "doomed" in never["skip_reason"]
        cached = (await c.get(f"/api/runs/{second.run_id}/steps/load")).json()
        assert cached["step"]["status"] == "cached"
        assert cached["cached_from"] == first.run_id and cached["attempts"] == []


@pytest.mark.parametrize("limit", [1, 3])
async def test_small_pages_in_process(urls: tuple[str, str], limit: int) -> None:
    pipeline = flaky_pipeline(failures=0)
    result: Any = await pipeline.arun(store=urls[0], artifacts=urls[1])
    async with api(make_app(urls)) as c:
        whole = (await c.get(f"/api/runs/{result.run_id}/steps", params={"limit": 100})).json()
        names = [s["step"] for s in whole["items"]]
        assert names == ["load", "flaky", "doomed", "never"]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            page = (await c.get(f"/api/runs/{result.run_id}/steps", params=params)).json()
            seen += [s["step"] for s in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == names
