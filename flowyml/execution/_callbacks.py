"""Deliver a run's events to the user's ``on_event`` callback, in order.

The callback may be a plain function or an ``async def`` (or any callable returning an
awaitable): awaitables are awaited one at a time, in event order, by a task beside the
steps, so a slow callback never holds a step back.  A callback that raises is logged (on
the ``flowyml`` logger, with its traceback) and the run goes on: the run's record never
depends on user code that only watches it.  The run returns once every event was
delivered.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ..events import Event

__all__ = ("EventCallback",)

log = logging.getLogger("flowyml")


class EventCallback:
    """Calls ``fn(event)`` for each event; awaits what it returns, if anything."""

    def __init__(self, fn: Callable[[Event], Any]) -> None:
        self._fn = fn
        self._pending: deque[tuple[Event, Awaitable[Any]]] = deque()
        self._wake = anyio.Event()
        self._idle = anyio.Event()
        self._idle.set()
        self._closed = False

    def __call__(self, event: Event) -> None:
        try:
            result = self._fn(event)
        except Exception:
            log.exception("on_event callback raised on %s; the run goes on", event.type)
            return
        if inspect.isawaitable(result):
            self._pending.append((event, result))
            self._idle = anyio.Event() if self._idle.is_set() else self._idle
            self._wake.set()

    async def run(self) -> None:
        """Await pending callbacks in order until :meth:`close` (started beside the steps)."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await self._deliver()
            if self._closed:
                return

    async def _deliver(self) -> None:
        while self._pending:
            event, awaitable = self._pending.popleft()
            try:
                await awaitable
            except Exception:
                log.exception("on_event callback raised on %s; the run goes on", event.type)
        self._idle.set()

    async def close(self) -> None:
        """Wait until every event so far was delivered, then let :meth:`run` return."""
        self._closed = True
        self._wake.set()
        await self._idle.wait()

    async def drain(self) -> None:
        """Deliver what is pending from the calling task (after :meth:`run` was cancelled)."""
        await self._deliver()

    def discard(self) -> None:
        """Close callbacks that will never be awaited (no "never awaited" warnings)."""
        while self._pending:
            _, awaitable = self._pending.popleft()
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()
