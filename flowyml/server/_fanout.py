"""One tailer reads the store's event log and broadcasts it to every live SSE client.

The store log is the single source: every client sees events in store-id order, exactly
once, whether they were written by a run in this process or by another process.  The
tailer is a subscriber of the runtime's :class:`~flowyml.execution._bus.EventHub`, so a
commit in this process wakes it at once; otherwise it polls.  It encodes each event as an
SSE frame once and publishes the frames on a :class:`~flowyml.execution._bus.Broadcast`
of its own, the same bounded broadcast as the hub: a client that falls a buffer behind is
dropped and resynchronises from the store by itself (see :mod:`flowyml.server._sse`), so
nobody waits for a slow reader.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anyio
from sse_starlette.event import ServerSentEvent

from ..errors import StoreError
from ..events import encode_event
from ..execution._bus import Broadcast, EventHub, Subscriber
from ..storage._protocols import MetadataStore
from ..storage._records import EventRecord

__all__ = ("EventFanout", "Frame", "frame_of")

log = logging.getLogger("flowyml.server")


@dataclass(slots=True, frozen=True)
class Frame:
    """A stored event, encoded once as an SSE frame for every client."""

    id: int
    run_id: str
    type: str
    data: bytes


def frame_of(record: EventRecord) -> Frame:
    """Encode ``record`` as ``id: <store id>`` / ``event: <tag>`` / ``data: <json>``."""
    ev = record.event
    tag = type(ev).__struct_config__.tag
    kind = tag if isinstance(tag, str) else str(tag)
    payload = encode_event(ev).decode()
    sse = ServerSentEvent(payload, event=kind, id=str(record.id))
    return Frame(id=record.id, run_id=ev.run_id, type=kind, data=sse.encode())


def _run_of(frame: Frame) -> str:
    return frame.run_id


@dataclass(slots=True, eq=False)
class EventFanout:
    """Tails ``store.events_after(cursor)`` and broadcasts new frames to every client.

    :param store: the metadata store whose event log is tailed
    :param hub: the runtime's in-process hub; its publications wake the tailer at once
    :param cursor: the id of the newest event already in the log when serving started
    :param poll_interval: seconds between reads when nothing woke the tailer
    :param buffer: frames a client may have pending before it is dropped
    """

    store: MetadataStore
    hub: EventHub
    cursor: int
    poll_interval: float = 0.25
    buffer: int = 1000
    page: int = 1000
    store_ok: bool = True
    clients: Broadcast[Frame] = field(init=False)
    _wake: anyio.Event = field(default_factory=anyio.Event)

    def __post_init__(self) -> None:
        self.clients = Broadcast(_run_of, self.buffer)

    # ------------------------------------------------------------------ clients
    @property
    def client_count(self) -> int:
        """How many clients currently receive live frames."""
        return self.clients.subscriber_count

    @property
    def overflows(self) -> int:
        """How many clients were dropped because they fell behind."""
        return self.clients.overflows

    def join(self, run_id: str | None) -> tuple[Subscriber[Frame], int]:
        """A client of one run's frames (all runs' when ``run_id`` is ``None``), and the
        cursor it joined at: it receives every frame with a larger id.

        Synchronous on purpose: no frame can slip between reading the cursor and joining.
        """
        return self.clients.subscribe(run_id), self.cursor

    def dispatch(self, frames: list[Frame]) -> None:
        """Broadcast the ``frames`` (in id order) newer than the cursor, without waiting."""
        fresh = [f for f in frames if f.id > self.cursor]
        if fresh:
            self.cursor = fresh[-1].id
            self.clients.publish(fresh)

    def close_all(self) -> None:
        """End every client's stream (the server is stopping)."""
        self.clients.close_all()

    # ------------------------------------------------------------------ tailing
    async def run(self) -> None:
        """Tail the log forever; a failing store is retried with backoff, never fatal."""
        delay = 0.1
        while True:
            self._wake = anyio.Event()
            try:
                records = await self.store.events_after(self.cursor, limit=self.page)
            except Exception as exc:  # the tailer must outlive any store failure
                if self.store_ok:
                    log.warning(
                        "reading the event log of %s failed: %s; retrying",
                        self.store.url,
                        exc,
                        exc_info=not isinstance(exc, StoreError),
                    )
                self.store_ok = False
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if not self.store_ok:
                log.warning("the event log of %s is readable again", self.store.url)
            self.store_ok = True
            delay = 0.1
            if records:
                self.dispatch([frame_of(r) for r in records])
            if len(records) >= self.page:
                continue  # more is waiting: do not sleep
            with anyio.move_on_after(self.poll_interval):
                await self._wake.wait()

    async def watch_hub(self) -> None:
        """Wake the tailer whenever a run of this process commits events."""
        while True:
            sub = self.hub.subscribe(None, maxsize=10_000)
            async with sub:
                async for _ in sub:
                    self._wake.set()
            # Overflowed (this task starved for a while): read the log and listen again.
            self._wake.set()
