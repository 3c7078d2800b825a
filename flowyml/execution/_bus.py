"""In-process fan-out of committed events to subscribers (the server's live feed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..storage._records import EventRecord

__all__ = ("EventHub", "Subscription")


class Subscription:
    """A bounded queue of :class:`EventRecord` for one consumer.

    If the consumer falls more than ``maxsize`` events behind, the subscription is closed
    with ``overflowed = True`` (iteration ends); the consumer then resynchronises from the
    store's event log.  A slow consumer never slows the executor.
    """

    def __init__(self, hub: EventHub, run_id: str | None, maxsize: float) -> None:
        self.run_id = run_id
        self.overflowed = False
        self._hub = hub
        send: MemoryObjectSendStream[EventRecord]
        recv: MemoryObjectReceiveStream[EventRecord]
        send, recv = anyio.create_memory_object_stream[EventRecord](maxsize)
        self._send, self._recv = send, recv

    def _offer(self, record: EventRecord) -> None:
        try:
            self._send.send_nowait(record)
        except anyio.WouldBlock:
            self.overflowed = True
            self._send.close()
            self._hub._subs.discard(self)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._hub._subs.discard(self)

    async def receive(self) -> EventRecord:
        """The next record; raises ``anyio.EndOfStream`` once closed or overflowed."""
        return await self._recv.receive()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> EventRecord:
        try:
            return await self._recv.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving."""
        self._hub._subs.discard(self)
        self._send.close()
        self._recv.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventHub:
    """Publishes committed event records to every live subscription."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def subscribe(self, run_id: str | None = None, maxsize: float = 1000) -> Subscription:
        """Subscribe to all runs' events, or one run's; ``maxsize`` bounds the backlog."""
        sub = Subscription(self, run_id, math.inf if maxsize is None else maxsize)
        self._subs.add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are live."""
        return len(self._subs)

    def publish(self, records: Sequence[EventRecord]) -> None:
        """Offer ``records`` to every subscription without waiting."""
        if not self._subs:
            return
        for sub in list(self._subs):
            rid = sub.run_id
            for rec in records:
                if rid is None or rec.event.run_id == rid:
                    sub._offer(rec)
                    if sub.overflowed:
                        break
