"""Conformance tests for step logs in a :class:`~flowyml.storage.MetadataStore`.

Mixed into :class:`~flowyml.testing.metadata_suite.MetadataStoreSuite`: the tests use its
``store`` fixture.  The lines stored come from real runs of a pipeline with an async, a
sync and a mapped step, so what is checked is what a user's run stores.
"""

from __future__ import annotations

import logging
import os
import socket

import anyio
import anyio.lowlevel

from .._api import Pipeline
from ..definition._context import StepContext
from ..definition._step import step
from ..events import Event, LogLine, RunStarted, StepLog
from ..storage._protocols import MetadataStore

__all__ = ("StepLogSuite",)

_user = logging.getLogger("flowyml_suite_user")


@step
async def _produce(ctx: StepContext) -> list[int]:
    for i in range(3):
        ctx.logger.info("async line %d", i)
        await anyio.lowlevel.checkpoint()
    _user.warning("async warning")
    return [1, 2, 3]


@step
def _total(_produce: list[int], ctx: StepContext) -> int:
    for i in range(3):
        ctx.logger.info("sync line %d", i)
    try:
        raise ValueError("boom")
    except ValueError:
        _user.exception("caught an error")
    return sum(_produce)


@step(map_over="_produce")
def _square(_produce: int, ctx: StepContext) -> int:
    ctx.logger.info("square of %d", _produce)
    return _produce * _produce


async def _run_events(p: Pipeline) -> list[Event]:
    events: list[Event] = []
    with anyio.fail_after(30):
        result = await p.arun(persist=False, on_event=events.append)
    assert result.status == "succeeded", result
    return events


class StepLogSuite:
    """Step logs: stored in batches, read back in order, by step and after a cursor."""

    async def test_logs_of_a_real_run_are_stored_in_order(self, store: MetadataStore) -> None:
        p = Pipeline("logs", persist=False).add_step(_produce).add_step(_total)
        events = await _run_events(p.add_step(_square.with_options(name="_square")))
        run_id = events[0].run_id
        await store.append_events(events)
        logs = await store.list_logs(run_id)
        by_step: dict[str, list[str]] = {}
        for rec in logs:
            assert rec.run_id == run_id and rec.attempt == 1
            by_step.setdefault(rec.step, []).append(rec.message)
        assert by_step["_produce"] == [
            "async line 0",
            "async line 1",
            "async line 2",
            "async warning",
        ]
        total = by_step["_total"]
        assert total[:3] == ["sync line 0", "sync line 1", "sync line 2"]
        assert total[3].startswith("caught an error\nTraceback (most recent call last):")
        assert "ValueError: boom" in total[3]
        for i, n in enumerate([1, 2, 3]):
            assert by_step[f"_square[{i}]"] == [f"square of {n}"]
        seqs = [rec.seq for rec in logs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        levels = {(rec.step, rec.message): (rec.level, rec.logger) for rec in logs}
        assert levels["_produce", "async line 0"] == ("INFO", "flowyml.step._produce")
        assert levels["_produce", "async warning"] == ("WARNING", "flowyml_suite_user")

    async def test_logs_by_step_and_after_a_cursor(self, store: MetadataStore) -> None:
        lines = [LogLine(i, 100.0 + i, "INFO", "app", f"line {i} ünïcode") for i in range(1, 6)]
        started = RunStarted(
            run_id="r", ts=1.0, pipeline="p", pid=os.getpid(), host=socket.gethostname()
        )
        await store.append_events(
            [
                started,
                StepLog(run_id="r", ts=2.0, step="a", lines=lines[:2]),
                StepLog(run_id="other", ts=2.0, step="a", lines=lines[:1]),
            ]
        )
        await store.append_events(
            [
                StepLog(run_id="r", ts=3.0, step="b", lines=lines[2:3]),
                StepLog(run_id="r", ts=4.0, step="a", attempt=2, lines=lines[3:]),
            ]
        )
        every = await store.list_logs("r")
        assert [(r.step, r.attempt, r.line) for r in every] == [
            ("a", 1, 1),
            ("a", 1, 2),
            ("b", 1, 3),
            ("a", 2, 4),
            ("a", 2, 5),
        ]
        assert every[0].message == "line 1 ünïcode" and every[0].created_at == 101.0
        only_a = await store.list_logs("r", step="a")
        assert [r.line for r in only_a] == [1, 2, 4, 5]
        newer = await store.list_logs("r", since=every[1].seq)
        assert [r.line for r in newer] == [3, 4, 5]
        assert [r.line for r in await store.list_logs("r", since=every[1].seq, limit=1)] == [3]
        assert await store.list_logs("r", since=every[-1].seq) == []
        assert await store.list_logs("nope") == []

    async def test_many_lines_in_one_batch(self, store: MetadataStore) -> None:
        lines = [LogLine(i, float(i), "DEBUG", "x", "m" * (i % 50)) for i in range(1, 3001)]
        await store.append_events([StepLog(run_id="big", ts=1.0, step="s", lines=lines)])
        got = await store.list_logs("big", limit=5000)
        assert [r.line for r in got] == list(range(1, 3001))
        assert got[-1].message == "m" * (3000 % 50)
