"""Response and request bodies of the HTTP API, as pydantic models.

They mirror the msgspec records of :mod:`flowyml.storage._records` field for field, so the
generated OpenAPI schema describes exactly what the routes return (the dashboard's TypeScript
types and the schemathesis checks are derived from it).  Class names are the component names
the dashboard uses.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from ..definition._tags import MAX_TAG_LENGTH, TAG_PATTERN, check_tags
from ..events import RunStatus, StepStatus

__all__ = (
    "ArtifactDetailResponse",
    "ArtifactListResponse",
    "ArtifactPreview",
    "ArtifactRecord",
    "CancelRunResponse",
    "Dag",
    "DagEdge",
    "DagNode",
    "ErrorResponse",
    "HealthResponse",
    "LineageResponse",
    "PipelineDetailResponse",
    "PipelineListResponse",
    "PipelineSummary",
    "RunDetailResponse",
    "RunListResponse",
    "RunRecord",
    "SseTicketResponse",
    "StepAttempt",
    "StepDetailResponse",
    "StepPageResponse",
    "StepRunRecord",
    "TriggerRunRequest",
    "TriggerRunResponse",
)


class _Out(BaseModel):
    # Response fields are always present, defaults or not: say so in the schema, so
    # clients generated from it get non-optional fields.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class ErrorResponse(_Out):
    """Every 4xx/503 answer: a sentence saying what is wrong and how to fix it."""

    detail: str


class HealthResponse(_Out):
    """``GET /api/health``."""

    status: Literal["ok"]
    version: str
    store: str


class RunRecord(_Out):
    """One run of a pipeline (see :class:`flowyml.storage._records.RunRecord`)."""

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
    tags: list[str] = Field(default_factory=list, description="The run's tags")


class StepRunRecord(_Out):
    """One step inside one run; ``inputs``/``outputs`` map names to artifact ids."""

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
    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)


class ArtifactRecord(_Out):
    """A stored value, produced by ``(run_id, step)`` under output ``name``."""

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
    metadata: dict[str, Any] = Field(default_factory=dict)


class DagNode(_Out):
    """A step of the compiled graph (``Dag.to_dict()``)."""

    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    id: str
    name: str
    function: str = ""
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    params: list[str] = Field(default_factory=list)
    bindings: dict[str, str] = Field(default_factory=dict)
    is_async: bool = False
    tags: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class DagEdge(_Out):
    """``target`` consumes the output ``name`` of ``source``."""

    source: str
    target: str
    name: str


class Dag(_Out):
    """Nodes and edges of a pipeline, as the dashboard draws them."""

    pipeline: str
    nodes: list[DagNode]
    edges: list[DagEdge]


class PipelineSummary(_Out):
    """A pipeline in ``GET /api/pipelines``; ``registered`` means this server can run it."""

    name: str
    code_version: str
    updated_at: float
    registered: bool
    params: dict[str, Any]
    last_run: RunRecord | None = None


class PipelineListResponse(_Out):
    """``GET /api/pipelines``."""

    items: list[PipelineSummary]


class PipelineDetailResponse(_Out):
    """``GET /api/pipelines/{name}``."""

    name: str
    code_version: str
    registered: bool
    params: dict[str, Any]
    dag: Dag
    recent_runs: list[RunRecord]


#: a run tag as the JSON Schema says it (``check_tags`` gives the readable error)
_TAG_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_TAG_LENGTH,
    "pattern": TAG_PATTERN,
}


class TriggerRunRequest(BaseModel):
    """Body of ``POST /api/pipelines/{name}/runs``."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(
        default_factory=dict, description="Run parameters (see GET /api/pipelines/{name}/schema)"
    )
    enable_cache: bool | None = Field(
        default=None, description="false: run every step, even those with a cached result"
    )
    tags: list[Annotated[str, WithJsonSchema(_TAG_SCHEMA)]] = Field(
        default_factory=list,
        max_length=50,
        description="Tags of the run, added to the pipeline's (each at most 100 characters, "
        "without commas or control characters)",
    )

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, value: list[str]) -> list[str]:
        return list(check_tags(value, "tags"))


class TriggerRunResponse(_Out):
    """The id of the run that was started."""

    run_id: str


class RunListResponse(_Out):
    """A page of runs, newest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[RunRecord]
    next_cursor: int | None = None


class RunDetailResponse(_Out):
    """``GET /api/runs/{run_id}``: the run, its DAG and the first page of its steps."""

    run: RunRecord
    steps: list[StepRunRecord]
    dag: Dag | None = None
    steps_next_cursor: str | None = Field(
        default=None, description="Pass to GET /api/runs/{run_id}/steps for the next page"
    )
    dag_size: int = Field(
        default=0,
        description="Steps in the DAG; over 2000 ``dag`` is null: GET /api/runs/{run_id}/dag",
    )
    can_cancel: bool = Field(
        default=False, description="The run executes in this server, which can cancel it"
    )


class StepPageResponse(_Out):
    """``GET /api/runs/{run_id}/steps``: a page of step runs in run order."""

    items: list[StepRunRecord]
    next_cursor: str | None = None


class StepAttempt(_Out):
    """One attempt of a step, from the run's event log."""

    attempt: int
    status: Literal["running", "succeeded", "failed"]
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None


class SseTicketResponse(_Out):
    """A single-use ticket for one SSE connection: ``GET .../events?ticket=<ticket>``."""

    ticket: str
    expires_in: float


class CancelRunResponse(_Out):
    """``POST /api/runs/{run_id}/cancel``."""

    run_id: str
    status: Literal["cancelling"]


class StepDetailResponse(_Out):
    """``GET /api/runs/{run_id}/steps/{step}``."""

    step: StepRunRecord
    inputs: list[ArtifactRecord]
    outputs: list[ArtifactRecord]
    attempts: list[StepAttempt] = Field(default_factory=list)
    cached_from: str | None = Field(
        default=None, description="A cached step: the run that produced its outputs"
    )
    skip_reason: str | None = Field(default=None, description="A skipped step: why")


class ArtifactListResponse(_Out):
    """``GET /api/artifacts``."""

    items: list[ArtifactRecord]


class ArtifactPreview(_Out):
    """A safe look at an artifact's value (never unpickled)."""

    kind: Literal["json", "text", "table", "binary"]
    content: Any = None
    truncated: bool = False


class ArtifactDetailResponse(_Out):
    """``GET /api/artifacts/{artifact_id}``."""

    artifact: ArtifactRecord
    preview: ArtifactPreview


class LineageResponse(_Out):
    """Where an artifact came from and where it went."""

    artifact: ArtifactRecord
    producer: StepRunRecord | None = None
    inputs: list[ArtifactRecord]
    consumers: list[StepRunRecord]
    derived: list[ArtifactRecord]
