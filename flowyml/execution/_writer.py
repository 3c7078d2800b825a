"""One writer task per run: batches events into few store transactions (group commit)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio

from ..errors import StoreError
from ..events import Event
from ..storage._protocols import MetadataStore
from ..storage._records import EventRecord
from ._bus import EventHub

__all__ = ("HEARTBEAT_SECONDS", "EventWriter", "heartbeat")

log = logging.getLogger("flowyml")


class EventWriter:
    """Queue events without waiting; a background task commits them in batches.

    :meth:`submit` never blocks the executor.  :meth:`run` (started in the run's task group)
    commits whatever accumulated since the last transaction in one ``append_events`` call,
    then publishes the committed records (with their store ids) to the hub.  :meth:`flush`
    waits until everything submitted so far is committed.
    """

    def __init__(
        self,
        store: MetadataStore,
        hub: EventHub,
        *,
        max_batch: int = 2000,
        linger: float = 0.002,
        on_failure: Callable[[StoreError], None] | None = None,
    ) -> None:
        self._store = store
        self._on_failure = on_failure
        self._hub = hub
        self._max_batch = max_batch
        self._pending: list[Event] = []
        self._wake = anyio.Event()
        self._submitted = 0
        self._committed = 0
        self._progress = anyio.Event()
        self._closed = False
        self._closing = anyio.Event()
        self._linger = linger
        self._error: BaseException | None = None
        #: how long a store outage is ridden out before the run's persistence fails
        self.retry_for = 60.0

    def submit(self, event: Event) -> None:
        """Queue ``event`` for the next transaction."""
        self._pending.append(event)
        self._submitted += 1
        if not self._wake.is_set():
            self._wake.set()

    async def run(self) -> None:
        """Commit batches until :meth:`close` (cancel-safe between batches)."""
        while True:
            await self._wake.wait()
            if self._linger and not self._closed and len(self._pending) < self._max_batch:
                # Group commit: let a few more events arrive so one transaction carries
                # many steps.  Closing (end of run) cuts the wait short.
                with anyio.move_on_after(self._linger):
                    await self._closing.wait()
            self._wake = anyio.Event()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: len(batch)]
                await self._commit(batch)
            if self._closed:
                return

    async def _commit(self, batch: list[Event]) -> None:
        """Commit ``batch``; while the store is unavailable, retry with capped backoff
        (events wait in memory) for up to :attr:`retry_for` seconds, then give up.  An
        error that is not transient (a corrupted file, a failed login) gives up at once."""
        delay = 0.05
        deadline = anyio.current_time() + self.retry_for
        attempt = 0
        while True:
            attempt += 1
            try:
                ids = await self._store.append_events(batch)
                break
            except StoreError as exc:
                if not exc.transient or anyio.current_time() + delay > deadline:
                    log.error("metadata store write failed for good: %s", exc)
                    self._error = exc
                    self._committed += len(batch)
                    self._signal()
                    if self._on_failure is not None:
                        self._on_failure(exc)
                    return
                log.warning("metadata store write failed (attempt %d): %s", attempt, exc)
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._committed += len(batch)
        if self._hub.subscriber_count:  # else no one to tell (a map's 200,000 records)
            self._hub.publish([EventRecord(id=i, event=e) for i, e in zip(ids, batch, strict=True)])
        self._signal()

    def _signal(self) -> None:
        self._progress.set()
        self._progress = anyio.Event()

    async def flush(self) -> None:
        """Wait until every submitted event is committed; re-raise a persistent store error."""
        target = self._submitted
        while self._committed < target:
            await self._progress.wait()
        if self._error is not None:
            raise self._error

    async def drain(self) -> None:
        """Commit whatever is pending from the calling task (after :meth:`run` was cancelled)."""
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: len(batch)]
            await self._commit(batch)
        if self._error is not None:
            raise self._error

    async def close(self) -> None:
        """Flush and let :meth:`run` return."""
        self._closed = True
        self._closing.set()
        self._wake.set()
        await self.flush()


HEARTBEAT_SECONDS = 10.0


async def heartbeat(store: MetadataStore, run_id: str) -> None:
    """Tell ``store`` every :data:`HEARTBEAT_SECONDS` that the run is alive (until
    cancelled), so that a run whose process died can be told from a running one."""
    while True:
        await anyio.sleep(HEARTBEAT_SECONDS)
        try:
            await store.heartbeat([run_id], time.time())
        except StoreError as exc:
            log.warning("heartbeat for run %s failed: %s", run_id, exc)
