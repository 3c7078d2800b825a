"""Crawl 10,000 URLs through one shared HTTP client, at most 200 requests in flight.

    python examples/crawl.py [N]

The example starts its own small HTTP server on 127.0.0.1.  ``fetch`` is mapped over the
URLs; every element receives the same ``httpx.AsyncClient`` (its connection pool is
reused), opened when the first element needs it and closed when the run ends, whatever
the outcome.  ``summarise`` waits for the whole list.
"""

from __future__ import annotations

import socket
import sys
import time
from typing import Any

import anyio
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flowyml import context, pipeline, shared, step


async def page(request: Request) -> JSONResponse:
    i = int(request.path_params["i"])
    return JSONResponse({"id": i, "words": i % 97})


@step(retries=2, retry_delay=0.1)
async def fetch(url: str, http: httpx.AsyncClient) -> int:
    response = await http.get(url)
    response.raise_for_status()
    return int(response.json()["words"])


@step
def summarise(fetch: list[int]) -> dict[str, int]:
    return {"pages": len(fetch), "words": sum(fetch)}


def make_client() -> httpx.AsyncClient:
    # Entered when the first step needs it; closed (``__aexit__``) when the run ends.
    return httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=200))


@pipeline(context=context(http=shared(make_client)), max_concurrency=200, persist=False)
def crawl(urls: list[str]) -> Any:
    return summarise(fetch.map(urls))


async def main(n: int) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    app = Starlette(routes=[Route("/page/{i:int}", page)])
    config = uvicorn.Config(app, log_level="warning", backlog=2048, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        while not server.started:
            await anyio.sleep(0.01)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        t0 = time.perf_counter()
        result = await crawl.arun(urls=[f"{base}/page/{i}" for i in range(n)])
        result.raise_for_status()
        summary = result["summarise"]
        print(
            f"crawled {summary['pages']} pages ({summary['words']} words) "
            f"in {time.perf_counter() - t0:.2f}s through one client"
        )
        server.should_exit = True


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
