"""Every way a run can end leaves a true, persisted record (see docs/reliability.md).

Each test runs a real pipeline against a real SQLite store and reads the record back
through :class:`flowyml.Client`, as a user checking on a run would.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Client, Pipeline, step
from flowyml.errors import StepCancelledError
from flowyml.events import Event


def urls(tmp_path: Path) -> dict[str, Any]:
    return {"store": f"sqlite:///{tmp_path / 'meta.db'}", "artifacts": str(tmp_path / "art")}


async def stored(tmp_path: Path, run_id: str) -> Any:
    async with Client(**urls(tmp_path)) as client:
        return await client.get_run(run_id)


async def run_finished_of(tmp_path: Path, run_id: str) -> Any:
    async with Client(**urls(tmp_path)) as client:
        events = await client.events(run_id)
    finished = [e.event for e in events if e.event.type == "run_finished"]
    assert len(finished) == 1, [e.event.type for e in events]
    return finished[0]


# --------------------------------------------------------------------------- stray cancels


def self_cancelling_steps() -> dict[str, Any]:
    """Ways a step's own code raises CancelledError; each also lets ``other`` finish."""

    async def cancel_task_then_await(gate: anyio.Event) -> int:
        gate.set()
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(5)
        return 1

    async def cancel_task_then_return(gate: anyio.Event) -> int:
        gate.set()
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return 1

    async def raise_cancelled(gate: anyio.Event) -> int:
        gate.set()
        raise asyncio.CancelledError

    def sync_raises_cancelled(gate: anyio.Event) -> int:
        anyio.from_thread.run_sync(gate.set)
        raise asyncio.CancelledError  # e.g. a library's concurrent.futures wait

    return {
        "cancel_task_then_await": cancel_task_then_await,
        "cancel_task_then_return": cancel_task_then_return,
        "raise_cancelled": raise_cancelled,
        "sync_raises_cancelled": sync_raises_cancelled,
    }


@pytest.mark.parametrize("kind", sorted(self_cancelling_steps()))
async def test_a_step_that_cancels_itself_fails_alone(tmp_path: Path, kind: str) -> None:
    gate = anyio.Event()
    fn = self_cancelling_steps()[kind]
    rogue = step(name="rogue", outputs=["r"])(fn)

    @step(outputs=["o"])
    async def other(gate: anyio.Event) -> int:
        await gate.wait()  # only finishes after the rogue step ran: they overlap
        await asyncio.sleep(0.05)
        return 2

    @step(inputs=["r"])
    async def after_rogue(r: int) -> int:
        return r

    p = Pipeline("stray", context={"gate": gate}, enable_cache=False)
    p.add_step(rogue).add_step(other).add_step(after_rogue)
    result = await p.arun(**urls(tmp_path))

    assert result.status == "failed"
    assert isinstance(result.step_results["rogue"].error, StepCancelledError)
    assert result.step_results["other"].status == "succeeded"
    assert result.outputs["o"] == 2
    assert result.step_results["after_rogue"].status == "skipped"

    record = await stored(tmp_path, result.run_id)
    assert record.status == "failed"
    assert record.step("rogue").status == "failed"
    assert "cancelled from inside the step" in (record.step("rogue").error or "")
    assert record.step("other").status == "succeeded"
    assert (await run_finished_of(tmp_path, result.run_id)).status == "failed"


async def test_a_self_cancelling_step_is_retried_like_any_failure(tmp_path: Path) -> None:
    calls = 0

    @step(retries=1)
    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError
        return calls

    result = await Pipeline("stray-retry").add_step(flaky).arun(**urls(tmp_path))
    assert result.success and result["flaky"] == 2
    assert result.step_results["flaky"].attempts == 2


async def test_a_self_cancelling_map_element_fails_that_element_only(tmp_path: Path) -> None:
    from flowyml import pipeline

    @step
    async def fetch(i: int) -> int:
        if i == 2:
            raise asyncio.CancelledError
        return i * 10

    @pipeline
    def crawl(items: list[int]) -> Any:
        return fetch.map(items)

    result = await crawl.arun(items=[0, 1, 2, 3], **urls(tmp_path))
    assert result.status == "failed"
    assert isinstance(result.step_results["fetch[2]"].error, StepCancelledError)
    assert [result.step_results[f"fetch[{i}]"].status for i in (0, 1, 3)] == ["succeeded"] * 3
    assert (await stored(tmp_path, result.run_id)).status == "failed"


async def test_the_runs_own_cancel_still_means_cancelled(tmp_path: Path) -> None:
    started = anyio.Event()

    @step
    async def slow() -> int:
        started.set()
        await anyio.sleep(30)
        return 1

    p = Pipeline("own-cancel").add_step(slow)
    run_id = "0" * 31 + "1"
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: p.arun(run_id=run_id, **urls(tmp_path)))
        await started.wait()
        tg.cancel_scope.cancel()
    record = await stored(tmp_path, run_id)
    assert record.status == "cancelled"
    assert record.step("slow").status == "cancelled"


# --------------------------------------------------------------------------- BaseException


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_a_step_raising_a_base_exception_records_the_run_cancelled(
    tmp_path: Path, exc_type: type[BaseException], sync: bool
) -> None:
    def body() -> int:
        raise exc_type("stop")

    async def abody() -> int:
        return body()

    fn = body if sync else abody
    boom = step(name="boom")(fn)

    @step
    async def waiting() -> int:
        await anyio.sleep(30)
        return 1

    run_id = "0" * 31 + "2"
    p = Pipeline("interrupt").add_step(boom).add_step(waiting)
    with pytest.raises(exc_type) as caught:
        await p.arun(run_id=run_id, **urls(tmp_path))
    assert type(caught.value) is exc_type  # unwrapped: not an exception group

    record = await stored(tmp_path, run_id)
    assert record.status == "cancelled"
    assert f"step 'boom' raised {exc_type.__name__}" in (record.run.error or "")
    assert record.step("boom").status == "failed"
    assert exc_type.__name__ in (record.step("boom").error or "")
    assert record.step("waiting").status == "cancelled"


# --------------------------------------------------------------------------- callbacks


async def test_an_async_on_event_callback_is_awaited_in_order(tmp_path: Path) -> None:
    seen: list[str] = []

    async def on_event(ev: Event) -> None:
        await asyncio.sleep(0)  # a real await: the callback is a coroutine, run to its end
        seen.append(ev.type)

    @step
    async def a() -> int:
        return 1

    result = await Pipeline("cb").add_step(a).arun(on_event=on_event, **urls(tmp_path))
    assert result.success
    assert seen == ["run_started", "step_started", "step_succeeded", "run_finished"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_raising_callback_is_logged_and_the_run_is_kept(
    tmp_path: Path, is_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def bad(ev: Event) -> None:
        if ev.type == "step_started":
            raise ValueError("callback bug")

    async def abad(ev: Event) -> None:
        bad(ev)

    @step
    async def a() -> int:
        return 1

    with caplog.at_level(logging.ERROR, logger="flowyml"):
        result = await (
            Pipeline("cb-raise")
            .add_step(a)
            .arun(on_event=abad if is_async else bad, **urls(tmp_path))
        )
    assert result.success
    assert "callback bug" in caplog.text
    assert (await stored(tmp_path, result.run_id)).status == "succeeded"
    assert (await run_finished_of(tmp_path, result.run_id)).status == "succeeded"


# --------------------------------------------------------------------------- nothing hangs


async def test_a_timed_out_sync_step_fails_while_its_thread_runs_on(tmp_path: Path) -> None:
    release = threading.Event()

    @step(timeout=0.2)
    def stuck() -> int:
        release.wait()  # blocks until the test lets it go: the run must not wait for it
        return 1

    try:
        result = await Pipeline("stuck").add_step(stuck).arun(**urls(tmp_path))
    finally:
        release.set()
    assert result.status == "failed"
    assert "timed out after 0.2 s" in str(result.step_results["stuck"].error)
    assert (await stored(tmp_path, result.run_id)).status == "failed"
