"""Rows of the metadata store, as they cross the store's boundary."""

from __future__ import annotations

from typing import Any

import msgspec

from ..events import Event, RunStatus, StepStatus

__all__ = (
    "ArtifactRecord",
    "EventRecord",
    "Lineage",
    "LogRecord",
    "PipelineRecord",
    "RunPage",
    "RunRecord",
    "StepRunPage",
    "StepRunRecord",
    "decode_step_cursor",
    "encode_step_cursor",
)


class PipelineRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A pipeline as last registered: its DAG (``Dag.to_dict()``) and code version."""

    name: str
    dag: dict[str, Any]
    code_version: str
    created_at: float
    updated_at: float


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One run of a pipeline.  ``seq`` is a store-wide increasing number (the page cursor)."""

    run_id: str
    pipeline: str
    status: RunStatus
    params: dict[str, Any]
    started_at: float
    finished_at: float | None = None
    duration: float | None = None
    pid: int = 0
    host: str = ""
    resumed_from: str | None = None
    error: str | None = None
    heartbeat_at: float | None = None
    seq: int = 0
    steps_total: int = 0
    steps_done: int = 0
    steps_cached: int = 0
    steps_failed: int = 0
    tags: list[str] = []


class StepRunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One step inside one run.  ``inputs``/``outputs`` map names to artifact ids."""

    run_id: str
    step: str
    status: StepStatus
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    inputs: dict[str, str] = {}
    outputs: dict[str, str] = {}


class ArtifactRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored value: produced by ``(run_id, step)`` under output ``name``."""

    id: str
    name: str
    run_id: str
    step: str
    uri: str
    type_name: str
    materializer: str
    size: int
    content_hash: str
    created_at: float
    metadata: dict[str, Any] = {}


class Lineage(msgspec.Struct, frozen=True, kw_only=True):
    """Where an artifact came from and where it went.

    ``producer`` is the step run that wrote it, ``inputs`` the artifacts that step
    consumed (upstream), ``consumers`` the step runs that read it, and ``derived``
    the artifacts those consumers produced (downstream).
    """

    artifact: ArtifactRecord
    producer: StepRunRecord | None
    inputs: list[ArtifactRecord]
    consumers: list[StepRunRecord]
    derived: list[ArtifactRecord]


class EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An event as stored in the log, with its store-wide increasing ``id``."""

    id: int
    event: Event


class RunPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of runs, newest first; pass ``next_cursor`` back to get the next page."""

    items: list[RunRecord]
    next_cursor: int | None = None


class StepRunPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of one run's step runs in run order; pass ``next_cursor`` back for more."""

    items: list[StepRunRecord]
    next_cursor: str | None = None


def encode_step_cursor(pos: int | None, step: str) -> str:
    """The opaque cursor after the step run at ``(pos, step)`` in run order."""
    return f"{'' if pos is None else pos}:{step}"


def decode_step_cursor(cursor: str) -> tuple[int | None, str]:
    """``(pos, step)`` of a cursor made by :func:`encode_step_cursor`.

    :raises ValueError: when ``cursor`` was not made by :func:`encode_step_cursor`
    """
    head, sep, step = cursor.partition(":")
    if not sep or not step or (head and not head.isdigit()):
        raise ValueError(f"{cursor!r} is not a step cursor; pass back a next_cursor unchanged")
    return (int(head) if head else None), step


class LogRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line a step logged while it ran (see ``Client.logs``).

    ``seq`` increases in the order lines were stored, across the whole store: pass the last
    one seen as ``since`` to read only newer lines.  ``line`` numbers the lines of one
    attempt from 1.
    """

    seq: int
    run_id: str
    step: str
    attempt: int
    line: int
    created_at: float
    level: str
    logger: str
    message: str
