"""Run and artifact ids sort by creation time (so store indexes grow at one end)."""

from __future__ import annotations

import time
import uuid

import anyio

from flowyml import Pipeline, Runtime, step
from flowyml._ids import new_run_id, time_stamp


def test_run_ids_are_uuid7_carrying_their_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_run_id() for _ in range(200)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for rid in ids:
        u = uuid.UUID(hex=rid)
        assert (u.version, u.variant) == (7, uuid.RFC_4122)
        assert u.hex == rid and len(rid) == 32
        assert before <= int(rid[:12], 16) <= after


def test_run_ids_from_later_milliseconds_sort_later() -> None:
    first = new_run_id()
    start = time.time()
    while time.time() - start < 0.003:  # cross at least one millisecond
        pass
    assert new_run_id() > first


def test_time_stamp_is_milliseconds_in_twelve_hex_digits() -> None:
    assert time_stamp(0) == "000000000000"
    assert time_stamp(1.5) == f"{1500:012x}"
    assert int(time_stamp(1_800_000_000.123), 16) == 1_800_000_000_123


async def test_artifact_ids_start_with_the_time_they_were_stored(tmp_path: object) -> None:
    @step(outputs=["x"])
    async def make() -> int:
        return 41

    @step(inputs=["x"], outputs=["y"])
    def inc(x: int) -> int:
        return x + 1

    p = Pipeline("ids", enable_cache=False).add_step(make).add_step(inc)
    async with Runtime(store=f"sqlite:///{tmp_path}/m.db", artifacts=f"{tmp_path}/a") as rt:
        first = await p.arun(runtime=rt)
        await anyio.sleep(0.003)
        second = await p.arun(runtime=rt)
        ids = {}
        for result in (first, second):
            record = await rt.metadata.get_run(result.run_id)
            assert record is not None
            stamp = time_stamp(record.started_at)
            assert result.run_id[:12] <= stamp  # the id is made just before the run starts
            assert record.finished_at is not None
            end = time_stamp(record.finished_at)
            run_ids = [a for r in result.step_results.values() for a in r.artifact_ids.values()]
            assert len(run_ids) == 2 and all(stamp <= a[:12] <= end for a in run_ids)
            ids[result.run_id] = run_ids
        # Equal values in two runs: still two artifacts (ids differ), one blob.
        a, b = ids[first.run_id], ids[second.run_id]
        assert max(a) < min(b) and second.run_id > first.run_id
        rec_a = await rt.metadata.get_artifact(a[0])
        rec_b = await rt.metadata.get_artifact(b[0])
        assert rec_a is not None and rec_b is not None and rec_a.uri == rec_b.uri
