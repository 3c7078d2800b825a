# mypy: ignore-errors
# (runs inside the peer's virtualenv; the peer's package is not installed here)
"""Prefect 3 peer: the shapes as ``@flow``/``@task`` through Prefect's public API.

Runs against Prefect's ephemeral local API (no ``PREFECT_API_URL``; the harness points
``PREFECT_HOME`` at a fresh temporary folder, so the server's SQLite database starts
empty, and turns analytics off).  Every task run is recorded by that API: Prefect has no
"persistence off", so its figures compare with flowyml's default persistence.

- async shapes: an ``async`` flow awaiting ``async`` tasks (fan-out via ``asyncio.gather``);
- ``sleep_sync``: a sync flow submitting sync tasks to a ``ThreadPoolTaskRunner`` as wide
  as the shape;
- ``cache``: tasks with ``cache_policy=INPUTS + TASK_SOURCE`` and ``persist_result=True``;
  the chain runs twice and every task state of the second run must be ``Cached``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from _common import peer_main, protocol

# Before prefect is imported: a private, empty home and no network beyond 127.0.0.1.
_TMP = os.environ.get("BENCH_TMP", ".")
os.environ.update(
    PREFECT_HOME=os.path.join(_TMP, "prefect-home"),
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_LOGGING_LEVEL="CRITICAL",
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    DO_NOT_TRACK="1",
)
os.environ.pop("PREFECT_API_URL", None)


class PrefectAdapter:
    """The Prefect side of the benchmark protocol."""

    def import_all(self) -> str:
        import prefect

        return str(prefect.__version__)

    def supports(self, shape: Any, mode: str) -> str | None:
        if mode == "cache" and shape.kind != "chain":
            return "the cache scenario is a chain"
        return None

    def run(self, shape: Any, prefix: str = "") -> tuple[float, float]:
        # Prefect's default cache policy includes the run id: no cross-run hits, no prefix.
        from prefect import flow, task
        from prefect.task_runners import ThreadPoolTaskRunner

        t0 = protocol.now()
        if shape.kind == "sleep_sync":
            import time

            delay = shape.sleep

            @task
            def blocking() -> int:
                time.sleep(delay)
                return 1

            @flow(task_runner=ThreadPoolTaskRunner(max_workers=shape.n))
            def sync_flow(n: int) -> int:
                futures = [blocking.submit() for _ in range(n)]
                return sum(f.result() for f in futures)

            build = protocol.now() - t0
            t1 = protocol.now()
            sync_flow(shape.n)
            return build, protocol.now() - t1

        delay = shape.sleep

        @task
        async def source() -> int:
            return 0

        @task
        async def noop(x: int) -> int:
            return x

        @task
        async def sink(xs: list[int]) -> int:
            return len(xs)

        @task
        async def sleeping() -> int:
            await asyncio.sleep(delay)
            return 1

        @flow
        async def async_flow(kind: str, n: int) -> int:
            if kind == "chain":
                x = await source()
                for _ in range(n - 1):
                    x = await noop(x)
                return x
            if kind == "fanout":
                x = await source()
                xs = await asyncio.gather(*[noop(x) for _ in range(n)])
                return int(await sink(list(xs)))
            done = await asyncio.gather(*[sleeping() for _ in range(n)])
            return len(done)

        build = protocol.now() - t0
        t1 = protocol.now()
        asyncio.run(async_flow(shape.kind, shape.n))
        return build, protocol.now() - t1

    def cache(self, shape: Any) -> tuple[float, str | None]:
        from prefect import flow, task
        from prefect.cache_policies import INPUTS, TASK_SOURCE

        @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
        async def inc(x: int) -> int:
            return x + 1

        @flow
        async def cached_chain(n: int) -> list[str]:
            x = 0
            names = []
            for _ in range(n):
                state = await inc(x, return_state=True)
                names.append(state.name)
                x = await state.aresult()
            return names

        asyncio.run(cached_chain(shape.n))
        t0 = protocol.now()
        names = asyncio.run(cached_chain(shape.n))
        wall = protocol.now() - t0
        missed = [n for n in names if n != "Cached"]
        problem = f"{len(missed)} of {len(names)} task runs were not cached" if missed else None
        return wall, problem


if __name__ == "__main__":
    peer_main(PrefectAdapter())
