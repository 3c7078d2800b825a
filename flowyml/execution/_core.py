"""State shared by the parts of a run: the runner, its persistence and its mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..events import ArtifactRef, Event

if TYPE_CHECKING:
    import anyio

    from ..compile._dag import Dag, DagNode
    from ..results import StepResult
    from ..storage._records import ArtifactRecord
    from ..storage.artifacts._values import SavedScalars
    from ._runtime import Runtime

__all__ = ("TERMINAL", "RunnerCore", "Snapshot", "record_to_ref")

#: ``{step: (cache key, run id, outputs)}``: the newest cache entries of a run's steps,
#: read before it starts (lookups of the steps it covers are answered from it)
Snapshot = dict[str, tuple[str, str, dict[str, "ArtifactRecord"]]]


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


class StepFailure(Exception):
    """Internal: the attempt loop gave up on a step."""


#: Outcomes of one step.
OK, FAILED, SKIP, PARTIAL = object(), object(), object(), object()

#: statuses a step ends in (a run is over when each of its steps has one of them)
TERMINAL = frozenset({"succeeded", "cached", "failed", "skipped"})


class Lazy:
    """A cached output not read yet: loaded when a step that runs needs it, or at the end."""

    __slots__ = ("record",)

    def __init__(self, record: ArtifactRecord) -> None:
        self.record = record


def param_of(el: Element) -> str:
    """The parameter an element's item goes to."""
    assert el.map_param is not None
    return el.map_param


class Element:
    """One element of a mapped step, shaped like a DAG node for the attempt loop."""

    __slots__ = ("bindings", "map_param", "name", "outputs", "positional", "step")

    def __init__(self, node: DagNode, index: int) -> None:
        self.name = f"{node.name}[{index}]"
        self.step = node.step
        self.outputs = (f"{node.outputs[0]}[{index}]",)
        self.bindings = node.bindings
        self.map_param = node.map_param
        self.positional = node.positional


class RunnerCore:
    """Attributes and hooks the mixins of :class:`~flowyml.execution._runner.Runner` share."""

    dag: Dag
    params: dict[str, Any]
    run_id: str
    runtime: Runtime | None
    cache_on: bool
    cache_expiry: float | None
    fail_fast: bool
    resumed: dict[str, tuple[str, Mapping[str, ArtifactRecord]]]
    _values: dict[str, Any]
    _refs: dict[str, ArtifactRef]
    _results: dict[str, StepResult]
    _lazy: int
    _snapshot: Snapshot | None
    _steps_scope: anyio.CancelScope | None
    #: first digits of this run's artifact ids (its start time; see flowyml._ids)
    _id_stamp: str
    #: small outputs this run stored, to store equal ones again without I/O
    _saved: SavedScalars

    def _emit(self, ev: Event, r: StepResult | None = None) -> None:
        raise NotImplementedError

    def _fail(self, node: Any, attempt: int, error: BaseException, t0: float) -> None:
        raise NotImplementedError

    def _stop(self, reason: str) -> None:
        raise NotImplementedError

    def _interrupted(self, node: Any, r: StepResult, exc: BaseException) -> None:
        raise NotImplementedError

    async def _run_one(
        self,
        node: Any,
        r: StepResult,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        inputs: dict[str, str],
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    async def _load(self, lazy: Lazy) -> Any:
        raise NotImplementedError

    async def _store_outputs(self, node: Any, outputs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def _load_outputs(
        self,
        node: Any,
        records: Any,
        *,
        source_run: str,
        cache_key: str,
        inputs: dict[str, str] | None = None,
        eager: bool = False,
    ) -> bool:
        raise NotImplementedError
