"""What every metadata store shares: lifecycle checks, URL masking, ``mark_interrupted``."""

from __future__ import annotations

import enum
import os
import socket
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

from ...errors import StoreError
from ...events import Event, RunFinished
from .._records import RunRecord

__all__ = ("StoreBase", "StoreState", "mask_url", "process_is_gone")


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{user}:***@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def process_is_gone(pid: int) -> bool:
    """Whether no process ``pid`` exists on this host (our own pid always exists)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class StoreState(enum.Enum):
    """Where a store is in its life: stores are opened once and never reused after closing."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class StoreBase:
    """Lifecycle bookkeeping and the backend-independent :meth:`mark_interrupted`.

    Subclasses implement ``_open``/``_close``, :meth:`append_events` and :meth:`_running_runs`.
    """

    url: str
    _state: StoreState = StoreState.UNOPENED

    async def _open(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    async def _running_runs(self) -> list[RunRecord]:
        raise NotImplementedError

    async def append_events(self, events: Sequence[Event]) -> list[int]:
        """Append events in one transaction, update the derived rows, return the new ids."""
        raise NotImplementedError

    async def _finish_running(self, events: Sequence[RunFinished]) -> list[str]:
        """Append the ``run_finished`` events of the runs still ``running``; return their ids.

        The check and the append must be one atomic step (one transaction under the
        writers' lock in SQL stores): two processes marking the same dead run at once
        must not both finish it.
        """
        raise NotImplementedError

    async def open(self) -> None:
        """Connect and bring the schema up to date.

        :raises StoreConnectionError: when the database cannot be reached
        :raises SchemaVersionError: when the database was written by a newer flowyml
        :raises StoreError: when the store was already opened
        """
        if self._state is not StoreState.UNOPENED:
            raise StoreError(
                f"metadata store {mask_url(self.url)} was already {self._state.value}; "
                f"create a new store with open_metadata_store() instead of reopening it"
            )
        await self._open()
        self._state = StoreState.OPEN

    async def aclose(self) -> None:
        """Release connections.  Idempotent."""
        if self._state is StoreState.OPEN:
            self._state = StoreState.CLOSED
            await self._close()
        else:
            self._state = StoreState.CLOSED

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._state is StoreState.OPEN:
            return
        if self._state is StoreState.UNOPENED:
            raise StoreError(
                f"metadata store {mask_url(self.url)} is not open; call `await store.open()` "
                f"(or use `async with store:`) first"
            )
        raise StoreError(
            f"metadata store {mask_url(self.url)} is closed; open a new one with "
            f"open_metadata_store()"
        )

    async def mark_interrupted(self, *, stale_after: float = 60.0) -> list[str]:
        """Finish ``running`` runs whose process is gone, as ``interrupted``; return their ids.

        A run's process is gone when it ran on this host and its pid no longer exists,
        or when it has not sent a heartbeat (or, never having sent one, started) for
        more than ``stale_after`` seconds.  Each such run gets one ``run_finished`` event,
        so the event log and live streams see it too (one, even when several processes
        mark it at the same moment).
        """
        self._check_open()
        now = time.time()
        host = socket.gethostname()
        events: list[RunFinished] = []
        for run in await self._running_runs():
            last_seen = run.heartbeat_at if run.heartbeat_at is not None else run.started_at
            local_dead = run.host == host and process_is_gone(run.pid)
            if local_dead or now - last_seen > stale_after:
                events.append(
                    RunFinished(
                        run_id=run.run_id,
                        ts=now,
                        status="interrupted",
                        duration=max(0.0, now - run.started_at),
                        error=f"process {run.pid} on {run.host} is gone",
                    )
                )
        if not events:
            return []
        # Another process may have finished some of them since they were read.
        return await self._finish_running(events)
