"""Step logs over HTTP: live ``step_log`` events on a real uvicorn SSE stream, and the
``/api/runs/{run_id}/logs`` pages."""

from __future__ import annotations

import anyio
import httpx
from fastapi import FastAPI
from httpx_sse import aconnect_sse

from flowyml import Pipeline, StepContext, step
from flowyml.server import flowyml_router

from .conftest import FAST, serve
from .test_sse import Reader, trigger


def _app(urls: tuple[str, str], pipeline: Pipeline) -> FastAPI:
    router = flowyml_router(
        store=urls[0], artifacts=urls[1], pipelines=[pipeline], options=FAST, dashboard=False
    )
    app = FastAPI()
    app.include_router(router)
    return app


async def test_lines_stream_live_and_page_back(urls: tuple[str, str]) -> None:
    gate = anyio.Event()

    @step
    async def talk(ctx: StepContext) -> int:
        ctx.logger.info("before the gate")
        await gate.wait()
        ctx.logger.warning("after the gate")
        return 1

    p = Pipeline("talker", enable_cache=False).add_step(talk)
    async with serve(_app(urls, p)) as base, httpx.AsyncClient(timeout=10) as c:
        run_id = await trigger(c, base, "talker")
        async with aconnect_sse(c, "GET", f"{base}/api/runs/{run_id}/events") as source:
            events = Reader(source)
            first = (await events.until("step_log", "talk")).json()
            # Live: the line arrives while the step is still waiting.
            assert not gate.is_set()
            assert [ln[4] for ln in first["lines"]] == ["before the gate"]
            gate.set()
            second = (await events.until("step_log", "talk")).json()
            assert [(ln[2], ln[4]) for ln in second["lines"]] == [("WARNING", "after the gate")]
            await events.until("run_finished")

        r = await c.get(f"{base}/api/runs/{run_id}/logs")
        assert r.status_code == 200, r.text
        page = r.json()
        assert [i["message"] for i in page["items"]] == ["before the gate", "after the gate"]
        assert page["items"][0]["step"] == "talk" and page["items"][1]["level"] == "WARNING"
        r = await c.get(f"{base}/api/runs/{run_id}/logs", params={"cursor": page["next_cursor"]})
        assert r.json() == {"items": [], "next_cursor": page["next_cursor"]}
        first_seq = page["items"][0]["seq"]
        r = await c.get(f"{base}/api/runs/{run_id}/logs", params={"cursor": first_seq})
        assert [i["message"] for i in r.json()["items"]] == ["after the gate"]
        r = await c.get(f"{base}/api/runs/{run_id}/logs", params={"step": "other"})
        assert r.json()["items"] == []
        r = await c.get(f"{base}/api/runs/nope/logs")
        assert r.status_code == 404
