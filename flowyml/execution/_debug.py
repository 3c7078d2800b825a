"""``run(debug=True)``: steps one at a time, in the DAG's order, on the event loop, logged.

A debugging aid, not a way to run production work: a sync step is called on the event
loop's own thread (so ``breakpoint()`` and debuggers stop in the main thread), which
blocks the loop while it runs, and its ``timeout`` cannot interrupt it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self

import anyio

from ..results import StepResult
from ._core import TERMINAL
from ._protocol import Executor

__all__ = ("DebugExecutor", "StepTurns", "debugging")

log = logging.getLogger("flowyml.debug")


class StepTurns:
    """Lets a step start only once every step before it in the DAG's order has ended.

    The DAG's order is topological and otherwise follows definition order, so the lowest
    unfinished step always has its inputs: the run never waits on itself.
    """

    def __init__(self, results: Sequence[StepResult]) -> None:
        self._results = results
        self._first_open = 0  # every step before this one has ended
        self._changed = anyio.Event()

    def _is_turn(self, index: int) -> bool:
        results = self._results
        while self._first_open < index and results[self._first_open].status in TERMINAL:
            self._first_open += 1
        return self._first_open >= index

    @contextlib.asynccontextmanager
    async def turn(self, index: int) -> AsyncIterator[None]:
        """Wait for step ``index``'s turn; on leaving, wake the steps waiting for theirs."""
        while not self._is_turn(index):
            await self._changed.wait()
        try:
            yield
        finally:
            self._changed.set()
            self._changed = anyio.Event()


class DebugExecutor:
    """Calls each step function on the event loop (sync ones too), logging its call."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def run_step(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], *, is_async: bool, name: str
    ) -> Any:
        """Call ``fn(**kwargs)`` here, on the loop's thread."""
        shown = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())
        log.debug("step %r called with (%s)", name, shown)
        t0 = time.perf_counter()
        value = await fn(**kwargs) if is_async else fn(**kwargs)
        log.debug("step %r returned %s in %.3fs", name, _short(value), time.perf_counter() - t0)
        return value


@contextlib.contextmanager
def debugging(
    executor: Executor | None, on_event: Callable[[Any], Any] | None
) -> Iterator[tuple[Executor, Callable[[Any], Any]]]:
    """For a debug run: the executor (a :class:`DebugExecutor` unless one is given) and an
    ``on_event`` that also logs every event; ``flowyml.debug`` is shown meanwhile."""

    def logged(event: Any) -> Any:
        log.debug("%s", event)
        return None if on_event is None else on_event(event)

    with _shown():
        yield (DebugExecutor() if executor is None else executor), logged


@contextlib.contextmanager
def _shown() -> Iterator[None]:
    """Show ``flowyml.debug`` records on stderr for the run, unless logging is set up
    to show them already; undone afterwards."""
    if log.isEnabledFor(logging.DEBUG) and log.hasHandlers():
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s flowyml debug: %(message)s"))
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False  # shown once, here
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
