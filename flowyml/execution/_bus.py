"""Bounded broadcast: one publisher, many subscribers, and a slow subscriber is dropped.

Both live feeds of flowyml are a :class:`Broadcast`: the runtime's :data:`EventHub` carries
the committed event records of this process's runs, and the server's fan-out
(:mod:`flowyml.server._fanout`) carries SSE frames read from the store's event log.

Publishing never waits.  Each subscriber has a bounded buffer; one that falls more than
its bound behind is dropped: its buffer is closed (it still reads what is in it, then the
iteration ends) with ``overflowed = True``, and the consumer resynchronises from the store,
which holds every event.  So a slow reader never slows a run, nor any other reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..storage._records import EventRecord

__all__ = ("Broadcast", "EventHub", "Subscriber")

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class Subscriber(Generic[T]):
    """One consumer's bounded buffer of published items.

    Iterate it (or call :meth:`receive`) until it ends: that happens when the consumer
    closes it, when the broadcast closes every subscriber, or when it overflowed (then
    :attr:`overflowed` is ``True``).
    """

    topic: str | None
    _owner: Broadcast[T]
    _send: MemoryObjectSendStream[T]
    _recv: MemoryObjectReceiveStream[T]
    overflowed: bool = False

    async def receive(self) -> T:
        """The next item; raises ``anyio.EndOfStream`` once the subscriber has ended."""
        return await self._recv.receive()

    def receive_nowait(self) -> T:
        """The next buffered item; raises ``anyio.WouldBlock`` if none is buffered yet, or
        ``anyio.EndOfStream`` once the subscriber has ended."""
        return self._recv.receive_nowait()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._recv.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving (idempotent)."""
        self._owner._remove(self)
        self._send.close()
        self._recv.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Broadcast(Generic[T]):
    """Offers every published item to the subscribers of its topic and to those of all
    topics, in publication order, without waiting.

    :param topic_of: the topic of an item (a run id)
    :param maxsize: the default bound of a subscriber's buffer
    """

    __slots__ = ("_all", "_by_topic", "maxsize", "overflows", "topic_of")

    def __init__(self, topic_of: Callable[[T], str], maxsize: float = 1000) -> None:
        self.topic_of = topic_of
        self.maxsize = maxsize
        #: subscribers dropped because they fell behind, since the broadcast was created
        self.overflows = 0
        self._all: set[Subscriber[T]] = set()
        self._by_topic: dict[str, set[Subscriber[T]]] = {}

    def subscribe(self, topic: str | None = None, maxsize: float | None = None) -> Subscriber[T]:
        """A new subscriber to one topic's items, or to every item when ``topic`` is ``None``.

        Synchronous on purpose: it receives everything published after this call returns.

        :param maxsize: items it may have pending before it is dropped (``math.inf``: never)
        """
        bound = self.maxsize if maxsize is None else maxsize
        send, recv = anyio.create_memory_object_stream[T](bound)
        sub = Subscriber(topic, self, send, recv)
        if topic is None:
            self._all.add(sub)
        else:
            self._by_topic.setdefault(topic, set()).add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are live."""
        return len(self._all) + sum(len(s) for s in self._by_topic.values())

    def publish(self, items: Iterable[T]) -> None:
        """Offer ``items``, in order, to every subscriber that wants them."""
        for item in items:
            if self._all:
                self._offer(self._all, item)
            if self._by_topic:
                members = self._by_topic.get(self.topic_of(item))
                if members:
                    self._offer(members, item)

    def _offer(self, subs: set[Subscriber[T]], item: T) -> None:
        for sub in list(subs):
            try:
                sub._send.send_nowait(item)
            except anyio.WouldBlock:
                # Fell a whole buffer behind: stop feeding it.  Closing only the send side
                # lets it drain what it has, see the end and resync from the store.
                sub.overflowed = True
                self.overflows += 1
                self._remove(sub)
                sub._send.close()
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._remove(sub)  # the consumer left

    def _remove(self, sub: Subscriber[T]) -> None:
        if sub.topic is None:
            self._all.discard(sub)
            return
        members = self._by_topic.get(sub.topic)
        if members is not None:
            members.discard(sub)
            if not members:
                del self._by_topic[sub.topic]

    def close_all(self) -> None:
        """End every subscriber: each reads what it has buffered, then its iteration ends."""
        subs = [*self._all, *(s for members in self._by_topic.values() for s in members)]
        self._all.clear()
        self._by_topic.clear()
        for sub in subs:
            sub._send.close()


def _run_of(record: EventRecord) -> str:
    return record.event.run_id


class EventHub(Broadcast[EventRecord]):
    """The committed event records of this process's runs; a record's topic is its run id.

    The runtime owns one; each run's event writer publishes what it committed.
    """

    __slots__ = ()

    def __init__(self, maxsize: float = 1000) -> None:
        super().__init__(_run_of, maxsize)
