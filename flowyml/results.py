"""What a run returns: :class:`PipelineResult` with one :class:`StepResult` per step."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import RunFailedError

__all__ = (
    "ElementFailure",
    "ElementResults",
    "PartialResults",
    "PipelineResult",
    "StepResult",
    "StepResults",
    "StoredValue",
)


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


#: how an element of :class:`ElementResults` stands: not started, its StepResult is at
#: hand, or it ended well and is kept compactly
_NONE, _LIVE, _SUCCEEDED, _CACHED = 0, 1, 2, 3
_ENDED_WELL = frozenset({"succeeded", "cached"})


class ElementResults:
    """The results of one mapped step's elements, held compactly.

    A map of a million elements would otherwise keep a million :class:`StepResult`
    objects until the run ends, and the cycle collector walks every one of them at each
    of its full passes, so that a run's cost per element grew with its size.  Here an
    element that runs, or that ended in any way but success, has its
    :class:`StepResult` in ``live``; one that succeeded (it ran, or came from the cache)
    keeps only its attempts, times and artifact id in flat arrays, and its value in
    ``values``, the map's list in input order.  Its :class:`StepResult` is made again
    when asked for (a new object each time).

    :param name: the mapped step (element ``i`` is ``name[i]``)
    :param output: the step's output (element ``i``'s is ``output[i]``)
    :param values: the map's results by input position (filled as elements succeed)
    """

    __slots__ = (
        "_attempts",
        "_ids",
        "_state",
        "_times",
        "count",
        "live",
        "name",
        "output",
        "values",
    )

    def __init__(self, name: str, output: str, values: list[Any]) -> None:
        self.name = name
        self.output = output
        self.values = values
        #: the elements whose StepResult is at hand, by position
        self.live: dict[int, StepResult] = {}
        #: how many elements have a result (started, skipped, ended)
        self.count = 0
        n = len(values)
        self._state = bytearray(n)
        self._attempts = array("l", [0]) * n
        #: started, finished and duration of element ``i`` at ``3 * i`` (NaN: ``None``)
        self._times = array("d", [0.0]) * (3 * n)
        self._ids: list[str | None] | None = None  # made when an element has an artifact

    def add(self, index: int) -> StepResult:
        """A new result for element ``index`` (about to start, or skipped)."""
        r = self.live[index] = StepResult(f"{self.name}[{index}]")
        if not self._state[index]:
            self.count += 1
        self._state[index] = _LIVE
        return r

    def settle(self, index: int) -> None:
        """Element ``index`` ended: keep it compactly if it ended well."""
        r = self.live.get(index)
        if r is None or not _plain(r):
            return
        del self.live[index]
        self._state[index] = _CACHED if r.cached else _SUCCEEDED
        self._attempts[index] = r.attempts
        t, times = 3 * index, self._times
        times[t] = math.nan if r.started_at is None else r.started_at
        times[t + 1] = math.nan if r.finished_at is None else r.finished_at
        times[t + 2] = r.duration_seconds
        if r.artifact_ids:
            if self._ids is None:
                self._ids = [None] * len(self._state)
            self._ids[index] = next(iter(r.artifact_ids.values()))

    def get(self, index: int) -> StepResult | None:
        """Element ``index``'s result (``None``: it has none)."""
        r = self.live.get(index)
        if r is not None or not 0 <= index < len(self._state) or self._state[index] < _SUCCEEDED:
            return r
        cached = self._state[index] == _CACHED
        out = f"{self.output}[{index}]"
        started, finished, duration = self._times[3 * index : 3 * index + 3]
        artifact = None if self._ids is None else self._ids[index]
        return StepResult(
            f"{self.name}[{index}]",
            status="cached" if cached else "succeeded",
            outputs={out: self.values[index]},
            duration_seconds=duration,
            attempts=self._attempts[index],
            cached=cached,
            artifact_ids={} if artifact is None else {out: artifact},
            started_at=None if math.isnan(started) else started,
            finished_at=None if math.isnan(finished) else finished,
        )

    def status(self, index: int) -> str | None:
        """Element ``index``'s status (``None``: it has no result)."""
        r = self.live.get(index)
        if r is not None:
            return r.status
        state = self._state[index]
        return "cached" if state == _CACHED else "succeeded" if state == _SUCCEEDED else None

    def indices(self) -> Iterator[int]:
        """The positions of the elements that have a result, in input order."""
        return (i for i, s in enumerate(self._state) if s)


def _plain(r: StepResult) -> bool:
    """Whether ``r`` says no more than :class:`ElementResults` keeps of an element."""
    return (
        r.status in _ENDED_WELL
        and r.error is None
        and r.traceback is None
        and r.skip_reason is None
        and len(r.outputs) == 1
        and len(r.artifact_ids) <= 1
    )


class StepResults(Mapping[str, StepResult]):
    """A run's :class:`StepResult` by step name, a mapped step's elements included
    (``"fetch[17]"``): they are kept by :class:`ElementResults`, in input order after the
    steps."""

    __slots__ = ("_maps", "_steps")

    def __init__(self, steps: Mapping[str, StepResult]) -> None:
        self._steps = dict(steps)
        self._maps: dict[str, ElementResults] = {}

    def add_map(self, elements: ElementResults) -> ElementResults:
        """Keep a mapped step's element results (in place of earlier ones of that step)."""
        self._maps[elements.name] = elements
        return elements

    def elements(self, step: str) -> ElementResults | None:
        """The element results of mapped step ``step`` (``None`` before it starts)."""
        return self._maps.get(step)

    def maps(self) -> Iterator[tuple[str, ElementResults]]:
        """Each mapped step's name and element results."""
        return iter(list(self._maps.items()))

    def active(self) -> Iterator[StepResult]:
        """The results that are not held compactly: the steps', and those of the elements
        that run or did not succeed (all the others succeeded)."""
        yield from self._steps.values()
        for elements in self._maps.values():
            yield from list(elements.live.values())

    def _element(self, name: str) -> StepResult | None:
        base, bracket, rest = name.rpartition("[")
        elements = self._maps.get(base) if bracket else None
        if elements is None or not rest.endswith("]") or not rest[:-1].isdigit():
            return None
        return elements.get(int(rest[:-1]))

    def __getitem__(self, name: str) -> StepResult:
        r = self._steps.get(name)
        if r is None and (r := self._element(name)) is None:
            raise KeyError(name)
        return r

    def __contains__(self, name: object) -> bool:
        if name in self._steps:
            return True
        return isinstance(name, str) and self._element(name) is not None

    def __iter__(self) -> Iterator[str]:
        yield from self._steps
        for name, elements in list(self._maps.items()):
            for i in elements.indices():
                yield f"{name}[{i}]"

    def __len__(self) -> int:
        return len(self._steps) + sum(e.count for e in self._maps.values())

    def __repr__(self) -> str:
        return (
            f"<StepResults of {len(self._steps)} steps and {len(self) - len(self._steps)} elements>"
        )


@dataclass(slots=True, eq=False)
class PipelineResult:
    """The outcome of a run: its status, every output value and every step's result."""

    run_id: str
    pipeline_name: str
    status: str
    outputs: dict[str, Any]
    step_results: Mapping[str, StepResult]
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
