"""Conformance tests of a metadata store's event log, run listing and liveness marks.

Part of :class:`~flowyml.testing.metadata_suite.MetadataStoreSuite`, which provides the
``store`` fixture.
"""

from __future__ import annotations

import socket
import time

import anyio

from ..events import (
    Event,
    RunFinished,
    StepCached,
    StepStarted,
)
from ..storage._protocols import MetadataStore
from ._events import artifact_ref, dead_pid, ok_event, started_event

__all__ = ("EventLogSuite",)


class EventLogSuite:
    """The event log (ids, tailing, concurrency), listing runs, heartbeats, dead runs."""

    # event log ---------------------------------------------------------------------------
    async def test_event_log(self, store: MetadataStore) -> None:
        assert await store.append_events([]) == []
        events: list[Event] = [
            started_event("r1", ["a"], 1.0, params={"x": [1, 2]}),
            started_event("r2", ["a"], 1.5),
            StepStarted(run_id="r1", step="a", ts=2.0, inputs={"p": "q"}, cache_key="k"),
            ok_event("r1", "a", 3.0, artifact_ref("a1")),
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

    async def test_event_log_of_map_elements(self, store: MetadataStore) -> None:
        # A store may keep many element events in one row: every event still has its
        # own id, comes back equal, and cursors and limits fall between any two of them.
        events: list[Event] = [
            started_event("r", ["m"], 1.0),
            StepStarted(run_id="r", step="m", ts=2.0),
        ]
        events += [
            StepStarted(run_id="r", step=f"m[{i}]", ts=3.0 + i, inputs={"x": f"in{i}"} if i else {})
            for i in range(6)
        ]
        events.append(started_event("other", ["m"], 4.0))  # another run in between
        events += [
            ok_event("r", f"m[{i}]", 10.0 + i, artifact_ref(f"a{i}", f"m[{i}]", metadata={"i": i}))
            for i in range(6)
        ]
        events += [
            StepCached(
                run_id="r",
                step=f"m[{i}]",
                ts=15.0,
                cache_key=f"k{i}",
                outputs={f"m[{i}]": artifact_ref(f"c{i}", f"m[{i}]")},
                source_run_id="earlier" if i == 7 else None,
            )
            for i in (6, 7, 8)
        ]
        events.append(ok_event("r", "m[9]", 20.0, artifact_ref("b", "other-name")))
        events.append(StepStarted(run_id="other", step="m[0]", ts=21.0))
        events.append(RunFinished(run_id="r", ts=30.0, status="succeeded"))
        ids = await store.append_events(events)
        n = len(events)
        assert ids == list(range(1, n + 1)) and await store.last_event_id() == n
        log = await store.events_after(0, limit=1000)
        assert [e.id for e in log] == ids and [e.event for e in log] == events
        for cursor in range(n + 1):
            for limit in (1, 2, 5):
                page = await store.events_after(cursor, limit=limit)
                assert [e.id for e in page] == ids[cursor : cursor + limit]
                assert [e.event for e in page] == events[cursor : cursor + limit]
        own = await store.events_after(4, run_id="r", limit=3)
        assert [e.id for e in own] == [5, 6, 7]
        theirs = await store.events_after(0, run_id="other")
        assert [e.event.run_id for e in theirs] == ["other", "other"]
        step = await store.get_step_run("r", "m[3]")
        assert step is not None and step.status == "succeeded" and step.outputs == {"m[3]": "a3"}
        assert step.inputs == {"x": "in3"}
        cached = await store.get_step_run("r", "m[7]")
        assert cached is not None and (cached.status, cached.cached_from) == ("cached", "earlier")

    async def test_concurrent_appends(self, store: MetadataStore) -> None:
        tasks, batches, size = 16, 8, 5
        results: list[list[int]] = []

        async def writer(n: int) -> None:
            run_id = f"run-{n}"
            steps = [f"s{i}" for i in range(batches * size)]
            results.append(await store.append_events([started_event(run_id, steps, float(n))]))
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
                    [started_event(run_id, [], 1.0), started_event(run_id + "x", [], 1.0)]
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
            await store.append_events([started_event(f"r{i}", [], 100.0 + i, pipeline=pipeline)])
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

    async def test_runs_carry_their_tags_and_filter_by_tag(self, store: MetadataStore) -> None:
        tags = [["nightly", "team:ml"], [], ["team:ml"], ["nightly", "v1.2_rc%"]]
        for i, run_tags in enumerate(tags):
            await store.append_events([started_event(f"t{i}", ["a"], 10.0 + i, tags=run_tags)])
        # a run_started seen twice (a replayed batch) keeps each tag once, in order
        await store.append_events([started_event("t0", ["a"], 10.0, tags=["nightly", "team:ml"])])
        await store.append_events([RunFinished(run_id="t2", ts=20.0, status="failed")])
        everything = await store.list_runs()
        assert [(r.run_id, r.tags) for r in everything.items] == [
            ("t3", ["nightly", "v1.2_rc%"]),
            ("t2", ["team:ml"]),
            ("t1", []),
            ("t0", ["nightly", "team:ml"]),
        ]
        one = await store.get_run("t0")
        assert one is not None and one.tags == ["nightly", "team:ml"]
        nightly = await store.list_runs(tag="nightly")
        assert [r.run_id for r in nightly.items] == ["t3", "t0"]
        assert nightly.items[1].tags == ["nightly", "team:ml"]
        page = await store.list_runs(tag="nightly", limit=1)
        assert [r.run_id for r in page.items] == ["t3"] and page.next_cursor is not None
        rest = await store.list_runs(tag="nightly", cursor=page.next_cursor)
        assert [r.run_id for r in rest.items] == ["t0"] and rest.next_cursor is None
        both = await store.list_runs(tag="team:ml", status="failed")
        assert [r.run_id for r in both.items] == ["t2"]
        # tags match whole and exactly: no prefixes, no wildcards, case counts
        for other in ("team", "v1.2_rc", "v1.2%rc%", "Nightly"):
            assert (await store.list_runs(tag=other)).items == [], other
        assert [r.run_id for r in (await store.list_runs(tag="v1.2_rc%")).items] == ["t3"]

    async def test_heartbeat(self, store: MetadataStore) -> None:
        await store.append_events([started_event("r1", [], 1.0), started_event("r2", [], 1.0)])
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
                started_event("dead", ["a", "b"], now, pid=gone),
                StepStarted(run_id="dead", step="a", ts=now),
                started_event("alive", [], now),
                started_event("stale", [], now - 1000, pid=1, host="elsewhere"),
                started_event("fresh", [], now, pid=1, host="elsewhere"),
                started_event("beating", [], now - 1000, pid=1, host="elsewhere"),
                started_event("done", [], now - 1000, pid=gone),
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
            [started_event(f"dead{i}", ["a"], now, pid=gone) for i in range(3)]
            + [started_event("alive", [], now)]
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
