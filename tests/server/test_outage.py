"""A metadata store that is briefly unavailable: 503s meanwhile, streams resume after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
from httpx_sse import aconnect_sse

from flowyml.errors import StoreConnectionError
from flowyml.execution._runtime import Runtime
from flowyml.server import FlowymlServer
from flowyml.storage.metadata import open_metadata_store

from .conftest import make_app, quick, serve, wait_for


class FlakyStore:
    """Failure injection only: forwards to a real store, or raises while ``failing``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.url: str = inner.url
        self.failing = False
        self.failures = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name.startswith("_") or not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.failing:
                self.failures += 1
                raise StoreConnectionError(f"metadata store {self.url} is down (injected)")
            method: Callable[..., Awaitable[Any]] = attr
            return await method(*args, **kwargs)

        return call


async def test_store_outage_gives_503_and_streams_resume(urls: tuple[str, str]) -> None:
    inner = open_metadata_store(urls[0])
    await inner.open()
    flaky = FlakyStore(inner)
    app = make_app(urls, [quick()], store=flaky)
    server: FlowymlServer = app.state.flowyml
    try:
        async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:
            async with aconnect_sse(c, "GET", f"{base}/api/events") as source:
                await wait_for(lambda: server.fanout.client_count == 1)
                flaky.failing = True
                for path in ("/api/health", "/api/runs", "/api/pipelines", "/api/runs/x"):
                    r = await c.get(f"{base}{path}")
                    assert r.status_code == 503, path
                    assert "down (injected)" in r.json()["detail"]
                await wait_for(lambda: not server.fanout.store_ok)
                # Meanwhile another writer (its own connection and hub) records a run.
                async with Runtime(store=urls[0], artifacts=urls[1]) as rt:
                    result = await quick("outside").arun(runtime=rt)
                assert result.status == "succeeded"
                flaky.failing = False
                seen = []
                with anyio.fail_after(5):
                    async for sse in source.aiter_sse():
                        if sse.event == "message":
                            continue
                        seen.append(sse)
                        if sse.event == "run_finished":
                            break
                assert {s.json()["run_id"] for s in seen} == {result.run_id}
                assert seen[0].event == "run_started"
                events = await server.store.events_after(0, run_id=result.run_id)
                assert [int(s.id) for s in seen] == [e.id for e in events]
            assert server.fanout.store_ok
            assert flaky.failures > 0
            r = await c.get(f"{base}/api/health")
            assert r.status_code == 200
            r = await c.post(f"{base}/api/pipelines/quick/runs", json={})
            assert r.status_code == 202
    finally:
        await inner.aclose()
