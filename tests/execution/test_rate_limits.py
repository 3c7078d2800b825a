"""``@step(rate_limit=...)`` and ``@step(max_concurrency=...)``."""

from __future__ import annotations

import anyio
import pytest

from flowyml import StepContext, pipeline, step
from flowyml.errors import StepDefinitionError
from flowyml.execution._rate import Pacer


class FakeClock:
    """A clock that moves only when a waiter sleeps (so waits cost no real time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake_at = self.now + seconds
        await anyio.lowlevel.checkpoint()  # the sleepers resume in the order they slept
        self.now = max(self.now, wake_at)


async def test_the_pacer_allows_at_most_the_rate_in_any_window() -> None:
    clock = FakeClock()
    pacer = Pacer(1 / 50, clock=clock.time, sleep=clock.sleep)
    starts: list[float] = []

    async def start() -> None:
        await pacer.wait()
        starts.append(clock.time())

    async with anyio.create_task_group() as tg:
        for _ in range(500):
            tg.start_soon(start)
    assert len(starts) == 500
    for t in starts:  # every one-second window [t, t + 1) holds at most 50 starts
        assert sum(1 for u in starts if t <= u < t + 1 - 1e-9) <= 50
    assert max(starts) >= 499 / 50 - 1e-9  # so 500 starts take at least 9.98 s


@pytest.mark.parametrize(
    ("text", "per_second"), [("50/s", 50.0), ("3000/min", 50.0), ("36 / h", 0.01)]
)
def test_rate_limit_texts(text: str, per_second: float) -> None:
    @step(rate_limit=text)
    async def fetch(x: int) -> int:
        return x

    assert fetch.per_second == pytest.approx(per_second)
    assert fetch.options()["rate_limit"] == text


@pytest.mark.parametrize("bad", ["50", "50/day", "0/s", "-1/s", 50])
def test_a_bad_rate_limit_names_the_step_and_the_option(bad: object) -> None:
    with pytest.raises(StepDefinitionError, match=r"step 'fetch': rate_limit must be"):

        @step(rate_limit=bad)  # type: ignore[call-overload,untyped-decorator]
        async def fetch(x: int) -> int:
            return x


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_a_bad_max_concurrency_names_the_step(bad: object) -> None:
    with pytest.raises(StepDefinitionError, match=r"step 'fetch': max_concurrency must be"):

        @step(max_concurrency=bad)  # type: ignore[call-overload,untyped-decorator]
        async def fetch(x: int) -> int:
            return x


async def test_concurrent_runs_and_retries_share_one_step_rate() -> None:
    # 20 starts per second: the 12 attempts below (3 elements x 2 runs x 2 attempts) take
    # at least 11 intervals of 50 ms from the moment the runs begin, however fast the
    # machine; an unpaced run would start them all at once.
    starts: list[float] = []

    @step
    async def items(n: int) -> list[int]:
        return list(range(n))

    @step(rate_limit="20/s", retries=1)
    async def fetch(x: int, ctx: StepContext) -> int:
        starts.append(anyio.current_time())
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return x

    @pipeline(persist=False)
    def crawl(n: int = 3):  # type: ignore[no-untyped-def]
        return fetch.map(items(n))

    t0 = anyio.current_time()
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(crawl.arun)
            tg.start_soon(crawl.arun)
    assert len(starts) == 12
    assert max(starts) - t0 >= 11 * 0.05 - 1e-6


async def test_step_max_concurrency_bounds_one_step_within_the_run() -> None:
    running = peak = 0
    gate = anyio.Event()

    @step
    async def items(n: int) -> list[int]:
        return list(range(n))

    @step(max_concurrency=2)
    async def slow(x: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 2:
            gate.set()
        await gate.wait()  # the first two meet here: two really run at once
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        running -= 1
        return x

    @step
    async def free(x: int) -> int:
        return x

    @pipeline(persist=False, max_concurrency=50)
    def both(n: int = 20):  # type: ignore[no-untyped-def]
        numbers = items(n)
        return slow.map(numbers), free.map(numbers)

    with anyio.fail_after(10):
        result = await both.arun()
    assert result.success
    assert peak == 2
    assert result["slow"] == list(range(20)) == result["free"]
