"""One tailer reads the store's event log and fans it out to every live SSE client.

The store log is the single source: every client sees events in store-id order, exactly
once, whether they were written by a run in this process (the in-process hub wakes the
tailer at once) or by another process (the tailer polls).  Each client has a bounded
buffer; a client that falls behind is dropped from the fan-out and resynchronises from the
store by itself (see :mod:`flowyml.server._sse`), so nobody waits for a slow reader.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from sse_starlette.event import ServerSentEvent

from ..errors import StoreError
from ..events import encode_event
from ..execution._bus import EventHub
from ..storage._protocols import MetadataStore
from ..storage._records import EventRecord

__all__ = ("Client", "EventFanout", "Frame", "frame_of")

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


@dataclass(slots=True, eq=False)
class Client:
    """One SSE connection's bounded buffer of frames newer than ``position``.

    ``position`` is the tailer's cursor when the client joined: every event with a larger
    id is offered to the buffer; older ones the client reads from the store itself.
    """

    run_id: str | None
    position: int
    send: MemoryObjectSendStream[Frame]
    recv: MemoryObjectReceiveStream[Frame]
    overflowed: bool = False

    def close(self) -> None:
        """Release both ends of the buffer."""
        self.send.close()
        self.recv.close()


@dataclass(slots=True, eq=False)
class EventFanout:
    """Tails ``store.events_after(cursor)`` and offers new frames to every client.

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
    overflows: int = 0
    _global: set[Client] = field(default_factory=set)
    _by_run: dict[str, set[Client]] = field(default_factory=dict)
    _wake: anyio.Event = field(default_factory=anyio.Event)

    # ------------------------------------------------------------------ clients
    @property
    def client_count(self) -> int:
        """How many clients currently receive live frames."""
        return len(self._global) + sum(len(s) for s in self._by_run.values())

    def join(self, run_id: str | None) -> Client:
        """Register a client (all runs when ``run_id`` is ``None``) at the current cursor.

        Synchronous on purpose: no event can slip between reading the cursor and joining.
        """
        send, recv = anyio.create_memory_object_stream[Frame](self.buffer)
        client = Client(run_id=run_id, position=self.cursor, send=send, recv=recv)
        if run_id is None:
            self._global.add(client)
        else:
            self._by_run.setdefault(run_id, set()).add(client)
        return client

    def leave(self, client: Client) -> None:
        """Unregister ``client`` and close its buffer (idempotent)."""
        if client.run_id is None:
            self._global.discard(client)
        else:
            members = self._by_run.get(client.run_id)
            if members is not None:
                members.discard(client)
                if not members:
                    del self._by_run[client.run_id]
        client.close()

    def _offer(self, client: Client, frame: Frame) -> None:
        try:
            client.send.send_nowait(frame)
        except anyio.WouldBlock:
            # The client fell ``buffer`` frames behind: stop feeding it.  Closing the send
            # side lets it drain what it has, then see the end and resync from the store.
            client.overflowed = True
            self.overflows += 1
            self._drop(client)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._drop(client)

    def _drop(self, client: Client) -> None:
        if client.run_id is None:
            self._global.discard(client)
        else:
            members = self._by_run.get(client.run_id)
            if members is not None:
                members.discard(client)
                if not members:
                    del self._by_run[client.run_id]
        client.send.close()

    def dispatch(self, frames: list[Frame]) -> None:
        """Offer ``frames`` (in id order) to the clients that want them, without waiting."""
        for frame in frames:
            if frame.id <= self.cursor:
                continue
            self.cursor = frame.id
            for client in list(self._global):
                self._offer(client, frame)
            members = self._by_run.get(frame.run_id)
            if members:
                for client in list(members):
                    self._offer(client, frame)

    def close_all(self) -> None:
        """End every client's stream (the server is stopping)."""
        clients = list(self._global) + [c for s in self._by_run.values() for c in s]
        self._global.clear()
        self._by_run.clear()
        for client in clients:
            client.send.close()

    # ------------------------------------------------------------------ tailing
    def poke(self) -> None:
        """Read the log now (something was committed)."""
        self._wake.set()

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
