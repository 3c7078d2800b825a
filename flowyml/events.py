"""Executor events: the single source of truth for the state of runs and steps.

Every state change of a run is one of these frozen, tagged :mod:`msgspec` structs.
The :class:`~flowyml.PipelineResult`, the metadata store's rows, the server's SSE
stream and the dashboard are all derived from them.  ``Event`` is the tagged union:
``msgspec.json.decode(data, type=Event)`` turns any encoded event back into its class.

Fields added later must have defaults and go last, so old logs keep decoding.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

__all__ = (
    "TERMINAL_STATUSES",
    "ArtifactRef",
    "Event",
    "LogLine",
    "RunFinished",
    "RunStarted",
    "RunStatus",
    "StepCached",
    "StepFailed",
    "StepLog",
    "StepRetrying",
    "StepSkipped",
    "StepStarted",
    "StepStatus",
    "StepSucceeded",
    "decode_event",
    "encode_event",
)

#: Status of a whole run.  ``interrupted`` is set by the store for runs whose process died.
RunStatus = Literal["running", "succeeded", "failed", "cancelled", "interrupted"]
#: Status of one step in a run.
StepStatus = Literal[
    "pending",
    "running",
    "retrying",
    "succeeded",
    "cached",
    "failed",
    "skipped",
    "cancelled",
    "interrupted",
]
TERMINAL_STATUSES: Final = frozenset({"succeeded", "failed", "cancelled", "interrupted"})


# Events and artifact references are invisible to the cycle collector (``gc=False``): a
# run holds thousands of them, and they only hold strings, numbers and containers of
# those built for them, which never point back at them (no cycle to collect).
class ArtifactRef(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A stored output: where its bytes are and how to turn them back into a value."""

    id: str
    name: str
    uri: str
    type_name: str
    materializer: str
    size: int
    content_hash: str
    metadata: dict[str, Any] = {}


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    run_id: str
    ts: float

    @property
    def type(self) -> str:
        """The event's tag, e.g. ``"step_succeeded"`` (the ``type`` field of its JSON)."""
        return type(self).__struct_config__.tag  # type: ignore[return-value]


class RunStarted(_Event, tag="run_started", frozen=True, kw_only=True):
    """A run began.  ``tags`` are the pipeline's and the run's own, merged."""

    pipeline: str
    params: dict[str, Any] = {}
    pid: int = 0
    host: str = ""
    resumed_from: str | None = None
    steps: list[str] = []
    tags: list[str] = []


class StepStarted(_Event, tag="step_started", frozen=True, kw_only=True):
    """A step attempt began.  ``inputs`` maps parameter names to consumed artifact ids."""

    step: str
    attempt: int = 1
    inputs: dict[str, str] = {}
    cache_key: str | None = None


class StepProgress(_Event, tag="step_progress", frozen=True, kw_only=True):
    """A running step attempt reported how far it got (``ctx.progress(done, total)``).

    ``done`` units of ``total`` (``None`` when the total is unknown).  Progress is for
    live displays: it changes no step or run row.
    """

    step: str
    attempt: int = 1
    done: float
    total: float | None = None


class StepRetrying(_Event, tag="step_retrying", frozen=True, kw_only=True):
    """A step attempt failed and will be retried after ``delay`` seconds."""

    step: str
    attempt: int
    error: str
    delay: float


class StepSucceeded(_Event, tag="step_succeeded", frozen=True, kw_only=True):
    """A step finished; ``outputs`` holds the stored artifacts (empty when not persisted)."""

    step: str
    attempt: int = 1
    duration: float = 0.0
    outputs: dict[str, ArtifactRef] = {}
    cache_key: str | None = None


class StepCached(_Event, tag="step_cached", frozen=True, kw_only=True):
    """A step was not executed: its outputs were loaded from an earlier run."""

    step: str
    attempt: int = 0
    cache_key: str = ""
    outputs: dict[str, ArtifactRef] = {}
    source_run_id: str | None = None
    inputs: dict[str, str] = {}


class StepFailed(_Event, tag="step_failed", frozen=True, kw_only=True):
    """A step failed for good (after its last retry)."""

    step: str
    attempt: int
    error: str
    error_type: str = "Exception"
    traceback: str = ""
    duration: float = 0.0


class StepSkipped(_Event, tag="step_skipped", frozen=True, kw_only=True):
    """A step did not run: an upstream step failed or the run was stopped."""

    step: str
    attempt: int = 0
    reason: str = ""


class LogLine(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One captured log record: its number within the step attempt (from 1), when it was
    made, its level name, logger name and formatted message (with any traceback)."""

    line: int
    created_at: float
    level: str
    logger: str
    message: str


class StepLog(_Event, tag="step_log", frozen=True, kw_only=True):
    """Log records captured while a step attempt ran, in the order they were made.

    Records are sent in batches: one event carries every line made since the last one.
    """

    step: str
    attempt: int = 1
    lines: list[LogLine] = []


class RunFinished(_Event, tag="run_finished", frozen=True, kw_only=True):
    """A run ended with the final ``status``."""

    status: RunStatus
    duration: float = 0.0
    error: str | None = None


Event = (
    RunStarted
    | StepStarted
    | StepProgress
    | StepRetrying
    | StepSucceeded
    | StepCached
    | StepFailed
    | StepSkipped
    | StepLog
    | RunFinished
)

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """Encode an event to JSON bytes (the ``type`` field carries its tag)."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> Event:
    """Decode JSON produced by :func:`encode_event` back into its event class."""
    event: Event = _decoder.decode(data)
    return event
