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
from collections.abc import AsyncIterator, Callable
from typing import ClassVar

import anyio
import pytest

from ..errors import SchemaVersionError, StoreError
from ..events import (
    Event,
    RunFinished,
    RunStatus,
    StepCached,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
)
from ..storage._protocols import MetadataStore
from ._events import artifact_ref, dead_pid, ok_event, started_event
from .artifacts_cache_suite import ArtifactsAndCacheSuite
from .event_log_suite import EventLogSuite
from .log_suite import StepLogSuite
from .step_rows_suite import StepRowsSuite

__all__ = ("MetadataStoreSuite", "StoreFactory", "artifact_ref", "dead_pid")

StoreFactory = Callable[[], MetadataStore]


class MetadataStoreSuite(EventLogSuite, ArtifactsAndCacheSuite, StepLogSuite, StepRowsSuite):
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
            await store.append_events([started_event("r", [], 1.0)])
        with pytest.raises(StoreError, match="already"):
            await store.open()

    async def test_reopen_keeps_data(self, store: MetadataStore, make_store: StoreFactory) -> None:
        self._need_persistence()
        await store.append_events([started_event("r1", ["a"], 10.0)])
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
            await stores[0].append_events([started_event("r", [], 1.0)])
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

        await store.append_events([started_event("kept", [], 1.0)])
        await force(LATEST_VERSION + 1)
        await store.aclose()
        newer = make_store()
        with pytest.raises(SchemaVersionError, match=f"schema version {LATEST_VERSION + 1}"):
            await newer.open()
        await newer.aclose()

    # projection --------------------------------------------------------------------------
    async def test_runstarted_event(self, store: MetadataStore) -> None:
        ev = started_event("r1", ["a", "b", "c"], 100.0, params={"n": 3}, resumed_from="r0")
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
                started_event("r", ["s"], 1.0),
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
        await store.append_events(
            [ok_event("r", "s", 6.0, a1, attempt=2, duration=2.0, cache_key="k")]
        )
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
                started_event("r", ["a", "b"], 1.0),
                ok_event("r", "a", 2.0, artifact_ref("x1", "x")),
                StepStarted(run_id="r", step="b", ts=3.0, inputs={"x": "x1"}),
            ]
        )
        step = await store.get_step_run("r", "b")
        assert step is not None and step.inputs == {"x": "x1"}
        lineage = await store.lineage("x1")
        assert lineage is not None and [c.step for c in lineage.consumers] == ["b"]

    async def test_run_counters_count_steps_not_map_elements(self, store: MetadataStore) -> None:
        # A three-step run whose middle step maps over 50 items: the runs list shows
        # 2/3 done and 1 failed, never "53/3".
        events: list[Event] = [started_event("r", ["load", "work", "save"], 1.0)]
        events += [ok_event("r", "load", 2.0), StepStarted(run_id="r", step="work", ts=2.0)]
        for i in range(50):
            events += [
                StepStarted(run_id="r", step=f"work[{i}]", ts=3.0),
                ok_event("r", f"work[{i}]", 4.0, artifact_ref(f"w{i}", f"work[{i}]")),
            ]
        events += [ok_event("r", "work", 5.0), StepStarted(run_id="r", step="save", ts=5.0)]
        await store.append_events(events)
        await store.append_events(
            [StepFailed(run_id="r", step="save", ts=6.0, attempt=1, error="x")]
        )
        run = await store.get_run("r")
        assert run is not None
        assert (run.steps_total, run.steps_done, run.steps_failed) == (3, 2, 1)
        # Elements' own rows are kept, and a step the run did not list still counts.
        steps = await store.list_step_runs_page("r", parent="work", limit=100)
        assert len(steps.items) == 50
        await store.append_events([ok_event("r", "extra", 7.0)])
        run = await store.get_run("r")
        assert run is not None and run.steps_done == 3

    async def test_step_cached(self, store: MetadataStore) -> None:
        ref = artifact_ref("a1")
        await store.append_events(
            [started_event("r1", ["s"], 1.0), ok_event("r1", "s", 2.0, ref, cache_key="k")]
        )
        fresh = artifact_ref("a2", "extra")
        await store.append_events(
            [
                started_event("r2", ["s", "t"], 3.0),
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
                started_event("r", ["a", "b"], 1.0),
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
                started_event("r", ["done", "busy", "again", "todo"], 1.0),
                ok_event("r", "done", 2.0),
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
                started_event("r", ["b", "a"], 1.0),
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
        events: list[Event] = [started_event("r", listed, 1.0)]
        events += [StepStarted(run_id="r", step=e, ts=2.0) for e in elements]
        events += [ok_event("r", "s01", 3.0), ok_event("r", "fetch[2]", 3.0)]
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
            started_event("rün-1", ["Schritt", "schritt"], 1.0, params=params, pipeline="pïpe"),
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
