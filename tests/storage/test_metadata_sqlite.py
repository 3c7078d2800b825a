"""SQLite specifics: pragmas, several processes on one file, a writer killed mid-write."""

from __future__ import annotations

import itertools
import sqlite3
import sys
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from flowyml.errors import StoreError
from flowyml.storage.metadata import SqliteMetadataStore

# Appends `count` events (run_started, then started/succeeded pairs) for one run, in
# batches, once the parent writes a line to stdin; with count 0 it appends forever.
WRITER = """
import itertools, os, socket, sys
import anyio
from flowyml.events import ArtifactRef, RunStarted, StepStarted, StepSucceeded
from flowyml.errors import StoreError
from flowyml.storage.metadata import SqliteMetadataStore

url, run_id, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pause = float(sys.argv[5])

def events():
    yield RunStarted(run_id=run_id, ts=1.0, pipeline="p", pid=os.getpid(),
                     host=socket.gethostname(), steps=[])
    for i in (range(count // 2) if count else itertools.count()):
        step = f"s{i}"
        yield StepStarted(run_id=run_id, step=step, ts=2.0 + i, cache_key=f"{run_id}-{i}")
        ref = ArtifactRef(id=f"{run_id}-a{i}", name="out", uri="file:///x", type_name="int",
                          materializer="json", size=1, content_hash=str(i))
        yield StepSucceeded(run_id=run_id, step=step, ts=2.5 + i, outputs={"out": ref},
                            cache_key=f"{run_id}-{i}")

async def main():
    async with SqliteMetadataStore(url) as store:
        print("ready", flush=True)
        await anyio.wrap_file(sys.stdin).readline()
        it = events()
        while chunk := list(itertools.islice(it, batch)):
            await store.append_events(chunk)
            print("batch", flush=True)
            await anyio.sleep(pause)

anyio.run(main)
"""


@dataclass
class Writer:
    process: Process
    lines: BufferedByteReceiveStream

    async def read_line(self) -> bytes:
        line: bytes = await self.lines.receive_until(b"\n", 1000)
        return line

    async def go(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(b"go\n")


async def start_writer(url: str, run_id: str, count: int, batch: int, pause: float = 0.0) -> Writer:
    argv = [sys.executable, "-c", WRITER, url, run_id, str(count), str(batch), str(pause)]
    process = await anyio.open_process(argv)
    assert process.stdout is not None
    return Writer(process, BufferedByteReceiveStream(process.stdout))


async def stderr_of(process: Process) -> str:
    assert process.stderr is not None
    return b"".join([chunk async for chunk in process.stderr]).decode()


def query(path: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    async with SqliteMetadataStore(f"sqlite:///{path}") as store:
        await store.last_event_id()
        assert await anyio.to_thread.run_sync(query, path, "PRAGMA journal_mode") == [("wal",)]
        rows = await anyio.to_thread.run_sync(query, path, "SELECT version FROM schema_version")
        assert rows == [(1,), (2,), (3,), (4,)]


@pytest.mark.slow
async def test_two_processes_append_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    url = f"sqlite:///{path}"
    per_process = 2001  # run_started + 1,000 started/succeeded pairs
    with anyio.fail_after(120):
        writers = [await start_writer(url, f"run{n}", per_process - 1, 10, 0.001) for n in range(2)]
        try:
            for w in writers:  # both opened the file before either writes
                assert await w.read_line() == b"ready"
            for w in writers:
                await w.go()
            errors = [await stderr_of(w.process) for w in writers]
            codes = [await w.process.wait() for w in writers]
        finally:
            for w in writers:
                await w.process.aclose()
    assert codes == [0, 0], errors
    assert errors == ["", ""]
    async with SqliteMetadataStore(url) as store:
        log = await store.events_after(0, limit=10_000)
        assert [e.id for e in log] == list(range(1, 2 * per_process + 1))
        for n in range(2):
            run = await store.get_run(f"run{n}")
            assert run is not None and run.steps_done == 1000
            own = [e.event.ts for e in log if e.event.run_id == f"run{n}"]
            assert len(own) == per_process and own == sorted(own)
        assert len(await store.list_artifacts(limit=5000)) == 2000
        switches = sum(a.event.run_id != b.event.run_id for a, b in itertools.pairwise(log))
        assert switches > 1  # the two writers really took turns


@pytest.mark.slow
async def test_killed_writer_leaves_a_consistent_store(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    url = f"sqlite:///{path}"
    batch = 20
    with anyio.fail_after(60):
        writer = await start_writer(url, "victim", 0, batch)
        try:
            assert await writer.read_line() == b"ready"
            await writer.go()
            for _ in range(5):
                assert await writer.read_line() == b"batch"
            writer.process.kill()  # SIGKILL while it keeps appending
            await writer.process.wait()
        finally:
            await writer.process.aclose()
    assert writer.process.returncode == -9
    async with SqliteMetadataStore(url) as store:
        assert await anyio.to_thread.run_sync(query, path, "PRAGMA integrity_check") == [("ok",)]
        orphans = "SELECT COUNT(*) FROM step_runs WHERE run_id NOT IN (SELECT run_id FROM runs)"
        assert await anyio.to_thread.run_sync(query, path, orphans) == [(0,)]
        events = await store.last_event_id()
        assert events >= 5 * batch and events % batch == 0  # whole batches only
        # a batch holds run_started + 19 or 20 step events: its last step is still running
        steps = await store.list_step_runs("victim")
        assert len(steps) == events // 2
        running = [s.step for s in steps if s.status == "running"]
        assert [s.status for s in steps].count("succeeded") == len(steps) - 1
        assert running == [f"s{len(steps) - 1}"]
        run = await store.get_run("victim")
        assert run is not None and run.status == "running" and run.steps_done == len(steps) - 1
        assert await store.mark_interrupted() == ["victim"]
        run = await store.get_run("victim")
        assert run is not None and run.status == "interrupted"
        last = await store.get_step_run("victim", running[0])
        assert last is not None and last.status == "interrupted"


def _step_events(run_id: str, count: int) -> list[Any]:
    from flowyml.events import ArtifactRef, RunStarted, StepStarted, StepSucceeded

    events: list[Any] = [RunStarted(run_id=run_id, ts=1.0, pipeline="p", pid=1, host="h", steps=[])]
    for i in range(count):
        events.append(StepStarted(run_id=run_id, step=f"s{i}", ts=2.0, cache_key=f"k{i}"))
        ref = ArtifactRef(
            id=f"{run_id}-a{i}",
            name="out",
            uri="file:///x",
            type_name="int",
            materializer="json",
            size=1,
            content_hash=str(i),
        )
        events.append(
            StepSucceeded(
                run_id=run_id, step=f"s{i}", ts=3.0, outputs={"out": ref}, cache_key=f"k{i}"
            )
        )
    return events


async def test_big_batches_match_one_row_at_a_time(tmp_path: Path) -> None:
    # Batches of hundreds of rows go in multi-row INSERTs (as many values each as the
    # connection allows, plus a shorter last one): the rows must be those of one
    # statement per row.  An older SQLite allows 999 values per statement.
    from flowyml.storage.metadata._sqlite import _ThreadSession

    table = "CREATE TABLE t (k TEXT PRIMARY KEY, a INTEGER, b TEXT, n INTEGER DEFAULT 0)"
    upsert = (
        "INSERT INTO t (k, a, b) VALUES (?, ?, ?) "
        "ON CONFLICT (k) DO UPDATE SET a = excluded.a, n = t.n + 1"
    )
    # 700 rows: three statements (at most 256 rows or 999 values each), keys repeating
    rows = [(f"k{i % 450}", i, "x" * (i % 7)) for i in range(700)]
    results = []
    for limit in (999, 32766, None):  # None: one statement per row
        conn = sqlite3.connect(":memory:")
        conn.execute(table)
        if limit is None:
            for row in rows:
                conn.execute(upsert, row)
        else:
            conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
            await _ThreadSession(conn).executemany(upsert, rows)
        results.append(conn.execute("SELECT * FROM t ORDER BY k").fetchall())
        conn.close()
    assert results[0] == results[2] and results[1] == results[2]
    assert len(results[0]) == 450 and sum(r[3] for r in results[0]) == 250


async def test_transactions_only_await_the_session(tmp_path: Path) -> None:
    # A write transaction runs whole in a worker thread: awaiting anything but the
    # session there is a programming error, reported clearly; nothing is committed.
    async with SqliteMetadataStore(f"sqlite:///{tmp_path / 'm.db'}") as store:

        class Suspend:  # what any real I/O would do: yield to an event loop
            def __await__(self) -> Generator[None, None, None]:
                yield

        async def tx(session: Any) -> None:
            await session.execute("DELETE FROM event_seq")
            await Suspend()

        with pytest.raises(RuntimeError, match="may only await its session"):
            await store._write(tx)
        await store.append_events(_step_events("r", 2))  # the store still works
        assert await store.last_event_id() == 5


async def test_closing_is_quick_and_loses_nothing(tmp_path: Path) -> None:
    # The read connection is read-only and closes last, so closing the store does not
    # checkpoint the write-ahead log: the data stays in metadata.db-wal, where SQLite
    # (this or any later connection) finds it.
    path = tmp_path / "m.db"
    async with SqliteMetadataStore(f"sqlite:///{path}") as store:
        await store.append_events(_step_events("r", 300))
        assert await store.get_run("r") is not None  # the reader has read
    wal = path.with_name("m.db-wal")
    assert wal.exists() and wal.stat().st_size > 100_000
    assert query(path, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'") == [(300,)]
    async with SqliteMetadataStore(f"sqlite:///{path}") as store:
        run = await store.get_run("r")
        assert run is not None and run.steps_done == 300


async def test_the_read_connection_cannot_write(tmp_path: Path) -> None:
    async with SqliteMetadataStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        with pytest.raises(StoreError, match="read-only"):
            await store._read(lambda s: s.execute("DELETE FROM runs"))
        assert store._reader is not None
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await store._reader.execute("DELETE FROM runs")


async def test_cancelled_append_commits_all_or_nothing(tmp_path: Path) -> None:
    # Cancelling the caller while its transaction runs in the worker thread: the call
    # returns promptly after the thread is done, and the batch is in whole or not at all.
    async with SqliteMetadataStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        events = _step_events("r", 2000)
        with anyio.move_on_after(0.001):
            await store.append_events(events)
        last = await store.last_event_id()
        assert last in (0, len(events))
        await store.append_events(_step_events("r2", 1))
        assert await store.last_event_id() == last + 3
