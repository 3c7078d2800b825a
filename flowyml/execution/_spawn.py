"""Start many tasks without holding them all at once.

A task that anyio has created but the event loop has not run yet costs about 3 KB (the
task, its coroutine, its cancel scope and bookkeeping).  When one step releases 100,000
dependents, or a map has 100,000 elements, starting them all in one go holds all of that
before the first one runs.  :class:`Starter` starts at most ``batch`` tasks, lets the loop
run them (no-op steps finish, the others reach their first ``await``), then starts the
next batch.  Order is kept (first ready, first started), and no step waits longer than it
would in the loop's own queue: the loop runs callbacks in FIFO order either way.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

__all__ = ("BATCH", "Starter", "start_windowed")

#: tasks started per loop iteration when more are waiting (small enough that the tasks
#: waiting to run stay few: with 64, a 100,000-wide fan-out still triggered full passes
#: of the cycle collector over the whole heap)
BATCH = 32

_Spawn = Callable[[Any], Coroutine[Any, Any, Any]]


class Starter:
    """Starts ``fn(item)`` tasks in ``tg``, in order, at most ``batch`` per loop iteration."""

    __slots__ = ("_batch", "_drained", "_queue", "_tg")

    def __init__(self, tg: anyio.abc.TaskGroup, batch: int = BATCH) -> None:
        self._tg = tg
        self._batch = batch
        self._queue: deque[tuple[_Spawn, Iterator[Any]]] = deque()
        self._drained: anyio.Event | None = None

    async def drained(self) -> None:
        """Wait until every task asked for so far has been started."""
        if self._drained is not None:
            await self._drained.wait()

    def start(self, fn: _Spawn, items: Iterable[Any]) -> None:
        """Start ``fn(item)`` for every item: the first batch now, the rest in turn."""
        it = iter(items)
        if self._queue:  # the feeder is running: keep first-come order
            self._queue.append((fn, it))
            return
        start_soon = self._tg.start_soon
        for item in itertools.islice(it, self._batch):  # nothing waiting: start right away
            start_soon(fn, item)
        for item in it:  # more than a batch: the feeder starts the rest in turn
            self._queue.append((fn, itertools.chain((item,), it)))
            self._drained = anyio.Event()
            start_soon(self._feed)
            break

    async def _feed(self) -> None:
        try:
            await self._feed_all()
        finally:
            if self._drained is not None:
                self._drained.set()

    async def _feed_all(self) -> None:
        queue = self._queue
        start_soon = self._tg.start_soon
        while queue:
            await anyio.lowlevel.checkpoint()  # let the last batch run first
            budget = self._batch
            while budget and queue:
                fn, it = queue[0]
                for item in it:
                    start_soon(fn, item)
                    budget -= 1
                    if not budget:
                        break
                else:
                    queue.popleft()


async def start_windowed(
    tg: anyio.abc.TaskGroup, fn: _Spawn, count: int, window: int, batch: int = BATCH
) -> None:
    """Start ``fn(0)`` ... ``fn(count - 1)`` in ``tg``, in order, with at most ``window``
    of them alive at once; return once the last one has been started.

    A mapped step under a concurrency bound of ``n`` can only run ``n`` elements at a
    time, so creating the other tasks early only holds their memory: a 1,000,000-element
    map keeps ``window`` tasks instead of a million.  At most ``batch`` tasks are started
    per loop iteration, as in :class:`Starter`.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    free = window
    wake: anyio.Event | None = None  # set while the loop below waits for a free place

    async def run(index: int) -> None:
        nonlocal free
        try:
            await fn(index)
        finally:
            free += 1
            if wake is not None:
                wake.set()

    start_soon = tg.start_soon
    index = 0
    while index < count:
        if not free:
            wake = anyio.Event()
            await wake.wait()
            wake = None
            continue
        n = min(free, batch, count - index)
        free -= n
        for i in range(index, index + n):
            start_soon(run, i)
        index += n
        await anyio.lowlevel.checkpoint()  # let the batch run before starting the next
