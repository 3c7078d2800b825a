"""Triggering runs: typed parameters, their schema and limits, resume, cache off, 429."""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import Any, Literal

import httpx

from flowyml import Pipeline, step
from flowyml.server import ServerOptions

from .conftest import FAST, Gates, chain, make_app, raw_http, serve, wait_for


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def typed(seen: list[dict[str, Any]]) -> Pipeline:
    """One step reading a parameter of each kind; it records what it received."""

    @step
    def use(  # type: ignore[no-untyped-def]  # "anything" is left unannotated on purpose
        lr: float,
        day: dt.date,
        color: Color,
        mode: Literal["fast", "slow"],
        tags: list[str],
        n: int,
        anything,
    ) -> int:
        seen.append(
            {
                "lr": lr,
                "day": day,
                "color": color,
                "mode": mode,
                "tags": tags,
                "n": n,
                "any": anything,
            }
        )
        return n

    p = Pipeline("typed", context={"n": 3, "anything": None}, enable_cache=False)
    p.add_step(use)
    return p


GOOD = {"lr": 0.1, "day": "2024-01-31", "color": "red", "mode": "fast", "tags": ["a"]}


async def test_schema_and_typed_validation(urls: tuple[str, str]) -> None:
    seen: list[dict[str, Any]] = []
    app = make_app(urls, [typed(seen)])
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        schema = (await c.get("/api/pipelines/typed/schema")).json()
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        props = schema["properties"]
        assert props["lr"]["type"] == "number"
        assert props["n"] == {"type": "integer", "default": 3}
        assert props["day"] == {"type": "string", "format": "date"}
        assert props["color"]["enum"] == ["red", "blue"]
        assert props["mode"]["enum"] == ["fast", "slow"]
        assert props["tags"] == {"type": "array", "items": {"type": "string"}}
        assert props["anything"] == {"default": None}
        assert schema["required"] == ["color", "day", "lr", "mode", "tags"]
        assert schema["additionalProperties"] is False
        assert (await c.get("/api/pipelines/nope/schema")).status_code == 404
        detail = (await c.get("/api/pipelines/typed")).json()
        assert detail["registered"] is True

        for field, value in [("lr", "high"), ("day", "soon"), ("color", "green"), ("mode", 1)]:
            r = await c.post("/api/pipelines/typed/runs", json={"params": {**GOOD, field: value}})
            assert r.status_code == 422, (field, r.text)
            assert f"run parameter {field!r}" in r.json()["detail"]
        r = await c.post("/api/pipelines/typed/runs", json={"params": {**GOOD, "tags": [1, {}]}})
        assert r.status_code == 422 and "'tags'[0]" in r.json()["detail"]
        assert seen == []

        r = await c.post("/api/pipelines/typed/runs", json={"params": GOOD})
        assert r.status_code == 202, r.text
        await wait_for(lambda: len(seen) == 1)
        assert seen[0] == {
            "lr": 0.1,
            "day": dt.date(2024, 1, 31),
            "color": Color.RED,
            "mode": "fast",
            "tags": ["a"],
            "n": 3,
            "any": None,
        }


async def test_parameter_and_body_limits(urls: tuple[str, str]) -> None:
    seen: list[dict[str, Any]] = []
    options = ServerOptions(ping_interval=1.0, max_param_bytes=1000, max_param_depth=5)
    app = make_app(urls, [typed(seen)], options=options)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        big = {**GOOD, "anything": "x" * 2000}
        r = await c.post("/api/pipelines/typed/runs", json={"params": big})
        assert r.status_code == 422
        assert "'anything'" in r.json()["detail"] and "max_param_bytes" in r.json()["detail"]
        deep: Any = 1
        for _ in range(6):
            deep = [deep]
        r = await c.post("/api/pipelines/typed/runs", json={"params": {**GOOD, "anything": deep}})
        assert r.status_code == 422
        assert "'anything'" in r.json()["detail"] and "max_param_depth" in r.json()["detail"]
        # Content-Length over the limit: 413 before a byte of the body is sent.
        path = "/api/pipelines/typed/runs"
        head = f"POST {path} HTTP/1.1\nHost: x\nContent-Type: application/json\n"
        status, answer = await raw_http(base, head + f"Content-Length: {2 << 20}\n")
        assert status == 413 and b"max_body_bytes" in answer
        # A chunked body is counted as it streams: 413 once it passes the limit.
        piece = b"x" * 65536
        chunked = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 40 + [b"0\r\n\r\n"]
        status, answer = await raw_http(base, head + "Transfer-Encoding: chunked\n", chunked)
        assert status == 413 and b"max_body_bytes" in answer
        # Under the limit, a chunked body goes through whole.
        body = json.dumps({"params": {**GOOD, "lr": "high"}}).encode()
        small = [b"%x\r\n%s\r\n" % (len(body), body), b"0\r\n\r\n"]
        status, answer = await raw_http(base, head + "Transfer-Encoding: chunked\n", small)
        assert status == 422 and b"'lr'" in answer
        assert seen == []


def resumable(fail: list[bool]) -> Pipeline:
    """``first`` -> ``second``; ``second`` fails while ``fail[0]`` is true."""
    calls: list[str] = []

    @step
    def first() -> int:
        calls.append("first")
        return 1

    @step
    def second(x: int) -> int:
        calls.append("second")
        if fail[0]:
            raise ValueError("not yet")
        return x + 1

    p = Pipeline("resumable")
    p.add_step(first).add_step(second, inputs={"x": "first"})
    p.calls = calls  # type: ignore[attr-defined]
    return p


async def test_resume_and_run_again_without_cache(urls: tuple[str, str]) -> None:
    fail = [True]
    pipeline = resumable(fail)
    other = Pipeline("unregistered")
    other.add_step(step(name="s")(lambda: 1))
    app = make_app(urls, [pipeline])
    server = app.state.flowyml
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.post("/api/pipelines/resumable/runs", json={})
        failed_id = r.json()["run_id"]
        await wait_for(lambda: not server.is_running(failed_id))
        assert (await c.get(f"/api/runs/{failed_id}")).json()["run"]["status"] == "failed"

        fail[0] = False
        r = await c.post(f"/api/runs/{failed_id}/resume")
        assert r.status_code == 202, r.text
        resumed_id = r.json()["run_id"]
        await wait_for(lambda: not server.is_running(resumed_id))
        resumed = (await c.get(f"/api/runs/{resumed_id}")).json()
        assert resumed["run"]["status"] == "succeeded"
        assert resumed["run"]["resumed_from"] == failed_id
        assert pipeline.calls == ["first", "second", "second"]  # type: ignore[attr-defined]

        r = await c.post(f"/api/runs/{resumed_id}/resume")
        assert r.status_code == 409 and "succeeded" in r.json()["detail"]
        other_run: Any = await other.arun(store=urls[0], artifacts=urls[1])
        r = await c.post(f"/api/runs/{other_run.run_id}/resume")
        assert r.status_code == 409 and "not registered" in r.json()["detail"]
        assert (await c.post("/api/runs/nope/resume")).status_code == 404

        # Run again: cached by default, every step executes with enable_cache false.
        r = await c.post("/api/pipelines/resumable/runs", json={})
        again = r.json()["run_id"]
        await wait_for(lambda: not server.is_running(again))
        steps = (await c.get(f"/api/runs/{again}")).json()["steps"]
        assert {s["status"] for s in steps} == {"cached"}
        r = await c.post("/api/pipelines/resumable/runs", json={"enable_cache": False})
        fresh = r.json()["run_id"]
        await wait_for(lambda: not server.is_running(fresh))
        steps = (await c.get(f"/api/runs/{fresh}")).json()["steps"]
        assert {s["status"] for s in steps} == {"succeeded"}


async def test_max_active_runs_answers_429(urls: tuple[str, str]) -> None:
    gates = Gates(1)
    options = ServerOptions(ping_interval=FAST.ping_interval, max_active_runs=1)
    app = make_app(urls, [chain("chain", gates)], options=options)
    server = app.state.flowyml
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.post("/api/pipelines/chain/runs", json={})
        assert r.status_code == 202
        run_id = r.json()["run_id"]
        assert (await c.get(f"/api/runs/{run_id}")).json()["can_cancel"] is True
        r = await c.post("/api/pipelines/chain/runs", json={})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        assert "max_active_runs" in r.json()["detail"]
        gates.open_all()
        await wait_for(lambda: not server.is_running(run_id))
        assert (await c.get(f"/api/runs/{run_id}")).json()["can_cancel"] is False
        assert (await c.post("/api/pipelines/chain/runs", json={})).status_code == 202
