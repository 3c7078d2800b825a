"""What a run returns: :class:`PipelineResult` with one :class:`StepResult` per step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import RunFailedError

__all__ = ("ElementFailure", "PartialResults", "PipelineResult", "StepResult", "StoredValue")


class StoredValue:
    """An output left in the artifact store (a large one made on a remote worker): read
    the first time it is asked for."""

    __slots__ = ("_read", "ref")

    def __init__(self, ref: Any, read: Callable[[], Any]) -> None:
        self.ref = ref
        self._read = read

    def __repr__(self) -> str:
        return f"<StoredValue {self.ref.type_name} ({self.ref.size} bytes) at {self.ref.uri}>"

    def read(self) -> Any:
        """The value (blocks while the artifact is read)."""
        return self._read()


def _value(outputs: dict[str, Any], name: str) -> Any:
    v = outputs[name]
    if type(v) is StoredValue:
        v = outputs[name] = v.read()
    return v


@dataclass(slots=True, frozen=True)
class ElementFailure:
    """One failed element of a mapped step: its position, its input and the error."""

    step: str
    index: int
    item: Any
    error: BaseException


class PartialResults(list[Any]):
    """What an ``allow_partial=True`` step receives from a mapped step whose elements
    partly failed: the successful results (in input order), plus ``failures``."""

    def __init__(self, results: list[Any], failures: list[ElementFailure]) -> None:
        super().__init__(results)
        self.failures = failures

    def __repr__(self) -> str:
        return f"PartialResults({list(self)!r}, failures={len(self.failures)})"


@dataclass(slots=True, eq=False)
class StepResult:
    """The outcome of one step in a run.

    ``status`` is one of ``succeeded``, ``cached``, ``failed``, ``skipped``, ``cancelled``
    (or ``pending`` if the run ended before it was reached).  ``error`` keeps the exception
    itself and ``traceback`` its formatted traceback; ``artifact_ids`` maps each output
    name to its stored artifact (empty when outputs were not persisted).
    """

    name: str
    status: str = "pending"
    outputs: dict[str, Any] = field(default_factory=dict)
    duration_seconds: float = 0.0
    attempts: int = 0
    cached: bool = False
    error: BaseException | None = None
    traceback: str | None = None
    artifact_ids: dict[str, str] = field(default_factory=dict)
    skip_reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def success(self) -> bool:
        """``True`` if the step produced its outputs (ran or came from the cache)."""
        return self.status in ("succeeded", "cached")

    @property
    def skipped(self) -> bool:
        """``True`` if the step did not run: its condition was false, an upstream step was
        skipped or failed, or ``fail_fast`` stopped it (see ``skip_reason``)."""
        return self.status == "skipped"

    @property
    def output(self) -> Any:
        """The value of the step's only output (``ValueError`` if it has several)."""
        if len(self.outputs) != 1:
            raise ValueError(
                f"step {self.name!r} has {len(self.outputs)} outputs "
                f"({sorted(self.outputs)}); use .outputs[name]"
            )
        return _value(self.outputs, next(iter(self.outputs)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (outputs are not included, only their artifact ids)."""
        return {
            "name": self.name,
            "status": self.status,
            "duration_seconds": self.duration_seconds,
            "attempts": self.attempts,
            "cached": self.cached,
            "error": None if self.error is None else f"{type(self.error).__name__}: {self.error}",
            "traceback": self.traceback,
            "artifact_ids": dict(self.artifact_ids),
            "skip_reason": self.skip_reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass(slots=True, eq=False)
class PipelineResult:
    """The outcome of a run: its status, every output value and every step's result."""

    run_id: str
    pipeline_name: str
    status: str
    outputs: dict[str, Any]
    step_results: dict[str, StepResult]
    duration_seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    resumed_from: str | None = None
    started_at: float = 0.0

    @property
    def success(self) -> bool:
        """``True`` when the run succeeded."""
        return self.status == "succeeded"

    @property
    def start_time(self) -> datetime:
        """When the run started, as a timezone-aware UTC datetime."""
        return datetime.fromtimestamp(self.started_at, tz=UTC)

    @property
    def end_time(self) -> datetime:
        """When the run finished (its start plus ``duration_seconds``), in UTC."""
        return self.start_time + timedelta(seconds=self.duration_seconds)

    def __getitem__(self, name: str) -> Any:
        """The value of output ``name`` (``KeyError`` naming the known outputs otherwise)."""
        try:
            return _value(self.outputs, name)
        except KeyError:
            raise KeyError(
                f"run {self.run_id} has no output {name!r}; outputs: {sorted(self.outputs)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.outputs

    @property
    def failed_steps(self) -> list[str]:
        """Names of the steps that failed."""
        return [n for n, r in self.step_results.items() if r.status == "failed"]

    def raise_for_status(self) -> PipelineResult:
        """Return ``self`` if the run succeeded, else raise :class:`RunFailedError`.

        The first failed step's exception is chained as the cause.
        """
        if self.success:
            return self
        failed = self.failed_steps
        cause = self.step_results[failed[0]].error if failed else None
        detail = f"; failed steps: {', '.join(failed)}" if failed else ""
        raise RunFailedError(
            f"run {self.run_id} of pipeline {self.pipeline_name!r} {self.status}{detail}"
        ) from cause

    def summary(self) -> str:
        """A short human-readable report, one line per step."""
        counts: dict[str, int] = {}
        for r in self.step_results.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        head = (
            f"run {self.run_id} of {self.pipeline_name!r}: {self.status} in "
            f"{self.duration_seconds:.3f}s ("
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            + ")"
        )
        lines = [head]
        for r in self.step_results.values():
            extra = ""
            if r.error is not None:
                extra = f"  {type(r.error).__name__}: {r.error}"
            elif r.skip_reason:
                extra = f"  ({r.skip_reason})"
            lines.append(f"  {r.status:<9} {r.name}  {r.duration_seconds:.3f}s{extra}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the run (output values are left out; see ``artifact_ids``)."""
        return {
            "run_id": self.run_id,
            "pipeline_name": self.pipeline_name,
            "status": self.status,
            "success": self.success,
            "duration_seconds": self.duration_seconds,
            "params": self.params,
            "resumed_from": self.resumed_from,
            "output_names": sorted(self.outputs),
            "step_results": {n: r.to_dict() for n, r in self.step_results.items()},
        }

    def __repr__(self) -> str:
        return (
            f"<PipelineResult {self.pipeline_name!r} run={self.run_id} status={self.status} "
            f"steps={len(self.step_results)}>"
        )
