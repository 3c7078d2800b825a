"""Local executor behaviour, proven deterministically (no wall-clock assertions)."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from flowyml import Pipeline, StepContext, context, pipeline, step
from flowyml.errors import RunFailedError, StepOutputError, StepTimeoutError
from flowyml.events import Event


def mem(name: str, **kw: Any) -> Pipeline:
    return Pipeline(name, persist=False, **kw)


async def test_sync_and_async_steps_mixed() -> None:
    @step
    async def load(n: int) -> list[int]:
        await checkpoint()
        return list(range(n))

    @step
    def double(xs: list[int]) -> list[int]:
        return [2 * x for x in xs]

    @step
    async def total(xs: list[int]) -> int:
        return sum(xs)

    @pipeline(persist=False)
    def numbers(n: int = 3):  # type: ignore[no-untyped-def]
        return total(double(load(n)))

    result = await numbers.run(n=4)
    assert result.success
    assert result["load"] == [0, 1, 2, 3]
    assert result["double"] == [0, 2, 4, 6]
    assert result["total"] == 12
    assert result.step_results["double"].status == "succeeded"
    assert result.step_results["double"].attempts == 1


def test_run_blocks_in_plain_code_and_overrides_win() -> None:
    @step
    def show(greeting: str, name: str = "world") -> str:
        return f"{greeting}, {name}"

    p = mem("hello", context=context(greeting="hi", name="ctx"))
    p.add_step(show)
    assert p.run()["show"] == "hi, ctx"
    assert p.run(name="run")["show"] == "hi, run"


def test_parameter_precedence_inputs_then_params_then_defaults() -> None:
    @step(outputs=["value"])
    def produce() -> str:
        return "from-upstream"

    @step(inputs=["value"])
    def consume(value: str, other: str = "default", third: str = "default") -> str:
        return f"{value}|{other}|{third}"

    p = mem("prec", context=context(value="from-context", other="from-context"))
    p.add_step(produce).add_step(consume)
    assert p.run(other="from-run")["consume"] == "from-upstream|from-run|default"


async def test_step_context_is_injected() -> None:
    seen: list[StepContext] = []

    @step
    async def who(ctx: StepContext, x: int = 1) -> int:
        seen.append(ctx)
        ctx.logger.info("hello from %s", ctx.step)
        return x

    result = await mem("ctx").add_step(who).arun(run_id="run-1")
    assert result.run_id == "run-1"
    (ctx,) = seen
    assert (ctx.run_id, ctx.step, ctx.attempt, ctx.pipeline) == ("run-1", "who", 1, "ctx")


async def test_multiple_outputs_unpack_and_wrong_arity_names_the_step() -> None:
    @step(outputs=["a", "b"])
    def pair() -> tuple[int, int]:
        return 1, 2

    @step(outputs=["c", "d"])
    def bad() -> tuple[int, int, int]:
        return 1, 2, 3

    ok = await mem("pair").add_step(pair).arun()
    assert (ok["a"], ok["b"]) == (1, 2)

    res = await mem("bad").add_step(bad).arun()
    assert res.status == "failed"
    err = res.step_results["bad"].error
    assert isinstance(err, StepOutputError)
    assert "'bad'" in str(err) and "2 outputs" in str(err) and "3 values" in str(err)


async def test_launch_when_ready_fast_branch_finishes_while_slow_is_blocked() -> None:
    release_slow = anyio.Event()
    fast_done = anyio.Event()

    @step(outputs=["s"])
    async def slow() -> int:
        await release_slow.wait()
        return 1

    @step(outputs=["f1"])
    async def fast1() -> int:
        return 1

    @step(inputs=["f1"], outputs=["f2"])
    async def fast2(f1: int) -> int:
        return f1 + 1

    @step(inputs=["f2"], outputs=["f3"])
    async def fast3(f2: int) -> int:
        fast_done.set()
        return f2 + 1

    @step(inputs=["s", "f3"], outputs=["joined"])
    async def join(s: int, f3: int) -> int:
        return s + f3

    p = mem("ready").add_step(slow).add_step(fast1).add_step(fast2).add_step(fast3).add_step(join)
    result = None

    async def run() -> None:
        nonlocal result
        result = await p.arun()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await fast_done.wait()  # the whole fast branch ran while `slow` is still blocked
            assert not release_slow.is_set()
            release_slow.set()
    assert result is not None and result["joined"] == 4


async def test_independent_async_steps_overlap() -> None:
    a_started, b_started = anyio.Event(), anyio.Event()

    @step(outputs=["a"])
    async def a() -> str:
        a_started.set()
        await b_started.wait()  # can only finish if b runs at the same time
        return "a"

    @step(outputs=["b"])
    async def b() -> str:
        b_started.set()
        await a_started.wait()
        return "b"

    with anyio.fail_after(5):
        result = await mem("overlap").add_step(a).add_step(b).arun()
    assert result.success


async def test_sync_steps_run_in_parallel_threads() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def make(i: int) -> Any:
        @step(name=f"t{i}")
        def t() -> str:
            barrier.wait()  # all three must be inside their threads at once
            return threading.current_thread().name

        return t

    p = mem("threads")
    for i in range(3):
        p.add_step(make(i))
    result = await p.arun()
    assert result.success
    assert threading.main_thread().name not in {result[f"t{i}"] for i in range(3)}


async def test_failure_skips_dependents_but_not_independent_branches() -> None:
    @step(outputs=["x"])
    def boom() -> int:
        raise ValueError("bad data")

    @step(inputs=["x"], outputs=["y"])
    def after(x: int) -> int:
        return x

    @step(inputs=["y"], outputs=["z"])
    def after2(y: int) -> int:
        return y

    @step(outputs=["ok"])
    async def independent() -> str:
        return "fine"

    p = mem("fail").add_step(boom).add_step(after).add_step(after2).add_step(independent)
    result = await p.arun()
    assert result.status == "failed" and not result.success
    sr = result.step_results
    assert sr["boom"].status == "failed"
    assert isinstance(sr["boom"].error, ValueError)
    assert "ValueError: bad data" in (sr["boom"].traceback or "")
    assert sr["after"].status == "skipped" and "boom" in (sr["after"].skip_reason or "")
    assert sr["after2"].status == "skipped"
    assert sr["independent"].status == "succeeded" and result["ok"] == "fine"
    with pytest.raises(RunFailedError, match="boom") as info:
        result.raise_for_status()
    assert isinstance(info.value.__cause__, ValueError)


async def test_fail_fast_cancels_running_steps() -> None:
    started = anyio.Event()
    cancelled = anyio.Event()

    @step(outputs=["hang"])
    async def hang() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    @step(outputs=["boom"])
    async def boom() -> None:
        await started.wait()
        raise RuntimeError("stop everything")

    with anyio.fail_after(5):
        result = await mem("ff", fail_fast=True).add_step(hang).add_step(boom).arun()
    assert cancelled.is_set()
    assert result.status == "failed"
    assert result.step_results["boom"].status == "failed"
    assert result.step_results["hang"].status in ("cancelled", "skipped")
    assert "fail_fast" in (result.step_results["hang"].skip_reason or "")


async def test_retries_then_success_emit_retrying_events() -> None:
    calls: list[int] = []

    @step(retries=3, retry_delay=0.001, backoff=2)
    async def flaky(ctx: StepContext) -> int:
        calls.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError(f"try {ctx.attempt}")
        return ctx.attempt

    events: list[Event] = []
    result = await mem("retry").add_step(flaky).arun(on_event=events.append)
    assert result["flaky"] == 3 and calls == [1, 2, 3]
    assert result.step_results["flaky"].attempts == 3
    retrying = [e for e in events if e.type == "step_retrying"]
    assert [e.attempt for e in retrying] == [1, 2]
    assert "ConnectionError: try 1" in str(retrying[0].error)


async def test_retries_exhausted_fail() -> None:
    @step(retries=1)
    def always() -> None:
        raise KeyError("nope")

    result = await mem("retry2").add_step(always).arun()
    assert result.step_results["always"].status == "failed"
    assert result.step_results["always"].attempts == 2


async def test_async_timeout_fails_the_step() -> None:
    @step(timeout=0.05)
    async def forever() -> None:
        await anyio.sleep_forever()

    with anyio.fail_after(5):
        result = await mem("to").add_step(forever).arun()
    err = result.step_results["forever"].error
    assert isinstance(err, StepTimeoutError) and isinstance(err, TimeoutError)
    assert "'forever'" in str(err)


async def test_sync_timeout_abandons_thread_and_discards_result() -> None:
    gate = threading.Event()
    finished = threading.Event()

    @step(timeout=0.05)
    def stuck() -> str:
        gate.wait(5)
        finished.set()
        return "late"

    with anyio.fail_after(5):
        result = await mem("to-sync").add_step(stuck).arun()
    assert isinstance(result.step_results["stuck"].error, StepTimeoutError)
    assert "stuck" not in result.outputs
    gate.set()
    await anyio.to_thread.run_sync(finished.wait, 5)


async def test_cancelling_the_caller_cancels_steps_promptly() -> None:
    started = anyio.Event()
    step_cancelled = anyio.Event()
    events: list[Event] = []

    @step
    async def waits() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            step_cancelled.set()

    p = mem("cancel").add_step(waits)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: p.arun(on_event=events.append))
            await started.wait()
            tg.cancel_scope.cancel()
    assert step_cancelled.is_set()
    assert events[-1].type == "run_finished"
    assert events[-1].status == "cancelled"


async def test_max_concurrency_bounds_running_steps() -> None:
    running = 0
    peak = 0
    release = anyio.Event()

    def make(i: int) -> Any:
        @step(name=f"w{i}")
        async def w() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

        return w

    p = mem("limit", max_concurrency=2)
    for i in range(6):
        p.add_step(make(i))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(p.arun)
            await anyio.wait_all_tasks_blocked()
            assert running == 2  # two hold the limiter; four wait for it
            release.set()
    assert peak == 2


async def test_events_cover_the_lifecycle_in_order() -> None:
    @step
    async def a() -> int:
        return 1

    @step(inputs=["a"])
    def b(a: int) -> int:
        return a + 1

    events: list[Event] = []
    result = await mem("ev").add_step(a).add_step(b).arun(on_event=events.append)
    tags = [e.type for e in events]
    assert tags == [
        "run_started",
        "step_started",
        "step_succeeded",
        "step_started",
        "step_succeeded",
        "run_finished",
    ]
    assert all(e.run_id == result.run_id for e in events)
    assert events[1].step == "a" and events[1].attempt == 1
    assert events[-1].status == "succeeded"
    assert events[0].ts <= events[-1].ts


async def test_stream_iterates_events_and_exposes_result() -> None:
    @step
    async def a() -> int:
        return 1

    p = mem("stream").add_step(a)
    async with p.stream() as events:
        seen = [ev.type async for ev in events]
    assert seen[0] == "run_started" and seen[-1] == "run_finished"
    assert events.result is not None and events.result["a"] == 1


async def test_run_inside_loop_returns_awaitable() -> None:
    @step
    def a() -> int:
        return 7

    p = mem("dual").add_step(a)
    pending = p.run()
    assert not hasattr(pending, "status")
    result = await pending
    assert result["a"] == 7


def test_result_api() -> None:
    @step
    def a() -> int:
        return 1

    result = mem("api").add_step(a).run()
    assert result.raise_for_status() is result
    assert "a" in result and result["a"] == 1
    with pytest.raises(KeyError, match="no output 'zzz'"):
        result["zzz"]
    d = result.to_dict()
    assert d["status"] == "succeeded" and d["step_results"]["a"]["status"] == "succeeded"
    assert "1 succeeded" in result.summary()
    assert result.step_results["a"].output == 1
    assert result.duration_seconds >= 0
