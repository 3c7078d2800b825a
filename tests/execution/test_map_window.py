"""Mapped elements are started lazily: under a concurrency bound only a window of them
is alive at once, whatever the map's length."""

from __future__ import annotations

import anyio
import pytest

from flowyml import pipeline, step
from flowyml.events import Event, StepStarted, StepSucceeded
from flowyml.execution._spawn import start_windowed


async def test_start_windowed_keeps_at_most_window_tasks_alive_in_order() -> None:
    alive = peak = 0
    started: list[int] = []

    async def element(i: int) -> None:
        nonlocal alive, peak
        alive += 1
        peak = max(peak, alive)
        started.append(i)
        for _ in range(i % 3 + 1):
            await anyio.lowlevel.checkpoint()
        alive -= 1

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await start_windowed(tg, element, 500, 7)
    assert peak == 7
    assert started == list(range(500))


async def test_start_windowed_refuses_an_empty_window() -> None:
    async with anyio.create_task_group() as tg:
        with pytest.raises(ValueError, match="window must be at least 1"):
            await start_windowed(tg, anyio.sleep, 3, 0)


async def test_a_bounded_map_starts_elements_as_others_finish() -> None:
    in_flight = peak = 0

    def track(event: Event) -> None:
        nonlocal in_flight, peak
        if isinstance(event, StepStarted) and event.step.startswith("work["):
            in_flight += 1
            peak = max(peak, in_flight)
        elif isinstance(event, StepSucceeded) and event.step.startswith("work["):
            in_flight -= 1

    @step
    async def items(n: int) -> list[int]:
        return list(range(n))

    @step
    async def work(x: int) -> int:
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        return x + 1

    @pipeline(persist=False, max_concurrency=3)
    def bounded(n: int = 300):  # type: ignore[no-untyped-def]
        return work.map(items(n))

    with anyio.fail_after(10):
        result = await bounded.arun(on_event=track)
    assert result["work"] == [x + 1 for x in range(300)]
    # Twice the bound at most (elements storing outputs hold no slot of the limiter);
    # started all up front, the 300 would all be in flight at once.
    assert 3 <= peak <= 6
