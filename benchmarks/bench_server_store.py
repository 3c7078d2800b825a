"""The server on a big SQLite store: 100,000 runs and 10 million events.

Builds the store fast, straight through the store's own schema (the metadata store
creates the tables, then rows go in with ``executemany`` in one transaction), then
serves it with a real uvicorn on 127.0.0.1 and times what the dashboard asks for:

- ``runs page``: ``GET /api/runs?limit=50`` (newest), a page deep in the list
  (``cursor``), and a filtered page (``pipeline`` + ``status``);
- ``run detail``: ``GET /api/runs/{id}`` (the run, its DAG and its 49 steps);
- ``replay``: ``GET /api/runs/{id}/events`` with ``Last-Event-ID`` in the middle of a
  finished run, read to its end.

Each run has ``run_started``, 49 x (``step_started``, ``step_succeeded``) and
``run_finished``: 100 events.  Targets: each answer under 50 ms (median).
Run: ``python -m benchmarks.bench_server_store [--quick] [--db PATH]`` (``--quick``:
2,000 runs, for CI; a full build takes a few minutes and ~2.5 GB of disk; an existing
``--db`` of the right size is reused).
"""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn

from flowyml.server import ServerOptions, create_app
from flowyml.storage.metadata import open_metadata_store

STEPS_PER_RUN = 49
EVENTS_PER_RUN = 2 * STEPS_PER_RUN + 2
PIPELINES = 20
TARGET_MS = 50.0


def _dag(pipeline: str) -> dict[str, Any]:
    steps = [f"step_{i}" for i in range(STEPS_PER_RUN)]
    nodes = [
        {"id": s, "name": s, "inputs": [steps[i - 1]] if i else [], "outputs": [s]}
        for i, s in enumerate(steps)
    ]
    edges = [
        {"source": steps[i - 1], "target": s, "name": steps[i - 1]}
        for i, s in enumerate(steps)
        if i
    ]
    return {"pipeline": pipeline, "nodes": nodes, "edges": edges}


def _run_rows(runs: int, t0: float) -> Iterator[tuple[Any, ...]]:
    for r in range(runs):
        start = t0 + r * 10.0
        status = "failed" if r % 17 == 0 else "succeeded"
        yield (
            f"run{r:08d}",
            f"pipeline_{r % PIPELINES}",
            status,
            json.dumps({"n": r % 100, "lr": 0.01}),
            start,
            start + 9.0,
            9.0,
            1234,
            "bench-host",
            None,
            "ValueError: bad" if status == "failed" else None,
            start + 9.0,
            STEPS_PER_RUN,
            STEPS_PER_RUN,
            0,
            0,
        )


def _step_rows(runs: int, t0: float) -> Iterator[tuple[Any, ...]]:
    for r in range(runs):
        start = t0 + r * 10.0
        for i in range(STEPS_PER_RUN):
            yield (
                f"run{r:08d}",
                f"step_{i}",
                i,
                "succeeded",
                1,
                start + i * 0.1,
                start + i * 0.1 + 0.05,
                0.05,
                None,
                None,
                None,
                None,
                None,
                "{}",
                json.dumps({f"step_{i}": f"art{r:08d}{i:02d}"}),
            )


def _event_rows(runs: int, t0: float) -> Iterator[tuple[int, str, str, float, str]]:
    eid = 0
    steps = json.dumps([f"step_{i}" for i in range(STEPS_PER_RUN)])
    for r in range(runs):
        run_id = f"run{r:08d}"
        start = t0 + r * 10.0
        eid += 1
        yield (
            eid,
            run_id,
            "run_started",
            start,
            (
                f'{{"type":"run_started","run_id":"{run_id}","ts":{start},"pipeline":'
                f'"pipeline_{r % PIPELINES}","params":{{"n":{r % 100}}},"pid":1234,'
                f'"host":"bench-host","steps":{steps}}}'
            ),
        )
        for i in range(STEPS_PER_RUN):
            ts = start + i * 0.1
            eid += 1
            yield (
                eid,
                run_id,
                "step_started",
                ts,
                (
                    f'{{"type":"step_started","run_id":"{run_id}","ts":{ts},"step":"step_{i}",'
                    f'"attempt":1,"inputs":{{}}}}'
                ),
            )
            eid += 1
            yield (
                eid,
                run_id,
                "step_succeeded",
                ts + 0.05,
                (
                    f'{{"type":"step_succeeded","run_id":"{run_id}","ts":{ts + 0.05},'
                    f'"step":"step_{i}","attempt":1,"duration":0.05,"outputs":{{}}}}'
                ),
            )
        eid += 1
        yield (
            eid,
            run_id,
            "run_finished",
            start + 9.0,
            (
                f'{{"type":"run_finished","run_id":"{run_id}","ts":{start + 9.0},'
                f'"status":"succeeded","duration":9.0}}'
            ),
        )


def _batched(
    rows: Iterator[tuple[Any, ...]], size: int = 50_000
) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _create_schema(path: Path) -> None:
    store = open_metadata_store(f"sqlite:///{path}")
    await store.open()
    await store.aclose()


def build(path: Path, runs: int) -> float:
    """Create the store at ``path`` with ``runs`` runs; return the seconds it took."""
    t_start = time.perf_counter()
    anyio.run(_create_schema, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    t0 = 1.7e9
    conn.execute("BEGIN")
    now = time.time()
    for p in range(PIPELINES):
        name = f"pipeline_{p}"
        conn.execute(
            "INSERT INTO pipelines (name, dag, code_version, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, json.dumps(_dag(name)), "v1", now, now),
        )
    run_sql = (
        "INSERT INTO runs (run_id, pipeline, status, params, started_at, finished_at, "
        "duration, pid, host, resumed_from, error, heartbeat_at, steps_total, steps_done, "
        "steps_cached, steps_failed) VALUES (" + ", ".join("?" * 16) + ")"
    )
    for batch in _batched(_run_rows(runs, t0)):
        conn.executemany(run_sql, batch)
    step_sql = (
        "INSERT INTO step_runs (run_id, step, pos, status, attempts, started_at, finished_at, "
        "duration, cache_key, cached_from, error, error_type, traceback, inputs, outputs) "
        "VALUES (" + ", ".join("?" * 15) + ")"
    )
    for batch in _batched(_step_rows(runs, t0)):
        conn.executemany(step_sql, batch)
    event_sql = "INSERT INTO events (id, run_id, type, ts, payload) VALUES (?, ?, ?, ?, ?)"
    for batch in _batched(_event_rows(runs, t0)):
        conn.executemany(event_sql, batch)
    conn.execute("UPDATE event_seq SET last_id = ?", (runs * EVENTS_PER_RUN,))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - t_start


def _count(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        events = conn.execute("SELECT MAX(id) FROM events").fetchone()[0] or 0
    finally:
        conn.close()
    return int(runs), int(events)


@asynccontextmanager
async def _serve(path: Path, artifacts: Path) -> AsyncIterator[str]:
    app = create_app(
        store=f"sqlite:///{path}",
        artifacts=f"file://{artifacts}",
        token="",
        options=ServerOptions(interrupt_interval=3600.0),
    )
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on such sockets (without it
    # every answer waits ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        while not server.started:
            await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
    sock.close()


async def _time(c: httpx.AsyncClient, url: str, reps: int, **kwargs: Any) -> list[float]:
    out: list[float] = []
    for _ in range(reps):
        t = time.perf_counter()
        r = await c.get(url, **kwargs)
        r.raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def measure(path: Path, runs: int, reps: int) -> dict[str, list[float]]:
    """Milliseconds of each request, ``reps`` times, against the store at ``path``."""
    mid = runs // 2
    mid_run = f"run{mid:08d}"
    mid_event = mid * EVENTS_PER_RUN + EVENTS_PER_RUN // 2
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as artifacts:
        async with (
            _serve(path, Path(artifacts)) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as c,
        ):
            await c.get("/api/health")  # warm the connection and the store
            deep = (await c.get("/api/runs", params={"limit": 50})).json()["next_cursor"]
            for _ in range(mid // 50 // 10):  # walk a tenth of the way to the middle
                deep = (await c.get("/api/runs", params={"limit": 500, "cursor": deep})).json()[
                    "next_cursor"
                ]
            results["runs page (newest)"] = await _time(c, "/api/runs", reps, params={"limit": 50})
            results["runs page (deep cursor)"] = await _time(
                c, "/api/runs", reps, params={"limit": 50, "cursor": deep}
            )
            results["runs page (pipeline+status)"] = await _time(
                c,
                "/api/runs",
                reps,
                params={"limit": 50, "pipeline": "pipeline_3", "status": "failed"},
            )
            results["run detail"] = await _time(c, f"/api/runs/{mid_run}", reps)
            results["replay from cursor"] = await _time(
                c,
                f"/api/runs/{mid_run}/events",
                reps,
                headers={"Last-Event-ID": str(mid_event)},
            )
    return results


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the store, measure, print a table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_server_store")
    parser.add_argument("--quick", action="store_true", help="2,000 runs (CI smoke run)")
    parser.add_argument("--db", type=Path, help="SQLite file to build or reuse")
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args(argv)
    runs = 2_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "big.db"
        if path.exists() and _count(path) == (runs, runs * EVENTS_PER_RUN):
            print(f"reusing {path}")
        else:
            path.unlink(missing_ok=True)
            took = build(path, runs)
            size = path.stat().st_size >> 20
            print(
                f"built {runs:,} runs, {runs * EVENTS_PER_RUN:,} events in {took:.0f} s ({size} MiB)"
            )
        results = anyio.run(measure, path, runs, args.reps)
    missed = False
    print(f"{'request':32} {'median ms':>10} {'p95 ms':>8} {'target':>8}")
    for name, ms in results.items():
        ms.sort()
        median = statistics.median(ms)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        ok = median < TARGET_MS
        missed |= not ok
        print(f"{name:32} {median:10.1f} {p95:8.1f} {'met' if ok else 'MISSED':>8}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
