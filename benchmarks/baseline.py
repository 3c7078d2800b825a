"""The reference every flowyml figure is divided by: a minimal hand-written anyio scheduler.

Each node of a shape is one task started up front; it awaits its dependencies'
:class:`anyio.Event`, reads their values from a dict, runs the step body, stores its value
and sets its own event.  Sync steps run in worker threads (``anyio.to_thread.run_sync``
with a limiter as wide as the shape, like flowyml's default of 64 threads).

With ``sqlite_path`` it also records every step as one row in a SQLite table, the least
that "persisting a run" can mean: a single writer task collects rows and, whenever rows are
waiting, inserts them with ``executemany`` and commits, in one worker-thread hop per batch
(stdlib :mod:`sqlite3`, WAL journal, ``synchronous=NORMAL``).  So the SQLite baseline
commits in batches, like flowyml's event writer, and never blocks a step; it writes no
artifact files and no run or event rows (flowyml writes both), so it is a floor, not a twin.

Run ``python -m benchmarks.baseline`` for a quick look at its per-step cost.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio

from ._shapes import Shape, dependencies

__all__ = ("run_shape",)


class _SqliteSink:
    """One writer task; rows are appended without waiting and committed in batches."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._rows: list[tuple[str, str, str, float, float]] = []
        self._wake = anyio.Event()
        self._closed = False
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self._path, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS step_runs (run_id TEXT, step TEXT, status TEXT,"
                " started REAL, finished REAL)"
            )
            conn.commit()
            return conn

        self._conn = await anyio.to_thread.run_sync(connect)

    def add(self, row: tuple[str, str, str, float, float]) -> None:
        self._rows.append(row)
        if not self._wake.is_set():
            self._wake.set()

    def _write(self, rows: list[tuple[str, str, str, float, float]]) -> None:
        assert self._conn is not None
        self._conn.executemany("INSERT INTO step_runs VALUES (?, ?, ?, ?, ?)", rows)
        self._conn.commit()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._rows:
                rows, self._rows = self._rows, []
                await anyio.to_thread.run_sync(self._write, rows)
            if self._closed:
                return

    async def close(self) -> None:
        self._closed = True
        self._wake.set()

    async def aclose(self) -> None:
        if self._conn is not None:
            await anyio.to_thread.run_sync(self._conn.close)


def _body(shape: Shape) -> tuple[Callable[..., Any], bool]:
    if shape.kind == "sleep_sync":
        delay = shape.sleep

        def blocking() -> None:
            time.sleep(delay)

        return blocking, False
    if shape.kind == "sleep_async":
        delay = shape.sleep

        async def sleeping() -> None:
            await anyio.sleep(delay)

        return sleeping, True

    async def noop(*values: Any) -> Any:
        return values[0] if values else 0

    return noop, True


async def run_shape(shape: Shape, sqlite_path: str | None = None, run_id: str = "run") -> float:
    """Run ``shape`` once; return its wall time in seconds (opening the SQLite file included).

    :param sqlite_path: record one row per step in this SQLite file (created if needed)
    """
    n = shape.steps
    deps = [dependencies(shape, i) for i in range(n)]
    names = [f"s{i}" for i in range(n)]
    events = [anyio.Event() for _ in range(n)]
    values: list[Any] = [None] * n
    body, is_async = _body(shape)
    limiter = anyio.CapacityLimiter(max(64, n)) if not is_async else None
    sink = _SqliteSink(sqlite_path) if sqlite_path else None

    async def node(i: int) -> None:
        for d in deps[i]:
            await events[d].wait()
        started = time.time()
        args = [values[d] for d in deps[i]]
        if is_async:
            values[i] = await body(*args)
        else:
            values[i] = await anyio.to_thread.run_sync(body, *args, limiter=limiter)
        if sink is not None:
            sink.add((run_id, names[i], "succeeded", started, time.time()))
        events[i].set()

    t0 = time.perf_counter()
    try:
        if sink is not None:  # opening is timed: flowyml opens its stores inside arun() too
            await sink.open()
        async with anyio.create_task_group() as outer:
            if sink is not None:
                outer.start_soon(sink.run)
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(node, i)
            if sink is not None:
                await sink.close()
        return time.perf_counter() - t0
    finally:
        if sink is not None:
            await sink.aclose()


def main(argv: list[str]) -> None:
    """``python -m benchmarks.baseline [n]``: per-step cost of a no-op chain, with and without SQLite."""
    import tempfile

    n = int(argv[0]) if argv else 10_000
    shape = Shape("chain", n)
    with tempfile.TemporaryDirectory() as tmp:
        plain = anyio.run(run_shape, shape)
        db = anyio.run(run_shape, shape, f"{tmp}/baseline.db")
    print(f"anyio baseline, chain of {n}: {plain / n * 1e3:.4f} ms/step")
    print(f"anyio baseline + SQLite row per step: {db / n * 1e3:.4f} ms/step")


if __name__ == "__main__":
    main(sys.argv[1:])
