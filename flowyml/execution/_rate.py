"""Limits on starting a step's attempts: concurrency (per run and per step) and rate.

``@step(rate_limit="50/s")`` spaces the starts of a step's attempts (all its map
elements and retries together) at least 1/50 s apart.  Spacing instead of a bucket of
tokens means no burst: any window of one second holds at most 50 starts, whatever the
load.  The pacer of a step is shared by every run on the same event loop (an
:class:`anyio.lowlevel.RunVar`), so two concurrent runs of a crawler stay polite
together; it is held weakly by step, so it goes away with the step.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

__all__ = ("Limits", "Pacer", "pacer_for")

#: the slot of an attempt that no bound applies to
_NO_BOUND: AbstractAsyncContextManager[object] = contextlib.nullcontext()

T = TypeVar("T")

_pacers: anyio.lowlevel.RunVar[weakref.WeakKeyDictionary[Any, Pacer]] = anyio.lowlevel.RunVar(
    "flowyml_pacers"
)


class Pacer:
    """Hands out start times at least ``interval`` seconds apart, first come first served.

    :param interval: the least time between two starts, in seconds
    :param clock: the current time (anyio's clock by default; tests pass a fake one)
    :param sleep: waits a number of seconds
    """

    __slots__ = ("_clock", "_next", "_sleep", "interval")

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf

    async def wait(self) -> None:
        """Wait for this caller's turn to start.

        The turn is taken when the call is made, so callers start in call order; a caller
        cancelled while waiting leaves its turn unused (the limit errs on the polite side).
        """
        now = self._clock()
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await self._sleep(at - now)


def pacer_for(step: Any, per_second: float) -> Pacer:
    """The pacer of ``step`` on the current event loop (created on first use)."""
    try:
        pacers = _pacers.get()
    except LookupError:
        pacers = weakref.WeakKeyDictionary()
        _pacers.set(pacers)
    pacer = pacers.get(step)
    if pacer is None or pacer.interval != 1.0 / per_second:
        pacer = pacers[step] = Pacer(1.0 / per_second)
    return pacer


class Limits:
    """A run's bounds on running step attempts.

    An attempt takes, in this order, a slot of its step's ``max_concurrency`` (so that
    attempts waiting for their step hold no slot of the run), a slot of the run's
    ``max_concurrency``, then its turn under the step's ``rate_limit``.  Every attempt
    goes through here, retries included.
    """

    __slots__ = ("_steps", "run")

    def __init__(self, max_concurrency: int | None) -> None:
        self.run = anyio.CapacityLimiter(max_concurrency) if max_concurrency else None
        self._steps: dict[str, anyio.CapacityLimiter] = {}

    def element_window(self, step: Any) -> int | None:
        """How many elements of mapped ``step`` to keep alive at once (``None``: all).

        Twice the tightest bound, so that elements storing their outputs (outside the
        limiters) do not leave the bound idle.
        """
        bounds = [b for b in (step.max_concurrency, self.run and self.run.total_tokens) if b]
        return 2 * int(min(bounds)) if bounds else None

    def slot(self, step: Any) -> AbstractAsyncContextManager[object]:
        """A slot for one attempt of ``step``, held with ``async with`` around its call.

        In the common cases (no bound, or only the run's) this is a plain context
        manager, with no coroutine of flowyml's around the step's own: each one would
        cost every element of a large map.
        """
        if step.max_concurrency is None and step.per_second is None:
            return self.run if self.run is not None else _NO_BOUND
        return self._slot(step)

    @contextlib.asynccontextmanager
    async def _slot(self, step: Any) -> AsyncIterator[None]:
        limiter: AbstractAsyncContextManager[object] = _NO_BOUND
        if step.max_concurrency is not None:
            limiter = self._steps.get(step.name) or self._steps.setdefault(
                step.name, anyio.CapacityLimiter(step.max_concurrency)
            )
        async with limiter, self.run or _NO_BOUND:
            if step.per_second is not None:
                await pacer_for(step, step.per_second).wait()
            yield

    async def call(self, step: Any, call: Callable[[], Awaitable[T]]) -> T:
        """Await ``call()`` within the step's and the run's limits."""
        async with self.slot(step):
            return await call()
