"""An I/O-heavy pipeline: fetch 150 resources concurrently, then aggregate them.

    python examples/async_fetch.py

The example starts its own small HTTP server on 127.0.0.1 (each response takes 50 ms),
builds one async ``fetch_<i>`` step per resource plus an aggregation step that depends
on all of them, and runs it with at most 50 requests in flight.  Because every fetch
starts the moment the run starts, the wall time is a fraction of the summed step
durations (the example prints both).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import anyio
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flowyml import Pipeline, step

N_RESOURCES = 150


async def item(request: Request) -> JSONResponse:
    await anyio.sleep(0.05)  # a slow backend
    i = int(request.path_params["i"])
    return JSONResponse({"id": i, "value": i * i})


def build_pipeline(base_url: str, client: httpx.AsyncClient) -> Pipeline:
    p = Pipeline("async-fetch", max_concurrency=50, persist=False)

    def fetcher(i: int) -> Any:
        @step(name=f"fetch_{i}", retries=2, retry_delay=0.05, timeout=10)
        async def fetch() -> dict[str, int]:
            response = await client.get(f"{base_url}/items/{i}")
            response.raise_for_status()
            data: dict[str, int] = response.json()
            return data

        return fetch

    for i in range(N_RESOURCES):
        p.add_step(fetcher(i))

    @step(inputs=[f"fetch_{i}" for i in range(N_RESOURCES)], outputs=["summary"])
    def aggregate(**items: dict[str, int]) -> dict[str, int]:
        return {"count": len(items), "total": sum(v["value"] for v in items.values())}

    return p.add_step(aggregate, inputs={f"fetch_{i}": f"fetch_{i}" for i in range(N_RESOURCES)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def main() -> dict[str, int]:
    app = Starlette(routes=[Route("/items/{i:int}", item)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:
            await anyio.sleep(0.01)
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            p = build_pipeline(f"http://127.0.0.1:{port}", client)
            t0 = time.perf_counter()
            result = await p.run()
            elapsed = time.perf_counter() - t0
        server.should_exit = True
    result.raise_for_status()
    summary: dict[str, int] = result["summary"]
    busy = sum(r.duration_seconds for r in result.step_results.values())
    print(f"fetched {summary['count']} resources in {elapsed:.2f}s wall, {busy:.2f}s of step time")
    return summary


if __name__ == "__main__":
    anyio.run(main)
