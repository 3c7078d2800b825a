"""Definition -> :class:`Dag`: resolve every binding and report every problem at once."""

from __future__ import annotations

import inspect
from collections.abc import Collection, Sequence
from typing import Any

from ..definition._params import (
    Binding,
    Const,
    FromContext,
    FromDefault,
    FromInput,
    FromOutput,
    FromParam,
)
from ..definition._trace import StepNode
from ..errors import (
    CycleError,
    DuplicateOutputError,
    DuplicateStepError,
    MissingInputError,
    PipelineBuildError,
)
from ._dag import Dag, DagNode

__all__ = ("compile_dag",)

_EMPTY: Any = inspect.Parameter.empty
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


def compile_dag(
    pipeline: str,
    nodes: Sequence[StepNode],
    params: Collection[str],
    problems: Sequence[PipelineBuildError] = (),
) -> Dag:
    """Compile ``nodes`` given the names of available run ``params``.

    :raises PipelineBuildError: listing every problem found (a single problem is raised
        as its own subclass, e.g. :class:`~flowyml.errors.CycleError`)
    """
    found: list[PipelineBuildError] = list(problems)
    seen: set[str] = set()
    for node in nodes:
        if node.name in seen:
            found.append(DuplicateStepError(node.name))
        seen.add(node.name)

    producers: dict[str, str] = {}
    for node in nodes:
        for out in node.outputs:
            if out in producers and producers[out] != node.name:
                found.append(DuplicateOutputError(out, [producers[out], node.name]))
            else:
                producers[out] = node.name

    # One binding object per output, shared by every consumer.
    from_output = {out: FromOutput(out) for out in producers}
    compiled: dict[str, DagNode] = {}
    used_params: set[str] = set()
    for node in nodes:
        name = node.name
        if name in compiled:
            continue
        bindings: list[tuple[str, Binding]] = []
        upstream: dict[str, None] = {}
        step = node.step
        explicit = node.bindings
        extra = [p for p in explicit if p not in step.parameter_set]  # **kwargs receivers
        defaults = False
        for param in (*step.parameters, *extra) if extra else step.parameters:
            b = explicit.get(param)
            kind = type(b)
            if kind is FromInput and b.source in producers:  # type: ignore[union-attr]
                b = from_output[b.source]  # type: ignore[union-attr]
            elif kind is not FromOutput or b.output not in producers:  # type: ignore[union-attr]
                b = _resolve(node, param, producers, params)
                if b is None:
                    found.append(MissingInputError(name, _wanted(node, param)))
                    continue
            kind = type(b)
            if kind is FromOutput:
                out = b.output  # type: ignore[union-attr]
                src = producers[out]
                upstream[src] = None
            elif kind is FromParam:
                used_params.add(b.name)  # type: ignore[union-attr]
            elif kind is FromDefault:
                defaults = True
            assert b is not None
            bindings.append((param, b))
        positional: tuple[str, ...] | None = None
        if not extra:
            if step.positional and not defaults:
                positional = step.parameters
            else:
                positional = _positional(step, bindings)
        compiled[name] = DagNode(
            name=name,
            step=step,
            outputs=node.outputs,
            bindings=tuple(bindings),
            upstream=tuple(upstream),
            map_param=node.map_param,
            positional=positional,
        )

    downstream: dict[str, list[str]] = {n: [] for n in compiled}
    for name, dnode in compiled.items():
        for up in dnode.upstream:
            if up in downstream:
                downstream[up].append(name)
    if not found and not _acyclic(compiled, downstream):
        cycle = _find_cycle(compiled, downstream)
        assert cycle is not None
        found.append(CycleError(cycle))
    if found:
        raise PipelineBuildError.combine(pipeline, found)
    return Dag(
        pipeline=pipeline,
        nodes=compiled,
        producers=producers,
        downstream={n: tuple(d) for n, d in downstream.items()},
        params=frozenset(used_params),
    )


def _positional(step: Any, bindings: list[tuple[str, Binding]]) -> tuple[str, ...] | None:
    """The bound parameters, if they are the signature's leading positional ones."""
    bound = [p for p, b in bindings if not isinstance(b, FromDefault)]
    declared = step.signature.parameters
    for want, (name, p) in zip(bound, declared.items(), strict=False):
        if want != name or p.kind is not _POSITIONAL:
            return None
    return tuple(bound)


def _wanted(node: StepNode, param: str) -> str:
    b = node.bindings.get(param)
    if isinstance(b, FromInput):
        return b.source
    if isinstance(b, FromOutput):
        return b.output
    return param


def _resolve(
    node: StepNode, param: str, producers: dict[str, str], params: Collection[str]
) -> Binding | None:
    step = node.step
    explicit = node.bindings.get(param)
    if isinstance(explicit, FromOutput):
        return explicit if explicit.output in producers else None
    if isinstance(explicit, Const | FromParam):
        if isinstance(explicit, FromParam) and explicit.name not in params:
            declared = step.signature.parameters.get(param)
            return None if declared is None or declared.default is _EMPTY else FromDefault()
        return explicit
    if isinstance(explicit, FromInput):
        if explicit.source in producers:
            return FromOutput(explicit.source)
        if explicit.source in params:
            return FromParam(explicit.source)
        return None
    if param in step.context_params:
        return FromContext()
    if param in params:
        return FromParam(param)
    declared = step.signature.parameters.get(param)
    if declared is not None and declared.default is not _EMPTY:
        return FromDefault()
    return None


def _acyclic(nodes: dict[str, DagNode], downstream: dict[str, list[str]]) -> bool:
    """Whether every step can be ordered (Kahn's count; cheaper than a DFS)."""
    remaining = {n: len(node.upstream) for n, node in nodes.items()}
    ready = [n for n, c in remaining.items() if c == 0]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for d in downstream[n]:
            c = remaining[d] - 1
            remaining[d] = c
            if c == 0:
                ready.append(d)
    return done == len(nodes)


def _find_cycle(nodes: dict[str, DagNode], downstream: dict[str, list[str]]) -> list[str] | None:
    """Return the steps of one cycle, in order, or ``None`` (iterative DFS)."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(nodes, WHITE)
    for root in nodes:
        if color[root] != WHITE:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            name, i = stack.pop()
            if i == 0:
                color[name] = GREY
                path.append(name)
            children = downstream[name]
            if i < len(children):
                stack.append((name, i + 1))
                child = children[i]
                if color[child] == GREY:
                    return path[path.index(child) :]
                if color[child] == WHITE:
                    stack.append((child, 0))
            else:
                color[name] = BLACK
                path.pop()
    return None
