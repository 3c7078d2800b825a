"""Tell the run's own cancellation apart from a step cancelling itself.

Only the run's cancel scopes (its ``cancel()``, a step's timeout, ``fail_fast``, Ctrl-C)
mean "cancelled".  A ``CancelledError`` that comes out of a step's own code (it called
``asyncio.current_task().cancel()``, raised ``CancelledError`` itself, or a library it
called did) is a stray: left alone, it would end the step's task as if the run had been
cancelled, and the task group would take the run down with it.  The runner turns a stray
into that step's failure (:class:`~flowyml.errors.StepCancelledError`).

flowyml runs on anyio's asyncio backend; a stray ``task.cancel()`` also leaves a count on
the asyncio task (``Task.cancelling()``), which is taken back here so that later
cancellations of the run are delivered as usual.
"""

from __future__ import annotations

import asyncio
import math

import anyio

__all__ = ("CancelGuard", "run_cancelled")


def run_cancelled() -> bool:
    """Whether a cancel scope around the current task was cancelled (a real cancel)."""
    return anyio.current_effective_deadline() == -math.inf


class CancelGuard:
    """Remembers the current task's cancel count; recognises strays after a step's call."""

    __slots__ = ("_base", "_task")

    def __init__(self) -> None:
        self._task = asyncio.current_task()
        self._base = self._task.cancelling() if self._task is not None else 0

    def is_stray(self) -> bool:
        """Call while handling a ``CancelledError``: ``True`` if the run did not ask for it
        (the task's stray cancel requests are then withdrawn)."""
        if run_cancelled():
            return False
        self._withdraw()
        return True

    def cancel_requested(self) -> bool:
        """Whether the task's cancel count grew since the guard was made (cheap check)."""
        task = self._task
        return task is not None and task.cancelling() > self._base

    async def pending_stray(self) -> bool:
        """Call after a step returned: ``True`` if it asked for its own cancellation on the
        way (``task.cancel()`` with no ``await`` after it).  The request is absorbed here,
        so it does not hit the runner's next ``await``."""
        task = self._task
        if task is None or task.cancelling() <= self._base or run_cancelled():
            return False
        try:
            await asyncio.sleep(0)  # the pending CancelledError is delivered here
        except asyncio.CancelledError:
            if run_cancelled():
                raise
        self._withdraw()
        return True

    def _withdraw(self) -> None:
        task = self._task
        if task is not None:
            while task.cancelling() > self._base:
                task.uncancel()
