"""Conformance tests of a metadata store's artifacts, lineage, cache and pipelines.

Part of :class:`~flowyml.testing.metadata_suite.MetadataStoreSuite`, which provides the
``store`` fixture.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ..events import (
    Event,
    StepCached,
    StepFailed,
    StepStarted,
)
from ..storage._protocols import MetadataStore
from ..storage._records import ArtifactRecord, PipelineRecord
from ._events import artifact_ref, ok_event, started_event

__all__ = ("ArtifactsAndCacheSuite",)


class ArtifactsAndCacheSuite:
    """Artifacts, lineage, the cache and registered pipelines."""

    # artifacts and lineage ---------------------------------------------------------------
    async def test_list_artifacts(self, store: MetadataStore) -> None:
        await store.append_events(
            [
                started_event("r1", ["a", "b"], 1.0),
                ok_event("r1", "a", 2.0, artifact_ref("x1", "x"), artifact_ref("y1", "y")),
                ok_event("r1", "b", 3.0, artifact_ref("x2", "x")),
                started_event("r2", ["a"], 4.0),
                ok_event("r2", "a", 5.0, artifact_ref("x3", "x")),
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
                started_event("r", ["s1", "s2", "s3"], 1.0),
                StepStarted(run_id="r", step="s1", ts=1.0),
                ok_event("r", "s1", 2.0, a1),
                StepStarted(run_id="r", step="s2", ts=3.0, inputs={"x": "a1"}),
                ok_event("r", "s2", 4.0, a2),
                StepStarted(run_id="r", step="s3", ts=5.0, inputs={"y": "a1", "z": "a2"}),
                ok_event("r", "s3", 6.0, a3),
                started_event("r2", ["s2"], 7.0),
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
                started_event("old", ["s"], now - 500),
                ok_event("old", "s", now - 400, artifact_ref("o1"), cache_key="k"),
                started_event("new", ["s", "t"], now - 100),
                ok_event("new", "s", now - 50, artifact_ref("n1"), cache_key="k"),
                ok_event("new", "t", now - 50, cache_key="empty"),
                ok_event("new", "t", now - 50, artifact_ref("u1"), cache_key=None),
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
                started_event("r", ["s", "bad"], now - 10),
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
        await store.append_events([ok_event("r", "s", now - 5, artifact_ref("o"), cache_key="k")])
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
        events: list[Event] = [started_event("r1", names, now - 100)]
        for step in ["a", "b", "m[0]", "m[12]", "m_x", "m_x[1]", "old", "100%[0]"]:
            ref = artifact_ref(f"r1-{step}")
            events.append(ok_event("r1", step, now - 90, ref, cache_key=f"k1-{step}"))
        events += [
            started_event("r2", ["a"], now - 50),
            ok_event("r2", "a", now - 40, artifact_ref("r2-a"), cache_key="k2-a"),
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
            events.append(started_event(run_id, ["a", "b"], 1.0, pipeline=pipeline))
            for step in ("a", "b"):
                ref = artifact_ref(f"{pipeline}-{step}")
                events.append(ok_event(run_id, step, 2.0, ref, cache_key=f"{pipeline}-{step}"))
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
