"""Live event streams over server-sent events.

``GET /api/events`` streams every run's events from now on (or after ``Last-Event-ID``);
``GET /api/runs/{run_id}/events`` replays one run from its start (or after
``Last-Event-ID``), then follows it live and ends after its ``run_finished``.  A browser
that opens a new ``EventSource`` (a fresh SSE ticket) resumes with ``?last_event_id=``.

A stream joins the tailer's fan-out first and only then reads the store up to the
position it joined at, so nothing slips between the replay and the live part, and ids
at or below the last one sent are skipped: every event arrives once, in store order.  A
stream whose buffer overflowed is dropped by the tailer; it reads the store from its own
last id and joins again.  sse-starlette races the stream against client disconnect and
sends keep-alive pings.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Header, Path, Query
from sse_starlette.sse import EventSourceResponse

from ..errors import NotFoundError, StoreError
from ..events import TERMINAL_STATUSES
from ..execution._bus import Subscriber
from ..storage._records import EventRecord
from ._deps import ServerDep
from ._errors import api_router, documented
from ._fanout import EventFanout, Frame, frame_of
from ._service import FlowymlServer

__all__ = ("event_frames", "live", "replay", "router")

router = api_router()

log = logging.getLogger("flowyml.server")

PAGE = 500
#: most frames written to a client in one chunk
BATCH = 256
_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A text/event-stream: `id:` store event id, `event:` the event's tag, "
        "`data:` the event as JSON",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
LAST_EVENT_ID = Header(
    alias="Last-Event-ID", ge=0, le=2**62, description="Resume after this store event id"
)
#: The same cursor as ``?last_event_id=``: a browser that opens a *new* ``EventSource``
#: (with a fresh SSE ticket) cannot set the header, so it names its last id in the URL.
#: The header wins when both are sent (a browser's own reconnect sends the newer id there).
#: Not in the OpenAPI document: the header is the documented way, this is its spelling
#: for browsers.
LAST_EVENT_ID_QUERY = Query(alias="last_event_id", ge=0, le=2**62, include_in_schema=False)


async def _read(
    server: FlowymlServer, cursor: int, run_id: str | None, limit: int = PAGE
) -> list[EventRecord]:
    """A page of the log after ``cursor``; a failing store is retried (the stream waits)."""
    delay = 0.1
    while True:
        try:
            return await server.store.events_after(cursor, run_id=run_id, limit=limit)
        except StoreError as exc:
            if server.stopping.is_set():
                return []
            log.info("event stream waits for the store: %s", exc)
            await anyio.sleep(delay)
            delay = min(2 * delay, 2.0)


async def replay(
    server: FlowymlServer, run_id: str | None, cursor: int, until: int | None = None
) -> AsyncIterator[Frame]:
    """Frames from the store with ``cursor < id`` (and ``id <= until``), oldest first."""
    while True:
        records = await _read(server, cursor, run_id)
        for rec in records:
            if until is not None and rec.id > until:
                return
            cursor = rec.id
            yield frame_of(rec)
        if len(records) < PAGE:
            return


def _drain(first: Frame, client: Subscriber[Frame]) -> list[Frame]:
    """``first`` and whatever else is already buffered (up to ``BATCH`` frames)."""
    frames = [first]
    while len(frames) < BATCH:
        try:
            frames.append(client.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            break
    return frames


async def live(
    client: Subscriber[Frame], cursor: int, run_id: str | None
) -> AsyncIterator[tuple[bytes, int, bool]]:
    """``(chunk, cursor, finished)`` for the frames the fan-out hands ``client``.

    A burst that is already buffered goes out as one chunk (one write for many events);
    ids at or below ``cursor`` (sent by the replay) are skipped.  Ends when the fan-out
    stops feeding the client, or after the run's ``run_finished``.
    """
    async for first in client:
        chunk: list[bytes] = []
        finished = False
        for frame in _drain(first, client):
            if frame.id <= cursor:
                continue
            cursor = frame.id
            chunk.append(frame.data)
            if run_id is not None and frame.type == "run_finished":
                finished = True
                break
        if chunk:
            yield b"".join(chunk), cursor, finished
        if finished:
            return


async def event_frames(
    server: FlowymlServer, *, run_id: str | None, after: int | None, finished: bool = False
) -> AsyncGenerator[bytes, None]:
    """SSE frames of one stream (see the module docstring).

    :param run_id: one run's events, or every run's when ``None``
    :param after: send only events with a larger id; ``None`` starts live (all runs) or
        at the run's first event (one run)
    :param finished: the run already finished: replay from the store and stop
    """
    fanout: EventFanout = server.fanout
    cursor = 0 if after is None else after
    if finished and run_id is not None:
        async for frame in replay(server, run_id, cursor):
            yield frame.data
            if frame.type == "run_finished":
                return
        return
    client: Subscriber[Frame] | None = None
    try:
        if run_id is None and after is None:
            client, cursor = fanout.join(None)
            # "Live" means committed after the client arrived: the tailer may still be
            # behind the log (a loaded machine), so skip what was already there.
            with contextlib.suppress(StoreError):
                cursor = max(cursor, await server.store.last_event_id())
        while True:
            if client is None:
                client, joined_at = fanout.join(run_id)
                # Replay what the fan-out will not deliver: ids up to where we joined.
                async for frame in replay(server, run_id, cursor, until=joined_at):
                    cursor = frame.id
                    yield frame.data
                    if run_id is not None and frame.type == "run_finished":
                        return
            async for chunk, last, done in live(client, cursor, run_id):
                cursor = last
                yield chunk
                if done:
                    return
            if not client.overflowed:
                return  # the server is stopping
            client.close()
            client = None  # resynchronise from the store, then join again
    finally:
        if client is not None:
            client.close()


async def _clamp(server: FlowymlServer, header: int | None, query: int | None) -> int | None:
    """``Last-Event-ID`` (else ``?last_event_id=``), but never past the log's end (no id
    beyond it was ever sent)."""
    last_event_id = query if header is None else header
    if last_event_id is None:
        server.fanout  # noqa: B018 - answer 503 now if the server is not running
        return None
    return min(last_event_id, await server.store.last_event_id())


def _respond(server: FlowymlServer, frames: AsyncIterator[bytes]) -> EventSourceResponse:
    return EventSourceResponse(
        frames,
        ping=server.options.ping_interval,
        shutdown_event=server.streams_closing,
        shutdown_grace_period=1.0,
    )


@router.get(
    "/api/events",
    response_class=EventSourceResponse,
    responses=_SSE_DOC,
    summary="Live events of every run (SSE)",
)
async def all_events(
    server: ServerDep,
    last_event_id: Annotated[int | None, LAST_EVENT_ID] = None,
    last_event_id_query: Annotated[int | None, LAST_EVENT_ID_QUERY] = None,
) -> EventSourceResponse:
    """Every run's events from now on, or after ``Last-Event-ID``; never ends."""
    after = await _clamp(server, last_event_id, last_event_id_query)
    return _respond(server, event_frames(server, run_id=None, after=after))


@router.get(
    "/api/runs/{run_id}/events",
    response_class=EventSourceResponse,
    responses={**_SSE_DOC, **documented(e404="No such run")},
    summary="One run's events, replayed then live (SSE)",
)
async def run_events(
    server: ServerDep,
    run_id: Annotated[str, Path(min_length=1, max_length=200)],
    last_event_id: Annotated[int | None, LAST_EVENT_ID] = None,
    last_event_id_query: Annotated[int | None, LAST_EVENT_ID_QUERY] = None,
) -> EventSourceResponse:
    """The run's events from its start (or after ``Last-Event-ID``); ends after
    ``run_finished``."""
    run = await server.store.get_run(run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id!r} in {server.store_url}")
    finished = run.status in TERMINAL_STATUSES
    after = await _clamp(server, last_event_id, last_event_id_query)
    return _respond(server, event_frames(server, run_id=run_id, after=after, finished=finished))
