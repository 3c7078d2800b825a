"""Functional style: record step calls made inside a ``@pipeline`` body as graph nodes."""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from ..errors import ForeignHandleError, PipelineBuildError, StepDefinitionError
from ._params import Binding, Const, FromInput, FromOutput, FromParam

if TYPE_CHECKING:
    from ._step import Step

__all__ = ("OutputHandle", "ParamHandle", "StepNode", "Trace", "current_trace")

_current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "flowyml_trace", default=None
)
_trace_ids = itertools.count(1)


def current_trace() -> Trace | None:
    """The trace being recorded in this context, if a pipeline body is being traced."""
    return _current.get()


@dataclass(slots=True, frozen=True)
class StepNode:
    """A step placed in a pipeline: its name there, its outputs and explicit bindings."""

    name: str
    step: Step[..., Any]
    outputs: tuple[str, ...]
    bindings: Mapping[str, Binding] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class OutputHandle:
    """Stands for a step output while a pipeline body is traced (not its value)."""

    trace_id: int
    pipeline: str
    step: str
    output: str

    def __repr__(self) -> str:
        return f"<output {self.output!r} of step {self.step!r}>"

    def __bool__(self) -> bool:
        raise StepDefinitionError(
            f"the output {self.output!r} of step {self.step!r} has no value while the pipeline "
            f"is being traced; branch inside a step instead"
        )


@dataclass(slots=True, frozen=True)
class ParamHandle:
    """Stands for a pipeline parameter while its body is traced."""

    name: str

    def __repr__(self) -> str:
        return f"<parameter {self.name!r}>"


@dataclass(slots=True, eq=False)
class Trace:
    """Collects the nodes of one traced pipeline body."""

    pipeline: str
    id: int = field(default_factory=lambda: next(_trace_ids))
    nodes: list[StepNode] = field(default_factory=list)
    problems: list[PipelineBuildError] = field(default_factory=list)
    _uses: dict[str, int] = field(default_factory=dict)
    _token: contextvars.Token[Trace | None] | None = None

    def __enter__(self) -> Self:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)

    def record(self, step: Step[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record a call of ``step``; return one handle per output (a tuple if several)."""
        try:
            bound = step.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise StepDefinitionError(
                f"step {step.name!r} called with bad arguments: {exc}"
            ) from exc
        uses = self._uses.get(step.name, 0) + 1
        self._uses[step.name] = uses
        name = step.name if uses == 1 else f"{step.name}_{uses}"
        if uses == 1:
            outputs = step.outputs
        elif step.outputs == (step.name,):
            outputs = (name,)
        else:
            outputs = tuple(f"{name}.{o}" for o in step.outputs)
        bindings: dict[str, Binding] = {}
        for param, value in bound.arguments.items():
            bindings[param] = self._bind(name, value)
        if step.input_map:
            for param, source in step.input_map.items():
                bindings.setdefault(param, FromInput(source))
        self.nodes.append(StepNode(name=name, step=step, outputs=outputs, bindings=bindings))
        handles = tuple(OutputHandle(self.id, self.pipeline, name, o) for o in outputs)
        return handles[0] if len(handles) == 1 else handles

    def _bind(self, node: str, value: Any) -> Binding:
        if isinstance(value, OutputHandle):
            if value.trace_id != self.id:
                self.problems.append(ForeignHandleError(node, value.output, value.pipeline))
                return Const(value)  # reported above; not a missing input as well
            return FromOutput(value.output)
        if isinstance(value, ParamHandle):
            return FromParam(value.name)
        return Const(value)
