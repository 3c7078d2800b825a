"""The projection's batching plan: grouped statements must give the rows of one-by-one."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from flowyml.events import (
    Event,
    RunFinished,
    RunStarted,
    StepCached,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from flowyml.storage.metadata import MemoryMetadataStore
from flowyml.storage.metadata._dialect import MYSQL, POSTGRES, SQLITE
from flowyml.storage.metadata._plan import plan, touched_runs
from flowyml.storage.metadata._projection import (
    UpsertStep,
    project,
)
from flowyml.testing.metadata_suite import artifact_ref

SEED = int(os.environ.get("FLOWYML_TEST_SEED", "0")) or random.randrange(1 << 30)


def random_events(rng: random.Random, n: int) -> list[Event]:
    runs, steps, arts = ["r1", "r2", "r3"], ["a", "b", "c", "d"], ["x1", "x2", "x3", "x4"]
    events: list[Event] = []
    for i in range(n):
        run, step, ts = rng.choice(runs), rng.choice(steps), float(i)
        ref = artifact_ref(rng.choice(arts), rng.choice(["o1", "o2"]), size=i)
        inputs = {"p": rng.choice(arts)} if rng.random() < 0.5 else {}
        key = rng.choice(["k1", "k2", None])
        options: list[Event] = [
            RunStarted(run_id=run, ts=ts, pipeline=rng.choice("PQ"), steps=steps[:3]),
            StepStarted(run_id=run, step=step, ts=ts, attempt=i, inputs=inputs, cache_key=key),
            StepRetrying(run_id=run, step=step, ts=ts, attempt=i, error=f"e{i}", delay=0),
            StepSucceeded(run_id=run, step=step, ts=ts, outputs={ref.name: ref}, cache_key=key),
            StepCached(run_id=run, step=step, ts=ts, outputs={ref.name: ref}, inputs=inputs),
            StepFailed(run_id=run, step=step, ts=ts, attempt=i, error=f"f{i}"),
            StepSkipped(run_id=run, step=step, ts=ts, reason=f"s{i}"),
            RunFinished(run_id=run, ts=ts, status=rng.choice(["succeeded", "cancelled"])),
        ]
        events.append(rng.choice(options))
    return events


def state(store: MemoryMetadataStore) -> tuple[Any, ...]:
    return (store._runs, store._steps, store._artifacts, store._lineage, store._cache)


@pytest.mark.parametrize("round_", range(40))
def test_plan_matches_one_by_one(round_: int) -> None:
    rng = random.Random(SEED + round_)
    events = random_events(rng, rng.randrange(1, 60))
    ops = project(events, {})
    one_by_one, grouped = MemoryMetadataStore(), MemoryMetadataStore()
    for op in ops:
        one_by_one._apply(op)
    groups = plan(ops)
    for _, group in groups:
        for op in group:
            grouped._apply(op)
    for store in (one_by_one, grouped):
        for run_id in touched_runs(ops):
            store._recount(run_id)
    assert state(grouped) == state(one_by_one), f"seed {SEED + round_}"
    assert sum(len(g) for _, g in groups) == len(ops)


def test_plan_batches_a_typical_run() -> None:
    steps = [f"s{i}" for i in range(50)]
    events: list[Event] = [RunStarted(run_id="r", ts=0.0, pipeline="p", steps=steps)]
    for i, step in enumerate(steps):
        ref = artifact_ref(f"a{i}")
        inputs = {"x": f"a{i - 1}"} if i else {}
        events.append(StepStarted(run_id="r", step=step, ts=1.0, inputs=inputs, cache_key=step))
        events.append(
            StepSucceeded(run_id="r", step=step, ts=2.0, outputs={"out": ref}, cache_key=step)
        )
    groups = plan(project(events, {}))
    keys = [key for key, _ in groups]
    assert len(keys) == len(set(keys)) == 7  # one statement per kind of row change
    assert sum(isinstance(op, UpsertStep) for _, g in groups for op in g) == 150


def test_dialect_rendering() -> None:
    sql = "SELECT a FROM t WHERE b = ? AND c = ?"
    assert SQLITE.sql(sql) == sql
    assert POSTGRES.sql(sql) == "SELECT a FROM t WHERE b = $1 AND c = $2"
    assert MYSQL.sql(sql) == "SELECT a FROM t WHERE b = %s AND c = %s"
    rules: dict[str, Any] = {"x": "set", "y": "keep", "z": "fill"}
    pg = POSTGRES.upsert("t", ("k", "x", "y", "z"), ("k",), rules)
    assert pg.endswith(
        "ON CONFLICT (k) DO UPDATE SET x = excluded.x, y = COALESCE(t.y, excluded.y), "
        "z = COALESCE(excluded.z, t.z)"
    )
    my = MYSQL.upsert("t", ("k", "x", "y", "z"), ("k",), rules)
    assert my.endswith(
        "ON DUPLICATE KEY UPDATE x = VALUES(x), y = COALESCE(y, VALUES(y)), z = COALESCE(VALUES(z), z)"
    )
    assert MYSQL.upsert("t", ("k", "x"), ("k",), {}).endswith("ON DUPLICATE KEY UPDATE k = k")
    assert SQLITE.upsert("t", ("k", "x"), ("k",), {}).endswith("ON CONFLICT (k) DO NOTHING")
