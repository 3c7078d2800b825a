"""Event -> row changes: the projection rules, written once for every metadata store.

:func:`project` turns a batch of events into a list of row operations (``Op``).  The
in-memory store applies them one by one; the SQL stores turn each kind of operation
into one statement and use :func:`plan` to send a whole batch as a few ``executemany``
calls.  Step-run changes are *upserts* with a per-column rule (``STEP_RULES``), so a
step the ``run_started`` event did not list still gets a row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal

import msgspec

from ...events import (
    ArtifactRef,
    Event,
    RunFinished,
    RunStarted,
    StepCached,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)

__all__ = (
    "ARTIFACT_COLUMNS",
    "CACHE_COLUMNS",
    "FUSED",
    "LINEAGE_COLUMNS",
    "RUN_COLUMNS",
    "STEP_COLUMNS",
    "STEP_RULES",
    "CloseSteps",
    "FinishRun",
    "InsertArtifact",
    "InsertCache",
    "InsertRun",
    "Op",
    "Rule",
    "UpsertLineage",
    "UpsertStep",
    "event_tag",
    "project",
    "runs_needing_pipeline",
)

RUN_COLUMNS: Final = (
    "run_id",
    "pipeline",
    "status",
    "params",
    "started_at",
    "pid",
    "host",
    "resumed_from",
    "steps_total",
)
STEP_COLUMNS: Final = (
    "run_id",
    "step",
    "pos",
    "status",
    "attempts",
    "started_at",
    "finished_at",
    "duration",
    "cache_key",
    "cached_from",
    "error",
    "error_type",
    "traceback",
    "inputs",
    "outputs",
)
ARTIFACT_COLUMNS: Final = (
    "id",
    "name",
    "run_id",
    "step",
    "uri",
    "type_name",
    "materializer",
    "size",
    "content_hash",
    "created_at",
    "metadata",
)
LINEAGE_COLUMNS: Final = ("run_id", "step", "param", "artifact_id")
CACHE_COLUMNS: Final = ("cache_key", "run_id", "step", "pipeline", "outputs", "created_at")

#: How an upsert treats an existing row's column: ``set`` takes the new value, ``keep``
#: keeps the old value unless it is NULL, ``fill`` takes the new value unless it is NULL.
Rule = Literal["set", "keep", "fill"]

#: the kind of the upsert that applies a ``step_started`` and its ``step_succeeded`` at once
FUSED: Final = "started+succeeded"

_SUCCEEDED: Final[Mapping[str, Rule]] = {
    "status": "set",
    "attempts": "set",
    "started_at": "keep",
    "finished_at": "set",
    "duration": "set",
    "outputs": "set",
    "cache_key": "fill",
    "error": "set",
}

#: Step-run upserts by event tag; ``pending`` (from ``run_started``) only inserts.
STEP_RULES: Final[Mapping[str, Mapping[str, Rule]]] = {
    "pending": {},
    "step_started": {
        "status": "set",
        "attempts": "set",
        "started_at": "keep",
        "inputs": "set",
        "cache_key": "fill",
    },
    "step_retrying": {"status": "set", "attempts": "set", "error": "set"},
    "step_succeeded": _SUCCEEDED,
    "step_cached": {
        "status": "set",
        "attempts": "set",
        "started_at": "keep",
        "finished_at": "set",
        "duration": "set",
        "outputs": "set",
        "cache_key": "fill",
        "cached_from": "set",
        "inputs": "fill",
        "error": "set",
    },
    "step_failed": {
        "status": "set",
        "attempts": "set",
        "started_at": "keep",
        "finished_at": "set",
        "duration": "set",
        "error": "set",
        "error_type": "set",
        "traceback": "set",
    },
    "step_skipped": {"status": "set", "error": "set", "finished_at": "set"},
    # A step's ``step_started`` and ``step_succeeded`` in one batch, as one upsert (see
    # ``_plan.fuse``): the second one's rules, plus the first one's ``inputs``.
    FUSED: {**_SUCCEEDED, "inputs": "set"},
}

_json: Final = msgspec.json.Encoder()


def _dumps(value: Any) -> str:
    if not value and type(value) is dict:
        return "{}"
    return _json.encode(value).decode()


def event_tag(event: Event) -> str:
    """The ``type`` tag of an event (``"run_started"``, ...)."""
    return str(event.__struct_config__.tag)


class InsertRun(msgspec.Struct, frozen=True, gc=False):
    """Insert a run row (``RUN_COLUMNS``) unless it exists."""

    row: tuple[Any, ...]


class UpsertStep(msgspec.Struct, frozen=True, gc=False):
    """Insert a step-run row (``STEP_COLUMNS``) or update it by ``STEP_RULES[kind]``."""

    kind: str
    row: tuple[Any, ...]


class FinishRun(msgspec.Struct, frozen=True, gc=False):
    """Set a run's final status."""

    run_id: str
    status: str
    finished_at: float
    duration: float
    error: str | None


class CloseSteps(msgspec.Struct, frozen=True, gc=False):
    """Give every pending/running/retrying step run of ``run_id`` the status ``status``."""

    run_id: str
    status: str


class InsertArtifact(msgspec.Struct, frozen=True, gc=False):
    """Insert an artifact row (``ARTIFACT_COLUMNS``) unless its id exists."""

    row: tuple[Any, ...]


class UpsertLineage(msgspec.Struct, frozen=True, gc=False):
    """Record that a step run consumed an artifact as parameter ``param``."""

    row: tuple[str, str, str, str]


class InsertCache(msgspec.Struct, frozen=True, gc=False):
    """Insert a cache entry (``CACHE_COLUMNS``) unless it exists."""

    row: tuple[Any, ...]


Op = InsertRun | UpsertStep | FinishRun | CloseSteps | InsertArtifact | UpsertLineage | InsertCache

OPEN_STEP_STATUSES: Final = ("pending", "running", "retrying")
_CLOSE_STATUS: Final = {"cancelled": "cancelled", "interrupted": "interrupted"}


def _step_row(
    run_id: str,
    step: str,
    *,
    pos: int | None = None,
    status: str | None = None,
    attempts: int = 0,
    started_at: float | None = None,
    finished_at: float | None = None,
    duration: float | None = None,
    cache_key: str | None = None,
    cached_from: str | None = None,
    error: str | None = None,
    error_type: str | None = None,
    traceback: str | None = None,
    inputs: str | None = None,
    outputs: str | None = None,
) -> tuple[Any, ...]:
    """A ``step_runs`` row in ``STEP_COLUMNS`` order."""
    return (
        run_id,
        step,
        pos,
        status,
        attempts,
        started_at,
        finished_at,
        duration,
        cache_key,
        cached_from,
        error,
        error_type,
        traceback,
        inputs,
        outputs,
    )


def _artifact_row(ref: ArtifactRef, run_id: str, step: str, ts: float) -> tuple[Any, ...]:
    return (
        ref.id,
        ref.name,
        run_id,
        step,
        ref.uri,
        ref.type_name,
        ref.materializer,
        ref.size,
        ref.content_hash,
        ts,
        _dumps(ref.metadata),
    )


def runs_needing_pipeline(events: Iterable[Event], known: Mapping[str, str]) -> set[str]:
    """Run ids whose pipeline name :func:`project` needs but neither the batch nor ``known`` has."""
    started = {ev.run_id for ev in events if isinstance(ev, RunStarted)}
    return {
        ev.run_id
        for ev in events
        if isinstance(ev, StepSucceeded)
        and ev.cache_key
        and ev.run_id not in started
        and ev.run_id not in known
    }


def project(events: Sequence[Event], pipelines: Mapping[str, str]) -> list[Op]:
    """Return the row operations that apply ``events``, in event order.

    :param pipelines: pipeline name of runs whose ``run_started`` is not in this batch
        (needed for cache entries); runs started in the batch are looked up in it
    """
    names = dict(pipelines)
    ops: list[Op] = []
    for ev in events:
        if isinstance(ev, RunStarted):
            names[ev.run_id] = ev.pipeline
        rule = _RULES.get(type(ev))
        if rule is not None:
            ops.extend(rule(ev, names))
    return ops


def _run_started(ev: RunStarted, names: Mapping[str, str]) -> Iterator[Op]:
    run_id = ev.run_id
    params = _dumps(ev.params)
    yield InsertRun(
        (
            run_id,
            ev.pipeline,
            "running",
            params,
            ev.ts,
            ev.pid,
            ev.host,
            ev.resumed_from,
            len(ev.steps),
        )
    )
    for pos, name in enumerate(ev.steps):
        yield UpsertStep("pending", _step_row(run_id, name, pos=pos, status="pending"))


def _step_started(ev: StepStarted, names: Mapping[str, str]) -> Iterator[Op]:
    row = _step_row(
        ev.run_id,
        ev.step,
        status="running",
        attempts=ev.attempt,
        started_at=ev.ts,
        inputs=_dumps(ev.inputs),
        cache_key=ev.cache_key,
    )
    yield UpsertStep("step_started", row)
    for param, aid in ev.inputs.items():
        yield UpsertLineage((ev.run_id, ev.step, param, aid))


def _step_retrying(ev: StepRetrying, names: Mapping[str, str]) -> Iterator[Op]:
    row = _step_row(ev.run_id, ev.step, status="retrying", attempts=ev.attempt, error=ev.error)
    yield UpsertStep("step_retrying", row)


def _step_succeeded(ev: StepSucceeded, names: Mapping[str, str]) -> Iterator[Op]:
    for ref in ev.outputs.values():
        yield InsertArtifact(_artifact_row(ref, ev.run_id, ev.step, ev.ts))
    outputs = _dumps({name: ref.id for name, ref in ev.outputs.items()})
    row = _step_row(
        ev.run_id,
        ev.step,
        status="succeeded",
        attempts=ev.attempt,
        started_at=ev.ts - ev.duration,
        finished_at=ev.ts,
        duration=ev.duration,
        outputs=outputs,
        cache_key=ev.cache_key,
    )
    yield UpsertStep("step_succeeded", row)
    if ev.cache_key:
        pipeline = names.get(ev.run_id, "")
        yield InsertCache((ev.cache_key, ev.run_id, ev.step, pipeline, outputs, ev.ts))


def _step_cached(ev: StepCached, names: Mapping[str, str]) -> Iterator[Op]:
    producer = ev.source_run_id or ev.run_id
    for ref in ev.outputs.values():
        yield InsertArtifact(_artifact_row(ref, producer, ev.step, ev.ts))
    row = _step_row(
        ev.run_id,
        ev.step,
        status="cached",
        attempts=ev.attempt,
        started_at=ev.ts,
        finished_at=ev.ts,
        duration=0.0,
        outputs=_dumps({name: ref.id for name, ref in ev.outputs.items()}),
        cache_key=ev.cache_key or None,
        cached_from=ev.source_run_id,
        inputs=_dumps(ev.inputs) if ev.inputs else None,
    )
    yield UpsertStep("step_cached", row)
    for param, aid in ev.inputs.items():
        yield UpsertLineage((ev.run_id, ev.step, param, aid))


def _step_failed(ev: StepFailed, names: Mapping[str, str]) -> Iterator[Op]:
    row = _step_row(
        ev.run_id,
        ev.step,
        status="failed",
        attempts=ev.attempt,
        started_at=ev.ts - ev.duration,
        finished_at=ev.ts,
        duration=ev.duration,
        error=ev.error,
        error_type=ev.error_type,
        traceback=ev.traceback,
    )
    yield UpsertStep("step_failed", row)


def _step_skipped(ev: StepSkipped, names: Mapping[str, str]) -> Iterator[Op]:
    row = _step_row(ev.run_id, ev.step, status="skipped", error=ev.reason, finished_at=ev.ts)
    yield UpsertStep("step_skipped", row)


def _run_finished(ev: RunFinished, names: Mapping[str, str]) -> Iterator[Op]:
    yield FinishRun(ev.run_id, ev.status, ev.ts, ev.duration, ev.error)
    yield CloseSteps(ev.run_id, _CLOSE_STATUS.get(ev.status, "skipped"))


#: the row operations of each kind of event (events without rows, e.g. ``step_log``
#: lines, which have their own table, are not listed)
_RULES: Final[Mapping[type, Callable[[Any, Mapping[str, str]], Iterator[Op]]]] = {
    RunStarted: _run_started,
    StepStarted: _step_started,
    StepRetrying: _step_retrying,
    StepSucceeded: _step_succeeded,
    StepCached: _step_cached,
    StepFailed: _step_failed,
    StepSkipped: _step_skipped,
    RunFinished: _run_finished,
}
