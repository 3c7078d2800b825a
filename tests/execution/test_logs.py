"""Step logs: what a step logs is captured per attempt, in order, without touching the
user's logging configuration."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from flowyml import Pipeline, StepContext, step
from flowyml.events import Event, StepLog

user_log = logging.getLogger("tests.user")


def _lines(events: list[Event], step_name: str) -> list[str]:
    return [
        ln.message
        for ev in events
        if isinstance(ev, StepLog) and ev.step == step_name
        for ln in ev.lines
    ]


async def _run(p: Pipeline) -> list[Event]:
    events: list[Event] = []
    with anyio.fail_after(20):
        await p.arun(persist=False, on_event=events.append)
    return events


@pytest.fixture
def root_records() -> Iterator[list[logging.LogRecord]]:
    """A handler of the user's own on the root logger (as logging.basicConfig adds)."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_concurrent_async_steps_keep_their_own_lines() -> None:
    a_started, b_started = anyio.Event(), anyio.Event()

    @step
    async def a(ctx: StepContext) -> int:
        a_started.set()
        await b_started.wait()  # both run at once from here on
        for i in range(50):
            ctx.logger.info("a %d", i)
            await anyio.lowlevel.checkpoint()
        return 1

    @step
    async def b(ctx: StepContext) -> int:
        b_started.set()
        await a_started.wait()
        for i in range(50):
            user_log.warning("b %d", i)
            await anyio.lowlevel.checkpoint()
        return 2

    events = await _run(Pipeline("two", persist=False).add_step(a).add_step(b))
    assert _lines(events, "a") == [f"a {i}" for i in range(50)]
    assert _lines(events, "b") == [f"b {i}" for i in range(50)]


async def test_concurrent_sync_steps_in_threads_keep_their_own_lines() -> None:
    barrier = threading.Barrier(2, timeout=10)

    @step
    def a(ctx: StepContext) -> int:
        barrier.wait()
        for i in range(200):
            ctx.logger.info("a %d", i)
        return 1

    @step
    def b() -> int:
        barrier.wait()
        for i in range(200):
            user_log.warning("b %d", i)
        return 2

    events = await _run(Pipeline("threads", persist=False).add_step(a).add_step(b))
    assert _lines(events, "a") == [f"a {i}" for i in range(200)]
    assert _lines(events, "b") == [f"b {i}" for i in range(200)]


async def test_lines_come_in_batches_not_one_event_per_line() -> None:
    @step
    async def chatty(ctx: StepContext) -> None:
        for i in range(5000):
            ctx.logger.info("line %d", i)

    events = await _run(Pipeline("chatty", persist=False).add_step(chatty))
    batches = [ev for ev in events if isinstance(ev, StepLog)]
    assert _lines(events, "chatty") == [f"line {i}" for i in range(5000)]
    assert len(batches) <= 5  # at most 1,000 lines per event
    assert [ln.line for ev in batches for ln in ev.lines] == list(range(1, 5001))


async def test_lines_beyond_the_cap_are_dropped_with_a_marker() -> None:
    @step(max_log_lines=5)
    def noisy(ctx: StepContext) -> None:
        for i in range(12):
            ctx.logger.info("n %d", i)

    events = await _run(Pipeline("cap", persist=False).add_step(noisy))
    lines = _lines(events, "noisy")
    assert lines[:5] == [f"n {i}" for i in range(5)]
    assert len(lines) == 6 and lines[5].startswith("7 more log lines dropped")


async def test_each_attempt_is_numbered() -> None:
    @step(retries=1)
    def flaky(ctx: StepContext) -> int:
        ctx.logger.info("try %d", ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("first try fails")
        return 1

    events = await _run(Pipeline("retry", persist=False).add_step(flaky))
    got = [(ev.attempt, ln.message) for ev in events if isinstance(ev, StepLog) for ln in ev.lines]
    assert got == [(1, "try 1"), (2, "try 2")]


async def test_an_abandoned_attempt_logging_late_adds_nothing_to_any_log() -> None:
    go, late_done = threading.Event(), threading.Event()

    @step(retries=1, timeout=0.3)
    def stuck_once(ctx: StepContext) -> int:
        ctx.logger.info("try %d", ctx.attempt)
        if ctx.attempt == 1:  # times out; its thread runs on into the second attempt
            go.wait(10)
            ctx.logger.info("late from the first try")
            user_log.warning("late, through logging")
            late_done.set()
            return 0
        go.set()
        assert late_done.wait(10)
        ctx.logger.info("second try done")
        return 2

    events = await _run(Pipeline("late", persist=False).add_step(stuck_once))
    got = [(ev.attempt, ln.message) for ev in events if isinstance(ev, StepLog) for ln in ev.lines]
    assert got == [(1, "try 1"), (2, "try 2"), (2, "second try done")]


async def test_capture_output_keeps_prints_of_that_step_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @step(capture_output=True)
    def talks() -> int:
        print("to the log")
        print("also", "to the log", file=sys.stderr)
        print("a last line", end="")
        return 1

    @step
    def plain(talks: int) -> int:
        print("to the terminal")
        return talks

    events = await _run(Pipeline("print", persist=False).add_step(talks).add_step(plain))
    captured = [
        (ln.logger, ln.message) for ev in events if isinstance(ev, StepLog) for ln in ev.lines
    ]
    assert captured == [
        ("stdout", "to the log"),
        ("stderr", "also to the log"),
        ("stdout", "a last line"),
    ]
    out = capsys.readouterr()
    assert "to the terminal" in out.out and "to the log" not in out.out + out.err
    assert type(sys.stdout).__name__ != "_OutputRouter"  # put back after the step


async def test_user_logging_is_left_as_it_was(root_records: list[logging.LogRecord]) -> None:
    root = logging.getLogger()
    handlers_before = list(root.handlers)

    @step
    def logs(ctx: StepContext) -> None:
        ctx.logger.info("from the step")
        user_log.info("from the user's logger")

    events = await _run(Pipeline("config", persist=False).add_step(logs))
    assert _lines(events, "logs") == ["from the step", "from the user's logger"]
    # The user's handler saw both records, as without flowyml; nothing was left behind.
    assert [
        r.getMessage() for r in root_records if r.name.startswith(("tests", "flowyml.step"))
    ] == [
        "from the step",
        "from the user's logger",
    ]
    assert root.handlers == handlers_before and root.level == logging.INFO
    assert logging.getLogger("flowyml.step").level == logging.NOTSET
    # Records that went through logging name the step's own line, not flowyml's.
    step_record = next(r for r in root_records if r.name == "flowyml.step.logs")
    assert step_record.pathname == __file__ and step_record.funcName == "logs"


async def test_ctx_logger_is_kept_without_any_logging_configuration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @step
    def quiet_config(ctx: StepContext) -> None:
        ctx.logger.debug("not kept: below INFO")
        ctx.logger.info("kept %s", "anyway")
        try:
            raise KeyError("k")
        except KeyError:
            ctx.logger.exception("with a traceback")

    caplog.set_level(logging.WARNING)  # the user's configuration drops INFO
    events = await _run(Pipeline("quiet-config", persist=False).add_step(quiet_config))
    lines = _lines(events, "quiet_config")
    assert lines[0] == "kept anyway"
    assert lines[1].startswith("with a traceback\nTraceback") and "KeyError: 'k'" in lines[1]
    assert len(lines) == 2
    # ...and logging only got what its configuration asked for.
    assert [r.getMessage() for r in caplog.records] == ["with a traceback"]


async def test_records_outside_steps_are_not_captured() -> None:
    @step
    async def quiet() -> int:
        return 1

    events = await _run(Pipeline("quiet", persist=False).add_step(quiet))
    user_log.warning("not from a step")
    assert not [ev for ev in events if isinstance(ev, StepLog)]


async def test_concurrent_printing_steps_keep_their_own_output() -> None:
    barrier = threading.Barrier(2, timeout=10)

    def printer(tag: str) -> Any:
        def fn() -> str:
            barrier.wait()
            for i in range(100):
                print(tag, i)
            return tag

        return step(name=tag, capture_output=True)(fn)

    p = Pipeline("printers", persist=False).add_step(printer("left")).add_step(printer("right"))
    events = await _run(p)
    assert _lines(events, "left") == [f"left {i}" for i in range(100)]
    assert _lines(events, "right") == [f"right {i}" for i in range(100)]
