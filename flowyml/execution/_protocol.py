"""The executor plug point: where a step's function actually runs."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

__all__ = ("Executor",)


@runtime_checkable
class Executor(Protocol):
    """Runs step functions for a run; orchestration, events and stores stay in the driver.

    The default (no executor) runs async steps on the event loop and sync steps in worker
    threads.  An executor is entered (``async with``) once per run.
    """

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...

    async def run_step(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], *, is_async: bool, name: str
    ) -> Any:
        """Call ``fn(**kwargs)`` (awaiting it when ``is_async``) and return its value.

        Cancellation of the calling task must stop waiting promptly.
        """
