"""Functional style: record step calls made inside a ``@pipeline`` body as graph nodes."""

from __future__ import annotations

import contextvars
import inspect
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from ..errors import ForeignHandleError, PipelineBuildError, StepDefinitionError
from ._params import Binding, Const, FromInput, FromOutput, FromParam

if TYPE_CHECKING:
    from ._pipeline import PipelineSpec
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
    map_param: str | None = None


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
class _Named:
    """An output or parameter named by a string in ``step.map("name")``."""

    name: str


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
        return self._add(step, dict(bound.arguments), step.map_param)

    def record_map(self, step: Step[..., Any], over: Any, fixed: dict[str, Any]) -> Any:
        """Record ``step.map(over, **fixed)``: one element of ``over`` per instance."""
        free = [p for p in step.parameters if p not in fixed and p not in step.context_params]
        if not free:
            raise StepDefinitionError(
                f"step {step.name!r}: map() needs a parameter to receive each element, but "
                f"every parameter is fixed"
            )
        if len(step.outputs) != 1:
            raise StepDefinitionError(
                f"step {step.name!r}: a mapped step has one output, not {list(step.outputs)}"
            )
        arguments: dict[str, Any] = {free[0]: _Named(over) if isinstance(over, str) else over}
        arguments.update(fixed)
        return self._add(step, arguments, free[0])

    def _add(self, step: Step[..., Any], arguments: dict[str, Any], map_param: str | None) -> Any:
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
        for param, value in arguments.items():
            bindings[param] = self._bind(name, value)
        if step.input_map:
            for param, source in step.input_map.items():
                bindings.setdefault(param, FromInput(source))
        self.nodes.append(
            StepNode(name=name, step=step, outputs=outputs, bindings=bindings, map_param=map_param)
        )
        handles = tuple(OutputHandle(self.id, self.pipeline, name, o) for o in outputs)
        return handles[0] if len(handles) == 1 else handles

    def record_pipeline(
        self, child: PipelineSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Inline ``child`` (called in this body); return its returned handles, remapped."""
        from ._subpipeline import inline

        if child._body is None:
            raise StepDefinitionError(
                f"pipeline {child.name!r} has no body to call; add it with "
                f"parent.add_step({child.name}.as_step(inputs=..., outputs=...))"
            )
        try:
            bound = inspect.signature(child._body).bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise StepDefinitionError(
                f"pipeline {child.name!r} called with bad arguments: {exc}"
            ) from exc
        uses = self._uses.get(child.name, 0) + 1
        self._uses[child.name] = uses
        prefix = child.name if uses == 1 else f"{child.name}_{uses}"
        inputs = {p: self._bind(prefix, v) for p, v in bound.arguments.items()}
        nodes, problems, returned = child._trace_body()
        self.problems.extend(problems)
        self.nodes.extend(
            inline(nodes, prefix=prefix, context=dict(child.context), inputs=inputs, exposed={})
        )

        def remap(h: Any) -> Any:
            if isinstance(h, OutputHandle):
                return OutputHandle(
                    self.id, self.pipeline, f"{prefix}.{h.step}", f"{prefix}.{h.output}"
                )
            if isinstance(h, tuple):
                return tuple(remap(x) for x in h)
            return h

        return remap(returned)

    def _bind(self, node: str, value: Any) -> Binding:
        if isinstance(value, OutputHandle):
            if value.trace_id != self.id:
                self.problems.append(ForeignHandleError(node, value.output, value.pipeline))
                return Const(value)  # reported above; not a missing input as well
            return FromOutput(value.output)
        if isinstance(value, ParamHandle):
            return FromParam(value.name)
        if isinstance(value, _Named):
            return FromInput(value.name)
        return Const(value)
