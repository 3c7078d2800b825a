"""Iterate a run's events while it runs: ``async with pipeline.stream() as events``."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio
from anyio.abc import TaskGroup

from ..events import Event

if TYPE_CHECKING:
    from ..results import PipelineResult

__all__ = ("RunStream",)


class RunStream:
    """Runs a pipeline in a background task and yields its events in order.

    After iteration ends (the run finished), :attr:`result` holds the
    :class:`~flowyml.PipelineResult`.  Leaving the ``async with`` block early cancels the run.
    """

    def __init__(
        self, arun: Callable[..., Awaitable[PipelineResult]], kwargs: dict[str, Any]
    ) -> None:
        self._arun = arun
        self._kwargs = kwargs
        self._user_cb = kwargs.pop("on_event", None)
        self._send, self._recv = anyio.create_memory_object_stream[Event](math.inf)
        self._tg: TaskGroup | None = None
        self.result: PipelineResult | None = None

    def _forward(self, ev: Event) -> Any:
        try:
            self._send.send_nowait(ev)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the consumer left; the run goes on (or is being cancelled)
        # The user's callback last: what it returns (an awaitable) the run awaits.
        return self._user_cb(ev) if self._user_cb is not None else None

    async def _run(self) -> None:
        with self._send:
            self.result = await self._arun(on_event=self._forward, **self._kwargs)

    async def __aenter__(self) -> Self:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._tg is not None
        if self.result is None:
            self._tg.cancel_scope.cancel()
        self._recv.close()
        return await self._tg.__aexit__(et, e, tb)

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._recv.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
