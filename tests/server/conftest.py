"""Helpers for the server tests: apps on SQLite files, a real uvicorn, gated pipelines."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from flowyml import Pipeline, step
from flowyml.server import ServerOptions, create_app

FAST = ServerOptions(ping_interval=1.0, poll_interval=0.25, interrupt_interval=3600.0)


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    """A fresh SQLite metadata store and local artifact folder."""
    return f"sqlite:///{tmp_path / 'meta.db'}", f"file://{tmp_path / 'artifacts'}"


def make_app(urls: tuple[str, str], pipelines: Sequence[Pipeline] = (), **kwargs: Any) -> FastAPI:
    """A standalone app on the test's stores, with short timings."""
    kwargs.setdefault("options", FAST)
    kwargs.setdefault("store", urls[0])
    kwargs.setdefault("artifacts", urls[1])
    return create_app(pipelines=pipelines, **kwargs)


@asynccontextmanager
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and yield an in-process client (bodies are buffered)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@asynccontextmanager
async def serve(app: FastAPI, port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1 in this event loop; yield its URL.

    ``port`` 0 takes a free one; a fixed port lets a page find a restarted server again.
    """
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on such sockets (without it
    # every answer waits ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, backlog=512
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
    sock.close()


class Gates:
    """One ``anyio.Event`` per step of a chain pipeline; a step waits for its gate."""

    def __init__(self, n: int) -> None:
        self.events = [anyio.Event() for _ in range(n)]
        self.entered = [anyio.Event() for _ in range(n)]

    def open(self, i: int) -> None:
        self.events[i].set()

    def open_all(self) -> None:
        for e in self.events:
            e.set()


def chain(name: str, gates: Gates) -> Pipeline:
    """``s0 -> s1 -> ...``: step ``i`` waits for gate ``i`` and returns ``i``."""
    p = Pipeline(name, enable_cache=False)
    for i in range(len(gates.events)):

        async def fn(prev: int = -1, _i: int = i) -> int:
            gates.entered[_i].set()
            await gates.events[_i].wait()
            return _i

        s = step(name=f"s{i}")(fn)
        p.add_step(s, inputs={"prev": f"s{i - 1}"} if i else {})
    return p


def quick(name: str = "quick") -> Pipeline:
    """A small pipeline with JSON, text and a parameter."""

    @step
    async def load(n: int) -> list[int]:
        return list(range(n))

    @step
    def total(xs: list[int]) -> int:
        return sum(xs)

    @step
    def describe(xs: list[int]) -> str:
        return f"{len(xs)} numbers"

    p = Pipeline(name, context={"n": 3}, enable_cache=False)
    p.add_step(load).add_step(total, inputs={"xs": "load"}).add_step(
        describe, inputs={"xs": "load"}
    )
    return p


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Poll a cheap in-process condition (server state, not ordering) until it holds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)


async def raw_http(
    base: str, head: str, chunks: Sequence[bytes] = (), *, timeout: float = 10.0
) -> tuple[int, bytes]:
    """Send a request head and body chunks over a raw socket while reading the answer.

    Returns the status and whatever the server sent (headers and body) before closing or
    ``timeout``.  Sending stops quietly when the server closes the connection early.
    """
    host, port = base.removeprefix("http://").split(":")
    received = bytearray()
    async with await anyio.connect_tcp(host, int(port)) as stream:

        async def send_all() -> None:
            try:
                await stream.send(head.replace("\n", "\r\n").encode() + b"\r\n")
                for chunk in chunks:
                    await stream.send(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_all)
            with anyio.move_on_after(timeout):
                try:
                    while b"\r\n\r\n" not in received or not _complete(received):
                        received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    pass
            tg.cancel_scope.cancel()
    status = int(bytes(received).split(b" ", 2)[1]) if received else 0
    return status, bytes(received)


def _complete(data: bytearray) -> bool:
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False
