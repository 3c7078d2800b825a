"""Shared resources (``flowyml.shared``): opened once, given to every step, closed always."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from flowyml import Pipeline, close_shared, context, pipeline, shared, step


@asynccontextmanager
async def data_server() -> AsyncIterator[str]:
    """A real uvicorn on 127.0.0.1 answering ``/items/{i}`` with ``{"i": i}``."""
    app = FastAPI()

    @app.get("/items/{i}")
    async def item(i: int) -> dict[str, int]:
        return {"i": i}

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    config = uvicorn.Config(app, log_level="warning", backlog=1024, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True  # it stops within its 2 s graceful-shutdown bound


class Counted:
    """A factory of real ``httpx.AsyncClient``s that counts openings and closings."""

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url
        self.opened = 0
        self.closed = 0

    def __call__(self) -> httpx.AsyncClient:
        self.opened += 1
        counter = self

        class Client(httpx.AsyncClient):
            async def __aexit__(self, *exc: object) -> None:
                counter.closed += 1
                await super().__aexit__(*exc)  # type: ignore[arg-type]

        return Client(base_url=self.base_url, limits=httpx.Limits(max_connections=50))


@step(retries=3, retry_delay=0.05)  # a loaded machine may drop a connection now and then
async def fetch(i: int, http: httpx.AsyncClient) -> int:
    response = await http.get(f"/items/{i}")
    response.raise_for_status()
    return int(response.json()["i"])


@step
def total(fetch: list[int]) -> int:
    return sum(fetch)


@pytest.mark.slow
async def test_one_client_serves_a_thousand_mapped_fetches(tmp_path: Any) -> None:
    async with data_server() as url:
        clients = Counted(url)

        @pipeline(context=context(http=shared(clients)), max_concurrency=100)
        def crawl(items: list[int]) -> Any:
            return total(fetch.map(items))

        result = await crawl.arun(items=list(range(1000)), store=f"sqlite:///{tmp_path / 'm.db'}")
    assert result.success, result.summary()
    assert result["total"] == sum(range(1000))
    assert (clients.opened, clients.closed) == (1, 1)


async def test_the_resource_is_closed_when_the_run_fails() -> None:
    clients = Counted()

    @step
    async def use(http: httpx.AsyncClient) -> int:
        assert isinstance(http, httpx.AsyncClient)
        raise RuntimeError("boom")

    p = Pipeline("fails", context={"http": shared(clients)}, persist=False).add_step(use)
    result = await p.arun()
    assert result.status == "failed"
    assert (clients.opened, clients.closed) == (1, 1)


async def test_the_resource_is_closed_when_the_run_is_cancelled() -> None:
    clients = Counted()
    using = anyio.Event()

    @step
    async def wait(http: httpx.AsyncClient) -> int:
        using.set()
        await anyio.sleep(30)
        return 1

    p = Pipeline("cancelled", context={"http": shared(clients)}, persist=False).add_step(wait)
    async with anyio.create_task_group() as tg:
        tg.start_soon(p.arun)
        await using.wait()
        tg.cancel_scope.cancel()
    assert (clients.opened, clients.closed) == (1, 1)


def test_every_kind_of_factory_and_sync_steps() -> None:
    log: list[str] = []

    def generator() -> Iterator[str]:
        log.append("gen open")
        yield "from a generator"
        log.append("gen close")

    async def async_generator() -> AsyncIterator[str]:
        log.append("agen open")
        yield "from an async generator"
        log.append("agen close")

    async def coroutine() -> str:
        return "from a coroutine"

    @step
    def read(a: str, b: str, c: str, d: dict[str, int]) -> str:  # a sync step, in a thread
        return " / ".join([a, b, c, str(d)])

    ctx = context(
        a=shared(generator),
        b=shared(async_generator),
        c=shared(coroutine),
        d=shared(lambda: {"plain": 1}),
    )
    result = Pipeline("kinds", context=ctx, persist=False).add_step(read).run()
    assert result["read"] == (
        "from a generator / from an async generator / from a coroutine / {'plain': 1}"
    )
    assert sorted(log) == ["agen close", "agen open", "gen close", "gen open"]


def test_a_failing_factory_fails_only_the_steps_that_need_it() -> None:
    def broken() -> Any:
        raise ConnectionError("database unreachable")

    @step
    def needs(db: Any) -> int:
        return 1

    @step
    def free() -> int:
        return 2

    p = Pipeline("broken", context={"db": shared(broken)}, persist=False)
    result = p.add_step(needs).add_step(free).run()
    assert result.status == "failed"
    error = str(result.step_results["needs"].error)
    assert "shared resource 'db'" in error and "database unreachable" in error
    assert result["free"] == 2


async def test_shared_values_are_not_part_of_cache_keys(tmp_path: Any) -> None:
    clients = Counted()

    @step
    async def cached(n: int, http: httpx.AsyncClient) -> int:
        return n * 2

    p = Pipeline("cache", context={"http": shared(clients), "n": 3}).add_step(cached)
    store = f"sqlite:///{tmp_path / 'm.db'}"
    first = await p.arun(store=store)
    second = await p.arun(store=store)
    assert first["cached"] == second["cached"] == 6
    assert second.step_results["cached"].cached
    assert clients.opened == 1  # the cache hit needed no client at all


async def test_a_process_scoped_resource_outlives_runs_until_closed() -> None:
    clients = Counted()
    seen: list[int] = []

    @step
    async def use(http: httpx.AsyncClient) -> int:
        seen.append(id(http))
        return 1

    p = Pipeline("proc", context={"http": shared(clients, scope="process")}, persist=False)
    p.add_step(use)
    await p.arun()
    await p.arun()
    assert clients.opened == 1 and clients.closed == 0 and len(set(seen)) == 1
    await close_shared()
    assert clients.closed == 1
    await p.arun()
    assert clients.opened == 2
    await close_shared()


def test_shared_rejects_what_is_not_a_factory() -> None:
    with pytest.raises(TypeError, match="needs a callable"):
        shared(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'run' or 'process'"):
        shared(dict, scope="thread")  # type: ignore[arg-type]
