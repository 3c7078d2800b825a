"""Conformance tests: one batch that changes a step's row several times.

A store may apply a step's ``step_started`` and ``step_succeeded`` of one batch as one
row write; the row must be the one the events give applied one batch at a time.
Mixed into :class:`~flowyml.testing.metadata_suite.MetadataStoreSuite`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ..events import Event, StepRetrying, StepStarted
from ..storage._protocols import MetadataStore
from ._events import artifact_ref, ok_event, started_event

__all__ = ("StepRowsSuite",)


def _lifecycles(run: str) -> list[Event]:
    """A listed step, a map element (no row before it starts) and a retried element,
    each started and ended."""
    source = f"{run}-in"
    return [
        ok_event(run, "src", 1.5, artifact_ref(source, "in")),
        StepStarted(run_id=run, step="a", ts=2.0, inputs={"x": source}, cache_key="ka"),
        ok_event(run, "a", 3.0, artifact_ref(f"{run}-a", "out"), duration=0.5),
        StepStarted(run_id=run, step="m[0]", ts=2.5),
        ok_event(run, "m[0]", 4.0, artifact_ref(f"{run}-m0", "m[0]"), duration=1.0, cache_key="k0"),
        StepStarted(run_id=run, step="m[1]", ts=2.6, inputs={"item": source}),
        StepRetrying(run_id=run, step="m[1]", ts=2.7, attempt=1, error="flaky", delay=0.0),
        StepStarted(run_id=run, step="m[1]", ts=2.8, attempt=2, inputs={"item": source}),
        ok_event(run, "m[1]", 5.0, artifact_ref(f"{run}-m1", "m[1]"), attempt=2, duration=2.0),
    ]


def _rows(steps: Sequence[msgspec.Struct]) -> list[dict[str, object]]:
    rows = []
    for s in steps:
        row = msgspec.structs.asdict(s)
        row.pop("run_id")
        for ids in ("inputs", "outputs"):
            row[ids] = {k: v.rpartition("-")[2] for k, v in row[ids].items()}
        rows.append(row)
    return rows


class StepRowsSuite:
    """Needs the ``store`` fixture of :class:`MetadataStoreSuite`."""

    async def test_one_batch_gives_the_rows_of_one_event_at_a_time(
        self, store: MetadataStore
    ) -> None:
        await store.append_events([started_event("one", ["a"], 1.0), *_lifecycles("one")])
        await store.append_events([started_event("each", ["a"], 1.0)])
        for event in _lifecycles("each"):
            await store.append_events([event])
        together = await store.list_step_runs("one")
        apart = await store.list_step_runs("each")
        assert _rows(together) == _rows(apart)
        a, m0, m1 = (s for s in together if s.step != "src")
        # started_at and inputs come from step_started, the rest from step_succeeded
        assert (a.status, a.started_at, a.finished_at, a.duration) == ("succeeded", 2.0, 3.0, 0.5)
        assert (a.inputs, a.outputs, a.cache_key) == ({"x": "one-in"}, {"out": "one-a"}, "ka")
        assert (m0.started_at, m0.cache_key, m0.outputs) == (2.5, "k0", {"m[0]": "one-m0"})
        assert (m1.attempts, m1.started_at, m1.error) == (2, 2.6, None)
        for run_id in ("one", "each"):
            lineage = await store.lineage(f"{run_id}-in")
            assert lineage is not None
            assert sorted(c.step for c in lineage.consumers) == ["a", "m[1]"]
            lineage = await store.lineage(f"{run_id}-m1")
            assert lineage is not None and lineage.producer is not None
            assert lineage.producer.step == "m[1]"
            assert [i.id for i in lineage.inputs] == [f"{run_id}-in"]
        run = await store.get_run("one")
        assert run is not None and (run.steps_total, run.steps_done) == (1, 2)
