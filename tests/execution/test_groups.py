"""Step groups in process: a group's steps run one after the other in one task, each
still a step of its own (events, retries, cache, resume)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import anyio
import pytest

from flowyml import Pipeline, step
from flowyml.events import (
    RunFinished,
    StepCached,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)


def _task() -> int:
    return anyio.get_current_task().id


@step(execution_group="fit", outputs=["raw"])
async def load() -> int:
    return _task()


@step(execution_group="fit", outputs=["clean"])
async def clean(raw: int) -> int:
    return _task()


@step(outputs=["report"])
async def report(clean: int) -> int:
    return _task()


def _pipeline(*steps: Any, name: str = "grouped", **options: Any) -> Pipeline:
    p = Pipeline(name, **options)
    for s in steps:
        p.add_step(s)
    return p


async def test_a_groups_steps_share_one_task_and_others_do_not() -> None:
    result = await _pipeline(load, clean, report, persist=False).arun()
    assert result.success
    assert result["raw"] == result["clean"] != result["report"]

    ungrouped = [s.with_options(execution_group=None) for s in (load, clean)]
    control = await _pipeline(*ungrouped, report, persist=False).arun()
    assert control["raw"] != control["clean"]


async def test_each_grouped_step_keeps_its_own_events_in_order() -> None:
    events: list[Any] = []
    result = await _pipeline(load, clean, report, persist=False).arun(on_event=events.append)
    assert result.success
    steps = [
        (type(e).__name__, e.step) for e in events if isinstance(e, StepStarted | StepSucceeded)
    ]
    assert steps == [
        ("StepStarted", "load"),
        ("StepSucceeded", "load"),
        ("StepStarted", "clean"),
        ("StepSucceeded", "clean"),
        ("StepStarted", "report"),
        ("StepSucceeded", "report"),
    ]
    assert all(result.step_results[s].status == "succeeded" for s in ("load", "clean", "report"))


async def test_retries_are_per_step_and_a_failure_skips_only_what_reads_it() -> None:
    calls: list[str] = []

    @step(execution_group="g", outputs=["a"])
    def first() -> int:
        calls.append("first")
        return 1

    @step(execution_group="g", outputs=["b"], retries=1)
    def flaky(a: int) -> int:
        calls.append("flaky")
        if calls.count("flaky") == 1:
            raise ValueError("first attempt fails")
        return a + 1

    @step(execution_group="g", outputs=["c"])
    def broken(b: int) -> int:
        raise RuntimeError("always")

    @step(execution_group="g", outputs=["d"])
    def after_broken(c: int) -> int:
        return c

    @step(execution_group="g", outputs=["e"])
    def beside(a: int) -> int:  # reads only `first`: runs although `broken` failed
        return a * 10

    events: list[Any] = []
    p = _pipeline(first, flaky, broken, after_broken, beside, persist=False)
    assert [g.execution_order for g in p.step_groups] == [
        ["first", "flaky", "beside", "broken", "after_broken"]
    ]
    result = await p.arun(on_event=events.append)
    assert result.status == "failed"
    sr = result.step_results
    assert (sr["first"].attempts, sr["flaky"].attempts) == (1, 2)
    assert [e.step for e in events if isinstance(e, StepRetrying)] == ["flaky"]
    assert sr["broken"].status == "failed" and sr["after_broken"].status == "skipped"
    assert [e.step for e in events if isinstance(e, StepSkipped)] == ["after_broken"]
    assert sr["beside"].status == "succeeded" and result["e"] == 10


async def test_cache_and_resume_stay_per_step(tmp_path: Path) -> None:
    calls: list[str] = []
    fail = tmp_path / "fail"

    @step(execution_group="g", outputs=["a"])
    def prepare(n: int) -> int:
        calls.append("prepare")
        return n

    @step(execution_group="g", outputs=["b"])
    def scale(a: int, factor: int) -> int:
        calls.append("scale")
        if fail.exists():
            raise RuntimeError("asked to fail")
        return a * factor

    p = _pipeline(prepare, scale, name="cached_group")
    first = await p.arun(n=2, factor=3)
    assert first["b"] == 6 and calls == ["prepare", "scale"]

    events: list[Any] = []
    again = await p.arun(n=2, factor=4, on_event=events.append)  # only `scale` changed
    assert again["b"] == 8 and calls == ["prepare", "scale", "scale"]
    assert [e.step for e in events if isinstance(e, StepCached)] == ["prepare"]

    fail.touch()
    failed = await p.arun(n=5, factor=2)
    assert failed.status == "failed" and calls[-2:] == ["prepare", "scale"]
    fail.unlink()
    resumed = await p.aresume(failed.run_id)
    assert resumed.success and resumed["b"] == 10
    assert calls[-1] == "scale" and calls.count("prepare") == 2  # taken from the failed run
    assert resumed.step_results["prepare"].cached


async def test_a_group_starts_once_every_outside_input_has_ended() -> None:
    gate = anyio.Event()
    order: list[str] = []

    @step(outputs=["slow"])
    async def slow_input() -> int:
        await gate.wait()
        order.append("slow_input")
        return 1

    @step(execution_group="g", outputs=["x"])
    async def head() -> int:
        order.append("head")
        return 1

    @step(execution_group="g", outputs=["y"])
    async def tail(x: int, slow: int) -> int:
        order.append("tail")
        return x + slow

    async def open_gate() -> None:
        await anyio.wait_all_tasks_blocked()
        assert order == []  # the group waits for `slow_input`, its outside input
        gate.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(open_gate)
        result = await _pipeline(slow_input, head, tail, persist=False).arun()
    assert result["y"] == 2 and order == ["slow_input", "head", "tail"]


async def test_debug_runs_ignore_groups_and_still_succeed() -> None:
    result = await _pipeline(load, clean, report, persist=False).arun(debug=True)
    assert result.success


@pytest.mark.parametrize("persist", [True, False])
async def test_sync_and_async_steps_mix_in_one_group(persist: bool) -> None:
    @step(execution_group="g", outputs=["n"])
    def make() -> int:
        return 20

    @step(execution_group="g", outputs=["m"])
    async def add(n: int) -> int:
        return n + 1

    @step(execution_group="g", outputs=["k"])
    def double(m: int) -> int:
        return m * 2

    result = await _pipeline(make, add, double, name=f"mixed_{persist}", persist=persist).arun()
    assert result["k"] == 42


async def test_an_outside_failure_skips_only_the_grouped_steps_that_read_it() -> None:
    @step(outputs=["bad"])
    def upstream_fails() -> int:
        raise ValueError("no data")

    @step(execution_group="g", outputs=["x"])
    def reads_bad(bad: int) -> int:
        return bad

    @step(execution_group="g", outputs=["y"])
    def independent() -> int:
        return 7

    @step(execution_group="g", outputs=["z"])
    def after_x(x: int) -> int:
        return x

    p = _pipeline(upstream_fails, reads_bad, independent, after_x, persist=False)
    result = await p.arun()
    sr = result.step_results
    assert result.status == "failed"
    assert (sr["reads_bad"].status, sr["after_x"].status) == ("skipped", "skipped")
    assert sr["independent"].status == "succeeded" and result["y"] == 7


async def test_fail_fast_stops_a_group_between_its_steps() -> None:
    ran: list[str] = []

    @step(execution_group="g", outputs=["a"])
    def boom() -> int:
        ran.append("boom")
        raise RuntimeError("stop")

    @step(execution_group="g", outputs=["b"])
    def later() -> int:
        ran.append("later")
        return 1

    result = await _pipeline(boom, later, persist=False, fail_fast=True).arun()
    assert result.status == "failed" and ran == ["boom"]
    assert result.step_results["later"].status == "skipped"


async def test_a_skipped_condition_outside_feeds_none_to_a_tolerant_grouped_step() -> None:
    @step(outputs=["extra"], condition=lambda use: use)
    def maybe_extra(use: bool) -> int:
        return 5

    @step(execution_group="g", outputs=["base"])
    def base() -> int:
        return 1

    @step(execution_group="g", outputs=["sum"])
    def combine(base: int, extra: int | None = None) -> int:
        return base + (extra or 0)

    p = _pipeline(maybe_extra, base, combine, persist=False)
    assert (await p.arun(use=False))["sum"] == 1
    assert (await p.arun(use=True))["sum"] == 6


class GroupsFail:
    """An executor that runs groups as one call of its own, and whose call fails."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls: list[list[str]] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def run_step(self, fn: Any, kwargs: dict[str, Any], *, is_async: bool, name: str) -> Any:
        raise AssertionError("a grouped step is never run alone")

    def shares_store(self, artifacts_url: str) -> bool:
        return False

    async def call_step(self, call: Any) -> Any:
        raise AssertionError("a grouped step is never run alone")

    async def call_group(self, call: Any) -> Any:
        self.calls.append([m.call.name for m in call.members])
        raise self.error


async def test_a_failed_group_call_fails_its_first_step_and_skips_what_reads_it() -> None:
    executor = GroupsFail(OSError("the cluster went away"))
    events: list[Any] = []
    p = _pipeline(load, clean, persist=False)
    result = await p.arun(executor=executor, on_event=events.append)
    assert executor.calls == [["load", "clean"]]
    assert result.status == "failed"
    sr = result.step_results
    assert sr["load"].status == "failed" and "the cluster went away" in str(sr["load"].error)
    assert sr["clean"].status == "skipped"


async def test_a_keyboard_interrupt_from_a_group_call_cancels_the_run() -> None:
    events: list[Any] = []
    p = _pipeline(load, clean, persist=False)
    with pytest.raises(KeyboardInterrupt):
        await p.arun(executor=GroupsFail(KeyboardInterrupt()), on_event=events.append)
    (finished,) = [e for e in events if isinstance(e, RunFinished)]
    assert finished.status == "cancelled"
