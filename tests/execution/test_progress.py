"""``ctx.progress(done, total)``: ``step_progress`` events for live displays."""

from __future__ import annotations

import pytest

from flowyml import Pipeline, StepContext, step
from flowyml.definition import _context
from flowyml.events import Event, StepProgress, decode_event, encode_event


@pytest.mark.parametrize("is_async", [True, False])
async def test_progress_reports_become_events_of_the_attempt(
    is_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_context, "PROGRESS_INTERVAL", 0.0)  # keep every report

    def work(ctx: StepContext) -> int:
        for done in range(1, 4):
            ctx.progress(done, 3)
        return 3

    async def awork(ctx: StepContext) -> int:
        return work(ctx)

    fn = awork if is_async else work
    events: list[Event] = []
    p = Pipeline("progress", persist=False).add_step(step(name="crunch")(fn))
    result = await p.arun(on_event=events.append)
    assert result.success
    reports = [e for e in events if isinstance(e, StepProgress)]
    assert [(e.step, e.attempt, e.done, e.total) for e in reports] == [
        ("crunch", 1, 1, 3),
        ("crunch", 1, 2, 3),
        ("crunch", 1, 3, 3),
    ]
    assert decode_event(encode_event(reports[0])) == reports[0]


async def test_close_reports_are_dropped_except_the_first_and_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_context, "PROGRESS_INTERVAL", 3600.0)

    @step
    async def crunch(ctx: StepContext) -> int:
        for done in range(1, 101):
            ctx.progress(done, 100)
        ctx.progress(7)  # no total: not the last, dropped
        return 100

    events: list[Event] = []
    result = await Pipeline("few", persist=False).add_step(crunch).arun(on_event=events.append)
    assert result.success
    assert [(e.done, e.total) for e in events if isinstance(e, StepProgress)] == [
        (1, 100),
        (100, 100),
    ]


async def test_progress_is_recorded_in_the_event_log(tmp_path: object) -> None:
    @step
    async def crunch(ctx: StepContext) -> int:
        ctx.progress(1, 1)
        return 1

    p = Pipeline("logged", store=f"sqlite:///{tmp_path}/m.db").add_step(crunch)
    result = await p.arun()
    from flowyml import Client, Runtime

    async with Runtime(store=f"sqlite:///{tmp_path}/m.db") as rt, Client(runtime=rt) as client:
        types = [e.event.type for e in await client.events(result.run_id)]
        detail = await client.get_run(result.run_id)
    assert "step_progress" in types
    assert detail.step("crunch").status == "succeeded"  # progress changes no step row


@pytest.mark.parametrize(
    ("done", "total", "error"),
    [(-1, None, ValueError), (1, 0, ValueError), ("1", None, TypeError), (1, True, TypeError)],
)
def test_bad_progress_names_the_argument(done: object, total: object, error: type) -> None:
    ctx = StepContext("r", "s", 1, "p")
    with pytest.raises(error, match="done|total"):
        ctx.progress(done, total)  # type: ignore[arg-type]
