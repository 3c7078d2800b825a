"""What the parts of one run share: its state, and the small types they pass around."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..events import (
    ArtifactRef,
    Event,
    StepCached,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from ..results import StepResult, StepResults

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode
    from ..storage._records import ArtifactRecord

__all__ = (
    "FAILED",
    "OK",
    "PARTIAL",
    "SKIP",
    "TERMINAL",
    "Element",
    "Emit",
    "Fail",
    "Lazy",
    "RunState",
    "Snapshot",
    "fold",
    "record_to_ref",
    "started",
    "succeeded",
)

#: ``{step: (cache key, run id, outputs)}``: the newest cache entries of a run's steps,
#: read before it starts (lookups of the steps it covers are answered from it)
Snapshot = dict[str, tuple[str, str, dict[str, "ArtifactRecord"]]]

#: Outcomes of one step.
OK, FAILED, SKIP, PARTIAL = object(), object(), object(), object()

#: statuses a step ends in (a run is over when each of its steps has one of them)
TERMINAL = frozenset({"succeeded", "cached", "failed", "skipped"})

#: ``emit(event, result)``: record an event (``result``: its step's, when at hand)
Emit = Callable[[Event, "StepResult | None"], None]
#: ``fail(step, attempt, error, t0)``: record a step's failure (``step``: anything named)
Fail = Callable[[Any, int, BaseException, float], None]


class Lazy:
    """A cached output not read yet: loaded when a step that runs needs it, or at the end."""

    __slots__ = ("record",)

    def __init__(self, record: ArtifactRecord) -> None:
        self.record = record


class Element:
    """One element of a mapped step, shaped like a DAG node for the attempt loop."""

    __slots__ = ("bindings", "index", "map_param", "name", "outputs", "positional", "step")

    def __init__(self, node: DagNode, index: int) -> None:
        self.name = f"{node.name}[{index}]"
        self.index = index
        self.step = node.step
        self.outputs = (f"{node.outputs[0]}[{index}]",)
        self.bindings = node.bindings
        self.map_param = node.map_param
        self.positional = node.positional


class RunState:
    """The values and results of one run, shared by the runner and its parts.

    ``values`` holds every output produced so far by name (a :class:`Lazy` for a cached
    one not read yet), ``refs`` their stored artifacts, ``results`` each step's
    :class:`~flowyml.results.StepResult` by name (each mapped step's elements are
    kept by its :class:`~flowyml.results.ElementResults`, added as the map starts) and ``by_pos`` the DAG's steps' results by position.
    """

    __slots__ = ("by_pos", "lazy", "refs", "results", "values")

    def __init__(self, dag: Dag) -> None:
        self.values: dict[str, Any] = {}
        self.refs: dict[str, ArtifactRef] = {}
        self.by_pos = [StepResult(name) for name in dag.nodes]
        self.results = StepResults(dict(zip(dag.nodes, self.by_pos, strict=True)))
        #: how many outputs are still :class:`Lazy`
        self.lazy = 0


def record_to_ref(rec: ArtifactRecord | ArtifactRef) -> ArtifactRef:
    """The event form of a stored artifact."""
    if isinstance(rec, ArtifactRef):
        return rec
    return ArtifactRef(
        id=rec.id,
        name=rec.name,
        uri=rec.uri,
        type_name=rec.type_name,
        materializer=rec.materializer,
        size=rec.size,
        content_hash=rec.content_hash,
        metadata=rec.metadata,
    )


def fold(r: StepResult, ev: Event) -> None:
    """Apply a step's event to its result: a run's results derive from its events."""
    match ev:
        case StepStarted():
            started(r, ev.ts, ev.attempt)
        case StepSucceeded():
            succeeded(r, ev.ts, ev.duration)
            if ev.outputs:  # none when nothing is persisted: keep the empty default
                r.artifact_ids = {k: v.id for k, v in ev.outputs.items()}
        case StepCached():
            r.status = "cached"
            r.cached = True
            r.finished_at = ev.ts
            r.artifact_ids = {k: v.id for k, v in ev.outputs.items()}
        case StepFailed():
            r.status = "failed"
            r.duration_seconds = ev.duration
            r.finished_at = ev.ts
            r.traceback = ev.traceback
        case StepSkipped():
            r.status = "skipped"
            r.skip_reason = ev.reason
            r.finished_at = ev.ts
        case StepRetrying():
            r.status = "retrying"


def started(r: StepResult, ts: float, attempt: int) -> None:
    """What a ``step_started`` event says of its step's result."""
    r.status = "running"
    r.attempts = attempt
    if r.started_at is None:
        r.started_at = ts


def succeeded(r: StepResult, ts: float, duration: float) -> None:
    """What a ``step_succeeded`` event says of its step's result (but its artifacts)."""
    r.status = "succeeded"
    r.duration_seconds = duration
    r.finished_at = ts
