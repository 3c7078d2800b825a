"""Conformance tests every :class:`~flowyml.storage.MetadataStore` must pass.

Subclass :class:`MetadataStoreSuite` in a test module and provide ``make_store``, a
fixture returning a factory of *unopened* stores; for a persistent store every store
it makes must see the same, initially empty database::

    class TestSqliteStore(MetadataStoreSuite):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: open_metadata_store(f"sqlite:///{tmp_path}/metadata.db")

Set ``persistent = False`` for a store whose data lives in the object (``memory://``):
the tests that reopen a database are then skipped.  Needs pytest and pytest-asyncio
(``asyncio_mode = "auto"``).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import anyio
import pytest

from ..errors import SchemaVersionError, StoreError
from ..events import (
    ArtifactRef,
    Event,
    RunFinished,
    RunStarted,
    RunStatus,
    StepCached,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from ..storage._protocols import MetadataStore
from ..storage._records import ArtifactRecord, PipelineRecord
from .log_suite import StepLogSuite

__all__ = ("MetadataStoreSuite", "StoreFactory", "artifact_ref", "dead_pid")

StoreFactory = Callable[[], MetadataStore]


def artifact_ref(artifact_id: str, name: str = "out", **fields: Any) -> ArtifactRef:
    """An :class:`ArtifactRef` with plausible defaults."""
    values: dict[str, Any] = {
        "uri": f"file:///artifacts/{artifact_id}",
        "type_name": "builtins.int",
        "materializer": "json",
        "size": 2,
        "content_hash": f"hash-{artifact_id}",
    }
    values.update(fields)
    return ArtifactRef(id=artifact_id, name=name, **values)


async def dead_pid() -> int:
    """The pid of a process that has exited and been reaped (so surely does not exist)."""
    async with await anyio.open_process([sys.executable, "-c", "pass"]) as process:
        await process.wait()
        return process.pid


def _started(run_id: str, steps: list[str], ts: float, **fields: Any) -> RunStarted:
    fields.setdefault("pipeline", "p")
    fields.setdefault("pid", os.getpid())
    fields.setdefault("host", socket.gethostname())
    return RunStarted(run_id=run_id, ts=ts, steps=steps, **fields)


def _ok(run_id: str, step: str, ts: float, *refs: ArtifactRef, **fields: Any) -> StepSucceeded:
    return StepSucceeded(
        run_id=run_id, step=step, ts=ts, outputs={r.name: r for r in refs}, **fields
    )


class MetadataStoreSuite(StepLogSuite):
    """Behaviour shared by every metadata store; see the module docstring."""

    persistent: ClassVar[bool] = True

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        """Return a factory of unopened stores over one fresh database (override this)."""
        raise NotImplementedError("subclasses of MetadataStoreSuite provide make_store")

    @pytest.fixture
    async def store(self, make_store: StoreFactory) -> AsyncIterator[MetadataStore]:
        """An opened store, closed after the test."""
        store = make_store()
        await store.open()
        try:
            yield store
        finally:
            await store.aclose()

    def _need_persistence(self) -> None:
        if not self.persistent:
            pytest.skip("the store keeps its data in the object; nothing to reopen")

    # lifecycle ---------------------------------------------------------------------------
    async def test_lifecycle(self, make_store: StoreFactory) -> None:
        store = make_store()
        assert isinstance(store, MetadataStore)
        with pytest.raises(StoreError, match="not open"):
            await store.get_run("r")
        await store.open()
        assert await store.last_event_id() == 0
        await store.aclose()
        await store.aclose()
        with pytest.raises(StoreError, match="closed"):
            await store.append_events([_started("r", [], 1.0)])
        with pytest.raises(StoreError, match="already"):
            await store.open()

    async def test_reopen_keeps_data(self, store: MetadataStore, make_store: StoreFactory) -> None:
        self._need_persistence()
        await store.append_events([_started("r1", ["a"], 10.0)])
        await store.aclose()
        again = make_store()
        await again.open()
        try:
            run = await again.get_run("r1")
            assert run is not None and run.steps_total == 1
            assert await again.last_event_id() == 1
        finally:
            await again.aclose()

    async def test_concurrent_open_migrates_once(self, make_store: StoreFactory) -> None:
        self._need_persistence()
        stores = [make_store() for _ in range(4)]
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for s in stores:
                    tg.start_soon(s.open)
        try:
            await stores[0].append_events([_started("r", [], 1.0)])
            assert await stores[3].get_run("r") is not None
        finally:
            for s in stores:
                await s.aclose()

    async def test_refuses_newer_schema(
        self, store: MetadataStore, make_store: StoreFactory
    ) -> None:
        self._need_persistence()
        force = getattr(store, "_force_schema_version", None)
        if force is None:
            pytest.skip("the store has no schema version to raise")
        from ..storage.metadata import LATEST_VERSION

        await store.append_events([_started("kept", [], 1.0)])
        await force(LATEST_VERSION + 1)
        await store.aclose()
        newer = make_store()
        with pytest.raises(SchemaVersionError, match=f"schema version {LATEST_VERSION + 1}"):
            await newer.open()
        await newer.aclose()

    # projection --------------------------------------------------------------------------
    async def test_run_started(self, store: MetadataStore) -> None:
        ev = _started("r1", ["a", "b", "c"], 100.0, params={"n": 3}, resumed_from="r0")
        ids = await store.append_events([ev])
        assert ids == [1]
        run = await store.get_run("r1")
        assert run is not None
        assert (run.status, run.pipeline, run.params, run.started_at) == (
            "running",
            "p",
            {"n": 3},
            100.0,
        )
        assert (run.pid, run.host, run.resumed_from) == (os.getpid(), socket.gethostname(), "r0")
        assert (run.steps_total, run.steps_done, run.finished_at, run.seq > 0) == (3, 0, None, True)
        steps = await store.list_step_runs("r1")
        assert [(s.step, s.status, s.attempts) for s in steps] == [
            ("a", "pending", 0),
            ("b", "pending", 0),
            ("c", "pending", 0),
        ]
        assert await store.get_run("nope") is None
        assert await store.list_step_runs("nope") == []
        assert await store.get_step_run("r1", "nope") is None

    async def test_step_attempts_and_success(self, store: MetadataStore) -> None:
        a1 = artifact_ref("a1", "model", metadata={"rows": 3}, size=7)
        await store.append_events(
            [
                _started("r", ["s"], 1.0),
                StepStarted(run_id="r", step="s", ts=2.0, cache_key="k"),
                StepRetrying(run_id="r", step="s", ts=3.0, attempt=1, error="flaky", delay=0.1),
            ]
        )
        step = await store.get_step_run("r", "s")
        assert step is not None
        assert (step.status, step.attempts, step.error, step.cache_key) == (
            "retrying",
            1,
            "flaky",
            "k",
        )
        await store.append_events([StepStarted(run_id="r", step="s", ts=4.0, attempt=2)])
        step = await store.get_step_run("r", "s")
        assert step is not None and (step.status, step.attempts, step.started_at) == (
            "running",
            2,
            2.0,
        )
        await store.append_events([_ok("r", "s", 6.0, a1, attempt=2, duration=2.0, cache_key="k")])
        step = await store.get_step_run("r", "s")
        assert step is not None
        assert (step.status, step.attempts, step.started_at, step.finished_at) == (
            "succeeded",
            2,
            2.0,
            6.0,
        )
        assert (step.duration, step.error, step.outputs, step.cache_key) == (
            2.0,
            None,
            {"model": "a1"},
            "k",
        )
        art = await store.get_artifact("a1")
        assert art is not None
        assert (art.name, art.run_id, art.step, art.created_at) == ("model", "r", "s", 6.0)
        assert (art.uri, art.size, art.content_hash, art.metadata) == (
            a1.uri,
            7,
            "hash-a1",
            {"rows": 3},
        )
        assert (art.type_name, art.materializer) == ("builtins.int", "json")
        run = await store.get_run("r")
        assert run is not None and (run.steps_done, run.steps_cached, run.steps_failed) == (1, 0, 0)
        hit = await store.lookup_cache("k")
        assert hit is not None and hit[0] == "r" and hit[1] == {"model": art}

    async def test_step_started_records_inputs_and_lineage(self, store: MetadataStore) -> None:
        await store.append_events(
            [
                _started("r", ["a", "b"], 1.0),
                _ok("r", "a", 2.0, artifact_ref("x1", "x")),
                StepStarted(run_id="r", step="b", ts=3.0, inputs={"x": "x1"}),
            ]
        )
        step = await store.get_step_run("r", "b")
        assert step is not None and step.inputs == {"x": "x1"}
        lineage = await store.lineage("x1")
        assert lineage is not None and [c.step for c in lineage.consumers] == ["b"]

    async def test_step_cached(self, store: MetadataStore) -> None:
        ref = artifact_ref("a1")
        await store.append_events(
            [_started("r1", ["s"], 1.0), _ok("r1", "s", 2.0, ref, cache_key="k")]
        )
        fresh = artifact_ref("a2", "extra")
        await store.append_events(
            [
                _started("r2", ["s", "t"], 3.0),
                StepCached(
                    run_id="r2",
                    step="s",
                    ts=4.0,
                    cache_key="k",
                    outputs={"out": ref, "extra": fresh},
                    source_run_id="r1",
                    inputs={"p": "a0"},
                ),
            ]
        )
        step = await store.get_step_run("r2", "s")
        assert step is not None
        assert (step.status, step.cached_from, step.cache_key) == ("cached", "r1", "k")
        assert step.outputs == {"out": "a1", "extra": "a2"} and step.inputs == {"p": "a0"}
        original = await store.get_artifact("a1")
        assert original is not None and (original.run_id, original.created_at) == ("r1", 2.0)
        added = await store.get_artifact("a2")
        assert added is not None and (added.run_id, added.step) == ("r1", "s")
        assert [a.id for a in await store.list_artifacts(name="out")] == ["a1"]
        run = await store.get_run("r2")
        assert run is not None and (run.steps_done, run.steps_cached, run.steps_failed) == (1, 1, 0)

    async def test_step_failed_and_skipped(self, store: MetadataStore) -> None:
        await store.append_events(
            [
                _started("r", ["a", "b"], 1.0),
                StepStarted(run_id="r", step="a", ts=2.0),
                StepFailed(
                    run_id="r",
                    step="a",
                    ts=5.0,
                    attempt=1,
                    error="bad value",
                    error_type="ValueError",
                    traceback="Traceback ...",
                    duration=3.0,
                ),
                StepSkipped(run_id="r", step="b", ts=5.0, reason="upstream 'a' failed"),
            ]
        )
        a = await store.get_step_run("r", "a")
        assert a is not None
        assert (a.status, a.error, a.error_type, a.traceback) == (
            "failed",
            "bad value",
            "ValueError",
            "Traceback ...",
        )
        assert (a.duration, a.finished_at, a.started_at) == (3.0, 5.0, 2.0)
        b = await store.get_step_run("r", "b")
        assert b is not None and (b.status, b.error) == ("skipped", "upstream 'a' failed")
        run = await store.get_run("r")
        assert run is not None and (run.steps_done, run.steps_failed) == (0, 1)

    @pytest.mark.parametrize(
        ("status", "left"),
        [
            ("succeeded", "skipped"),
            ("failed", "skipped"),
            ("cancelled", "cancelled"),
            ("interrupted", "interrupted"),
        ],
    )
    async def test_run_finished_closes_open_steps(
        self, store: MetadataStore, status: RunStatus, left: str
    ) -> None:
        await store.append_events(
            [
                _started("r", ["done", "busy", "again", "todo"], 1.0),
                _ok("r", "done", 2.0),
                StepStarted(run_id="r", step="busy", ts=2.0),
                StepStarted(run_id="r", step="again", ts=2.0),
                StepRetrying(run_id="r", step="again", ts=2.5, attempt=1, error="e", delay=1),
                RunFinished(run_id="r", ts=9.0, status=status, duration=8.0, error="why"),
            ]
        )
        run = await store.get_run("r")
        assert run is not None
        assert (run.status, run.finished_at, run.duration, run.error) == (status, 9.0, 8.0, "why")
        steps = {s.step: s.status for s in await store.list_step_runs("r")}
        assert steps == {"done": "succeeded", "busy": left, "again": left, "todo": left}

    async def test_unlisted_steps_get_rows(self, store: MetadataStore) -> None:
        await store.append_events(
            [
                _started("r", ["b", "a"], 1.0),
                StepStarted(run_id="r", step="z", ts=2.0),
                StepSkipped(run_id="r", step="y", ts=2.0),
            ]
        )
        steps = await store.list_step_runs("r")
        assert [(s.step, s.status) for s in steps] == [
            ("b", "pending"),
            ("a", "pending"),
            ("y", "skipped"),
            ("z", "running"),
        ]

    async def test_step_runs_page_by_page(self, store: MetadataStore) -> None:
        listed = [f"s{i:02d}" for i in range(5)]
        elements = [f"fetch[{i}]" for i in range(4)]
        events: list[Event] = [_started("r", listed, 1.0)]
        events += [StepStarted(run_id="r", step=e, ts=2.0) for e in elements]
        events += [_ok("r", "s01", 3.0), _ok("r", "fetch[2]", 3.0)]
        events += [StepStarted(run_id="r", step="fetch_all", ts=2.0)]
        await store.append_events(events)
        everything = [s.step for s in await store.list_step_runs("r")]
        for limit in (1, 2, 3, 10, 11):
            seen: list[str] = []
            cursor: str | None = None
            while True:
                page = await store.list_step_runs_page("r", cursor=cursor, limit=limit)
                assert len(page.items) <= limit
                seen += [s.step for s in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    break
                assert len(page.items) == limit
            assert seen == everything, limit
        done = await store.list_step_runs_page("r", status="succeeded")
        assert [s.step for s in done.items] == ["s01", "fetch[2]"]
        assert done.next_cursor is None
        mapped = await store.list_step_runs_page("r", parent="fetch", limit=3)
        assert [s.step for s in mapped.items] == ["fetch[0]", "fetch[1]", "fetch[2]"]
        rest = await store.list_step_runs_page("r", parent="fetch", cursor=mapped.next_cursor)
        assert [s.step for s in rest.items] == ["fetch[3]"] and rest.next_cursor is None
        assert (await store.list_step_runs_page("r", parent="fetch_")).items == []
        assert (await store.list_step_runs_page("nope")).items == []
        with pytest.raises(ValueError, match="not a step cursor"):
            await store.list_step_runs_page("r", cursor="garbage")

    async def test_unicode_case_and_large_values(self, store: MetadataStore) -> None:
        params = {"name": "héllo wörld ✓ 🎉", "nested": {"list": [1, 2.5, None, True]}}
        trace = "Traceback (most recent call last):\n" + "  frame ü\n" * 20_000
        events: list[Event] = [
            _started("rün-1", ["Schritt", "schritt"], 1.0, params=params, pipeline="pïpe"),
            StepFailed(
                run_id="rün-1", step="Schritt", ts=2.0, attempt=1, error="💥", traceback=trace
            ),
        ]
        await store.append_events(events)
        run = await store.get_run("rün-1")
        assert run is not None and run.params == params and run.pipeline == "pïpe"
        steps = {s.step: s for s in await store.list_step_runs("rün-1")}
        assert set(steps) == {"Schritt", "schritt"}
        assert steps["Schritt"].traceback == trace and steps["Schritt"].error == "💥"
        assert steps["schritt"].status == "pending"
        assert [e.event for e in await store.events_after(0)] == events
        assert await store.get_run("RÜN-1") is None

    # event log ---------------------------------------------------------------------------
    async def test_event_log(self, store: MetadataStore) -> None:
        assert await store.append_events([]) == []
        events: list[Event] = [
            _started("r1", ["a"], 1.0, params={"x": [1, 2]}),
            _started("r2", ["a"], 1.5),
            StepStarted(run_id="r1", step="a", ts=2.0, inputs={"p": "q"}, cache_key="k"),
            _ok("r1", "a", 3.0, artifact_ref("a1")),
            RunFinished(run_id="r1", ts=4.0, status="succeeded"),
        ]
        first = await store.append_events(events[:2])
        rest = await store.append_events(events[2:])
        assert first == [1, 2] and rest == [3, 4, 5]
        assert await store.last_event_id() == 5
        log = await store.events_after(0)
        assert [e.id for e in log] == [1, 2, 3, 4, 5]
        assert [e.event for e in log] == events
        assert [e.id for e in await store.events_after(2, limit=2)] == [3, 4]
        assert [e.id for e in await store.events_after(0, run_id="r1")] == [1, 3, 4, 5]
        assert [e.id for e in await store.events_after(3, run_id="r1", limit=1)] == [4]
        assert await store.events_after(5) == []

    async def test_concurrent_appends(self, store: MetadataStore) -> None:
        tasks, batches, size = 16, 8, 5
        results: list[list[int]] = []

        async def writer(n: int) -> None:
            run_id = f"run-{n}"
            steps = [f"s{i}" for i in range(batches * size)]
            results.append(await store.append_events([_started(run_id, steps, float(n))]))
            for b in range(batches):
                batch = [
                    StepStarted(run_id=run_id, step=f"s{b * size + i}", ts=float(n))
                    for i in range(size)
                ]
                results.append(await store.append_events(batch))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for n in range(tasks):
                    tg.start_soon(writer, n)
        total = tasks * (1 + batches * size)
        for ids in results:
            assert ids == list(range(ids[0], ids[0] + len(ids)))
        assert sorted(i for ids in results for i in ids) == list(range(1, total + 1))
        log = await store.events_after(0, limit=total + 10)
        assert [e.id for e in log] == list(range(1, total + 1))
        run = await store.get_run("run-3")
        assert run is not None and run.steps_total == batches * size
        running = [s for s in await store.list_step_runs("run-3") if s.status == "running"]
        assert len(running) == batches * size

    async def test_tailing_never_skips(self, store: MetadataStore) -> None:
        writers, batches = 4, 25
        total = writers * batches * 2
        seen: list[int] = []

        async def writer(n: int) -> None:
            for b in range(batches):
                run_id = f"w{n}-{b}"
                await store.append_events(
                    [_started(run_id, [], 1.0), _started(run_id + "x", [], 1.0)]
                )

        async def tail() -> None:
            cursor = 0
            while len(seen) < total:
                batch = await store.events_after(cursor, limit=7)
                seen.extend(e.id for e in batch)
                cursor = batch[-1].id if batch else cursor
                await anyio.sleep(0 if batch else 0.001)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(tail)
                for n in range(writers):
                    tg.start_soon(writer, n)
        assert seen == list(range(1, total + 1))

    # runs --------------------------------------------------------------------------------
    async def test_list_runs_pages_and_filters(self, store: MetadataStore) -> None:
        for i in range(7):
            pipeline = "even" if i % 2 == 0 else "odd"
            await store.append_events([_started(f"r{i}", [], 100.0 + i, pipeline=pipeline)])
        await store.append_events([RunFinished(run_id="r2", ts=200.0, status="failed")])
        page = await store.list_runs(limit=3)
        assert [r.run_id for r in page.items] == ["r6", "r5", "r4"]
        assert page.next_cursor == page.items[-1].seq
        page = await store.list_runs(limit=3, cursor=page.next_cursor)
        assert [r.run_id for r in page.items] == ["r3", "r2", "r1"]
        page = await store.list_runs(limit=3, cursor=page.next_cursor)
        assert [r.run_id for r in page.items] == ["r0"] and page.next_cursor is None
        exact = await store.list_runs(limit=7)
        assert len(exact.items) == 7 and exact.next_cursor is None
        evens = await store.list_runs(pipeline="even")
        assert [r.run_id for r in evens.items] == ["r6", "r4", "r2", "r0"]
        failed = await store.list_runs(status="failed")
        assert [r.run_id for r in failed.items] == ["r2"]
        running = await store.list_runs(status="running", pipeline="even", limit=2)
        assert [r.run_id for r in running.items] == ["r6", "r4"] and running.next_cursor is not None
        window = await store.list_runs(since=102.0, until=105.0)
        assert [r.run_id for r in window.items] == ["r4", "r3", "r2"]
        assert (await store.list_runs(pipeline="none")).items == []

    async def test_heartbeat(self, store: MetadataStore) -> None:
        await store.append_events([_started("r1", [], 1.0), _started("r2", [], 1.0)])
        await store.heartbeat(["r1", "missing"], 42.5)
        await store.heartbeat([], 50.0)
        r1, r2 = await store.get_run("r1"), await store.get_run("r2")
        assert r1 is not None and r1.heartbeat_at == 42.5
        assert r2 is not None and r2.heartbeat_at is None

    async def test_mark_interrupted(self, store: MetadataStore) -> None:
        gone = await dead_pid()
        here, now = socket.gethostname(), time.time()
        await store.append_events(
            [
                _started("dead", ["a", "b"], now, pid=gone),
                StepStarted(run_id="dead", step="a", ts=now),
                _started("alive", [], now),
                _started("stale", [], now - 1000, pid=1, host="elsewhere"),
                _started("fresh", [], now, pid=1, host="elsewhere"),
                _started("beating", [], now - 1000, pid=1, host="elsewhere"),
                _started("done", [], now - 1000, pid=gone),
                RunFinished(run_id="done", ts=now - 999, status="succeeded"),
            ]
        )
        await store.heartbeat(["beating"], now)
        before = await store.last_event_id()
        assert sorted(await store.mark_interrupted(stale_after=60)) == ["dead", "stale"]
        run = await store.get_run("dead")
        assert run is not None and run.status == "interrupted" and run.finished_at is not None
        assert run.error == f"process {gone} on {here} is gone"
        assert {s.step: s.status for s in await store.list_step_runs("dead")} == {
            "a": "interrupted",
            "b": "interrupted",
        }
        for run_id in ("alive", "fresh", "beating"):
            other = await store.get_run(run_id)
            assert other is not None and other.status == "running"
        done = await store.get_run("done")
        assert done is not None and done.status == "succeeded"
        tail = await store.events_after(before)
        assert {(e.event.run_id, getattr(e.event, "status", "")) for e in tail} == {
            ("dead", "interrupted"),
            ("stale", "interrupted"),
        }
        assert await store.mark_interrupted(stale_after=60) == []

    async def test_marking_at_once_finishes_a_dead_run_once(self, store: MetadataStore) -> None:
        # A server and a Client opening the store at the same moment both find the dead
        # run; only one run_finished may be written (the check and the write are atomic).
        gone = await dead_pid()
        now = time.time()
        await store.append_events(
            [_started(f"dead{i}", ["a"], now, pid=gone) for i in range(3)]
            + [_started("alive", [], now)]
        )
        before = await store.last_event_id()
        marked: list[list[str]] = []

        async def mark() -> None:
            marked.append(await store.mark_interrupted(stale_after=60))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(mark)
        assert sorted(r for ids in marked for r in ids) == ["dead0", "dead1", "dead2"]
        tail = await store.events_after(before)
        assert sorted(e.event.run_id for e in tail) == ["dead0", "dead1", "dead2"]
        assert all(e.event.type == "run_finished" for e in tail)
        alive = await store.get_run("alive")
        assert alive is not None and alive.status == "running"

    # artifacts and lineage ---------------------------------------------------------------
    async def test_list_artifacts(self, store: MetadataStore) -> None:
        await store.append_events(
            [
                _started("r1", ["a", "b"], 1.0),
                _ok("r1", "a", 2.0, artifact_ref("x1", "x"), artifact_ref("y1", "y")),
                _ok("r1", "b", 3.0, artifact_ref("x2", "x")),
                _started("r2", ["a"], 4.0),
                _ok("r2", "a", 5.0, artifact_ref("x3", "x")),
            ]
        )

        def ids(arts: list[ArtifactRecord]) -> list[str]:
            return [a.id for a in arts]

        assert ids(await store.list_artifacts()) == ["x3", "x2", "x1", "y1"]
        assert ids(await store.list_artifacts(run_id="r1")) == ["x2", "x1", "y1"]
        assert ids(await store.list_artifacts(name="x")) == ["x3", "x2", "x1"]
        assert ids(await store.list_artifacts(run_id="r1", step="a")) == ["x1", "y1"]
        assert ids(await store.list_artifacts(limit=2, offset=1)) == ["x2", "x1"]
        assert await store.list_artifacts(run_id="none") == []
        assert await store.get_artifact("none") is None

    async def test_lineage(self, store: MetadataStore) -> None:
        a1, a2, a3 = (
            artifact_ref("a1", "one"),
            artifact_ref("a2", "two"),
            artifact_ref("a3", "three"),
        )
        await store.append_events(
            [
                _started("r", ["s1", "s2", "s3"], 1.0),
                StepStarted(run_id="r", step="s1", ts=1.0),
                _ok("r", "s1", 2.0, a1),
                StepStarted(run_id="r", step="s2", ts=3.0, inputs={"x": "a1"}),
                _ok("r", "s2", 4.0, a2),
                StepStarted(run_id="r", step="s3", ts=5.0, inputs={"y": "a1", "z": "a2"}),
                _ok("r", "s3", 6.0, a3),
                _started("r2", ["s2"], 7.0),
                StepCached(
                    run_id="r2",
                    step="s2",
                    ts=8.0,
                    outputs={"two": a2},
                    source_run_id="r",
                    inputs={"x": "a1"},
                ),
            ]
        )
        assert await store.lineage("missing") is None
        first = await store.lineage("a1")
        assert first is not None
        assert (
            first.artifact.id == "a1" and first.producer is not None and first.producer.step == "s1"
        )
        assert first.inputs == []
        assert [(c.run_id, c.step) for c in first.consumers] == [
            ("r", "s2"),
            ("r", "s3"),
            ("r2", "s2"),
        ]
        assert [a.id for a in first.derived] == ["a2", "a3"]
        middle = await store.lineage("a2")
        assert middle is not None and middle.producer is not None
        assert (middle.producer.run_id, middle.producer.step) == ("r", "s2")
        assert [a.id for a in middle.inputs] == ["a1"]
        assert [(c.run_id, c.step) for c in middle.consumers] == [("r", "s3")]
        assert [a.id for a in middle.derived] == ["a3"]
        last = await store.lineage("a3")
        assert last is not None and [a.id for a in last.inputs] == ["a1", "a2"]
        assert last.consumers == [] and last.derived == []

    # cache -------------------------------------------------------------------------------
    async def test_cache_lookup_newest_and_expiry(self, store: MetadataStore) -> None:
        now = time.time()
        await store.append_events(
            [
                _started("old", ["s"], now - 500),
                _ok("old", "s", now - 400, artifact_ref("o1"), cache_key="k"),
                _started("new", ["s", "t"], now - 100),
                _ok("new", "s", now - 50, artifact_ref("n1"), cache_key="k"),
                _ok("new", "t", now - 50, cache_key="empty"),
                _ok("new", "t", now - 50, artifact_ref("u1"), cache_key=None),
            ]
        )
        hit = await store.lookup_cache("k")
        assert hit is not None and hit[0] == "new" and hit[1]["out"].id == "n1"
        assert await store.lookup_cache("k", max_age=10) is None
        hit = await store.lookup_cache("k", max_age=200)
        assert hit is not None and hit[0] == "new"
        assert await store.lookup_cache("empty") == ("new", {})
        assert await store.lookup_cache("unknown") is None

    async def test_only_a_succeeded_step_is_a_cache_entry(self, store: MetadataStore) -> None:
        # A step that is still running, or that failed (after a retry), serves no lookup;
        # once a step succeeds, its outputs do, until they are older than max_age.
        now = time.time()
        await store.append_events(
            [
                _started("r", ["s", "bad"], now - 10),
                StepStarted(run_id="r", step="s", ts=now - 9, cache_key="k"),
                StepStarted(run_id="r", step="bad", ts=now - 9, cache_key="kb"),
            ]
        )
        snap = getattr(store, "cache_snapshot", None)
        assert await store.lookup_cache("k") is None  # still running
        if snap is not None:
            assert await snap("p") == {}
        await store.append_events(
            [
                StepStarted(run_id="r", step="bad", ts=now - 8, attempt=2, cache_key="kb"),
                StepFailed(run_id="r", step="bad", ts=now - 7, attempt=2, error="E: x"),
            ]
        )
        await store.append_events([_ok("r", "s", now - 5, artifact_ref("o"), cache_key="k")])
        hit = await store.lookup_cache("k")
        assert hit is not None and hit[0] == "r" and hit[1]["out"].id == "o"
        assert await store.lookup_cache("kb") is None  # that step failed
        assert await store.lookup_cache("k", max_age=2) is None  # it finished 5 s ago
        if snap is not None:
            entries = await snap("p")
            assert set(entries) == {"s"} and entries["s"][:2] == ("k", "r")
            assert entries["s"][2]["out"].id == "o"

    async def test_cache_snapshot_covers_the_steps_asked_for(self, store: MetadataStore) -> None:
        # A run reads the newest entry of each of its own steps (and of the elements of
        # its mapped steps), not of every step the pipeline ever had.
        now = time.time()
        names = ["a", "b", "m", "m_x", "old"]
        events: list[Event] = [_started("r1", names, now - 100)]
        for step in ["a", "b", "m[0]", "m[12]", "m_x", "m_x[1]", "old", "100%[0]"]:
            ref = artifact_ref(f"r1-{step}")
            events.append(_ok("r1", step, now - 90, ref, cache_key=f"k1-{step}"))
        events += [
            _started("r2", ["a"], now - 50),
            _ok("r2", "a", now - 40, artifact_ref("r2-a"), cache_key="k2-a"),
        ]
        await store.append_events(events)
        snap = getattr(store, "cache_snapshot", None)
        if snap is None:
            pytest.skip("this store answers every lookup with a query")
        everything = await snap("p")
        assert set(everything) == {"a", "b", "m[0]", "m[12]", "m_x", "m_x[1]", "old", "100%[0]"}
        assert everything["a"][:2] == ("k2-a", "r2")  # the newest entry of the step
        some = await snap("p", steps=["a", "m", "m_x", "100%"], mapped=["m", "100%"])
        assert set(some) == {"a", "m[0]", "m[12]", "m_x", "100%[0]"}
        assert some["m[12]"][2]["out"].id == "r1-m[12]"
        many = [f"s{i}" for i in range(1200)] + ["b"]  # more names than one query holds
        assert set(await snap("p", steps=many)) == {"b"}
        assert set(await snap("p", steps=many, mapped=many + ["m"])) == {"b", "m[0]", "m[12]"}
        assert await snap("p", steps=[]) == {}
        assert await snap("p", steps=["a"], max_age=10) == {}

    async def test_clear_cache(self, store: MetadataStore) -> None:
        events: list[Event] = []
        for pipeline in ("p1", "p2"):
            run_id = f"run-{pipeline}"
            events.append(_started(run_id, ["a", "b"], 1.0, pipeline=pipeline))
            for step in ("a", "b"):
                ref = artifact_ref(f"{pipeline}-{step}")
                events.append(_ok(run_id, step, 2.0, ref, cache_key=f"{pipeline}-{step}"))
        # a step event in a later batch than its run_started still knows the pipeline
        await store.append_events(events[:2])
        await store.append_events(events[2:])
        assert await store.clear_cache(pipeline="p1", step="a") == 1
        assert await store.lookup_cache("p1-a") is None
        assert await store.lookup_cache("p1-b") is not None
        assert await store.clear_cache(pipeline="p2") == 2
        assert await store.clear_cache(step="b") == 1
        assert await store.clear_cache() == 0

    # pipelines ---------------------------------------------------------------------------
    async def test_pipelines(self, store: MetadataStore) -> None:
        dag: dict[str, Any] = {"pipeline": "b", "nodes": [{"id": "s"}], "edges": []}
        await store.save_pipeline(
            PipelineRecord(name="b", dag=dag, code_version="v1", created_at=1.0, updated_at=1.0)
        )
        await store.save_pipeline(
            PipelineRecord(name="a", dag={}, code_version="v1", created_at=2.0, updated_at=2.0)
        )
        await store.save_pipeline(
            PipelineRecord(
                name="b", dag={"n": 2}, code_version="v2", created_at=5.0, updated_at=5.0
            )
        )
        assert [p.name for p in await store.list_pipelines()] == ["a", "b"]
        b = await store.get_pipeline("b")
        assert b is not None
        assert (b.dag, b.code_version, b.created_at, b.updated_at) == ({"n": 2}, "v2", 1.0, 5.0)
        assert await store.get_pipeline("c") is None
