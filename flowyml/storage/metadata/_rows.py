"""Rows (tuples in the column order below) -> record structs; shared by every store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from ...events import decode_event
from .._records import ArtifactRecord, EventRecord, PipelineRecord, RunRecord, StepRunRecord
from ._projection import ARTIFACT_COLUMNS

__all__ = (
    "ARTIFACT_FIELDS",
    "PIPELINE_FIELDS",
    "RUN_FIELDS",
    "STEP_FIELDS",
    "artifact_record",
    "event_record",
    "pipeline_record",
    "run_record",
    "step_record",
)

RUN_FIELDS: Final = (
    "run_id",
    "pipeline",
    "status",
    "params",
    "started_at",
    "finished_at",
    "duration",
    "pid",
    "host",
    "resumed_from",
    "error",
    "heartbeat_at",
    "seq",
    "steps_total",
    "steps_done",
    "steps_cached",
    "steps_failed",
)
STEP_FIELDS: Final = (
    "run_id",
    "step",
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
ARTIFACT_FIELDS: Final = ARTIFACT_COLUMNS
PIPELINE_FIELDS: Final = ("name", "dag", "code_version", "created_at", "updated_at")

_objects: Final = msgspec.json.Decoder(dict[str, Any])
_ids: Final = msgspec.json.Decoder(dict[str, str])


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def run_record(r: Sequence[Any]) -> RunRecord:
    """Build a :class:`RunRecord` from a row in ``RUN_FIELDS`` order."""
    return RunRecord(
        run_id=r[0],
        pipeline=r[1],
        status=r[2],
        params=_objects.decode(r[3]),
        started_at=float(r[4]),
        finished_at=_opt_float(r[5]),
        duration=_opt_float(r[6]),
        pid=int(r[7]),
        host=r[8],
        resumed_from=r[9],
        error=r[10],
        heartbeat_at=_opt_float(r[11]),
        seq=int(r[12]),
        steps_total=int(r[13]),
        steps_done=int(r[14]),
        steps_cached=int(r[15]),
        steps_failed=int(r[16]),
    )


def step_record(r: Sequence[Any]) -> StepRunRecord:
    """Build a :class:`StepRunRecord` from a row in ``STEP_FIELDS`` order."""
    return StepRunRecord(
        run_id=r[0],
        step=r[1],
        status=r[2],
        attempts=int(r[3]),
        started_at=_opt_float(r[4]),
        finished_at=_opt_float(r[5]),
        duration=_opt_float(r[6]),
        cache_key=r[7],
        cached_from=r[8],
        error=r[9],
        error_type=r[10],
        traceback=r[11],
        inputs=_ids.decode(r[12]) if r[12] else {},
        outputs=_ids.decode(r[13]) if r[13] else {},
    )


def artifact_record(r: Sequence[Any]) -> ArtifactRecord:
    """Build an :class:`ArtifactRecord` from a row in ``ARTIFACT_FIELDS`` order."""
    return ArtifactRecord(
        id=r[0],
        name=r[1],
        run_id=r[2],
        step=r[3],
        uri=r[4],
        type_name=r[5],
        materializer=r[6],
        size=int(r[7]),
        content_hash=r[8],
        created_at=float(r[9]),
        metadata=_objects.decode(r[10]),
    )


def pipeline_record(r: Sequence[Any]) -> PipelineRecord:
    """Build a :class:`PipelineRecord` from a row in ``PIPELINE_FIELDS`` order."""
    return PipelineRecord(
        name=r[0],
        dag=_objects.decode(r[1]),
        code_version=r[2],
        created_at=float(r[3]),
        updated_at=float(r[4]),
    )


def event_record(event_id: int, payload: str | bytes) -> EventRecord:
    """Decode a stored event payload."""
    return EventRecord(id=int(event_id), event=decode_event(payload))
