"""The storage plug points: metadata store, artifact store and materializers.

They are :class:`typing.Protocol` classes, so third parties implement them without
inheriting from flowyml.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from ..events import Event, RunStatus, StepStatus
from ._records import (
    ArtifactRecord,
    EventRecord,
    Lineage,
    LogRecord,
    PipelineRecord,
    RunPage,
    RunRecord,
    StepRunPage,
    StepRunRecord,
)

__all__ = ("ArtifactStore", "BlobInfo", "Materializer", "MetadataStore")


@runtime_checkable
class MetadataStore(Protocol):
    """Runs, step runs, artifacts, lineage and the event log.

    Writes go through :meth:`append_events` only: the store projects each event
    onto its run/step/artifact/lineage/cache rows in the same transaction that
    appends it to the log, so the rows can never disagree with the log.
    Implementations must be safe to share between concurrent tasks of one event loop.
    """

    url: str

    async def open(self) -> None:
        """Connect and migrate the schema.  Raises :class:`~flowyml.errors.StoreError`."""

    async def aclose(self) -> None:
        """Release connections.  Idempotent."""

    # writes ---------------------------------------------------------------------
    async def save_pipeline(self, record: PipelineRecord) -> None:
        """Insert or update the pipeline named ``record.name``."""

    async def append_events(self, events: Sequence[Event]) -> list[int]:
        """Append events in one transaction, update the derived rows, return the new ids."""

    async def heartbeat(self, run_ids: Sequence[str], ts: float) -> None:
        """Record that these runs' process is alive at ``ts``."""

    async def mark_interrupted(self, *, stale_after: float = 60.0) -> list[str]:
        """Finish ``running`` runs whose process is gone, as ``interrupted``; return their ids."""

    async def clear_cache(self, *, pipeline: str | None = None, step: str | None = None) -> int:
        """Forget cache entries (all, or a pipeline's, or one step's); return how many."""

    # reads ----------------------------------------------------------------------
    async def list_pipelines(self) -> list[PipelineRecord]: ...
    async def get_pipeline(self, name: str) -> PipelineRecord | None: ...
    async def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: int | None = None,
        tag: str | None = None,
    ) -> RunPage: ...
    async def get_run(self, run_id: str) -> RunRecord | None: ...
    async def list_step_runs(self, run_id: str) -> list[StepRunRecord]: ...
    async def list_step_runs_page(
        self,
        run_id: str,
        *,
        cursor: str | None = None,
        limit: int = 100,
        status: StepStatus | None = None,
        parent: str | None = None,
    ) -> StepRunPage:
        """Up to ``limit`` step runs after ``cursor``, in :meth:`list_step_runs` order.

        ``parent`` keeps the elements of one mapped step (``parent[0]``, ``parent[1]``, ...);
        ``next_cursor`` is ``None`` on the last page.  Raises ``ValueError`` for a cursor
        that no page returned.
        """

    async def get_step_run(self, run_id: str, step: str) -> StepRunRecord | None: ...
    async def get_artifact(self, artifact_id: str) -> ArtifactRecord | None: ...
    async def list_artifacts(
        self,
        *,
        run_id: str | None = None,
        name: str | None = None,
        step: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ArtifactRecord]: ...
    async def lineage(self, artifact_id: str) -> Lineage | None: ...
    async def events_after(
        self, cursor: int, *, run_id: str | None = None, limit: int = 1000
    ) -> list[EventRecord]: ...
    async def last_event_id(self) -> int: ...
    async def list_logs(
        self, run_id: str, *, step: str | None = None, since: int | None = None, limit: int = 1000
    ) -> list[LogRecord]:
        """A run's log lines (of one step, if given) with ``seq > since``, oldest first."""

    async def lookup_cache(
        self, cache_key: str, *, max_age: float | None = None
    ) -> tuple[str, dict[str, ArtifactRecord]] | None:
        """Return ``(run_id, outputs)`` of the newest entry for ``cache_key``, or ``None``."""


class BlobInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Where :meth:`ArtifactStore.put` stored some bytes."""

    uri: str
    content_hash: str
    size: int


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed bytes on an async fsspec filesystem."""

    url: str

    async def open(self) -> None: ...
    async def aclose(self) -> None: ...
    async def put(self, data: bytes) -> BlobInfo:
        """Store ``data`` atomically under its content hash (once); return where."""

    async def put_stream(self, chunks: AsyncIterator[bytes]) -> BlobInfo:
        """Like :meth:`put` for data too large to hold in memory."""

    async def get(self, uri: str) -> bytes: ...
    def stream(self, uri: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]: ...
    async def exists(self, uri: str) -> bool: ...


@runtime_checkable
class Materializer(Protocol):
    """Turns values of some types into bytes and back.

    ``name`` is recorded with each artifact so loading picks the same materializer.
    """

    name: str

    def can_handle(self, value: Any) -> bool: ...
    def dumps(self, value: Any) -> bytes: ...
    def loads(self, data: bytes, type_name: str) -> Any: ...
