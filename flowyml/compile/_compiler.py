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
from ._dag import Dag, DagNode, Edge

__all__ = ("compile_dag",)

_EMPTY: Any = inspect.Parameter.empty


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

    compiled: dict[str, DagNode] = {}
    edges: list[Edge] = []
    used_params: set[str] = set()
    for node in nodes:
        if node.name in compiled:
            continue
        bindings: list[tuple[str, Binding]] = []
        upstream: dict[str, None] = {}
        step = node.step
        named = step.parameter_set
        extra = [p for p in node.bindings if p not in named]  # **kwargs receivers
        for param in (*step.parameters, *extra):
            b = _resolve(node, param, producers, params)
            if b is None:
                found.append(MissingInputError(node.name, _wanted(node, param)))
                continue
            if isinstance(b, FromOutput):
                src = producers[b.output]
                if src not in upstream:
                    upstream[src] = None
                edges.append(Edge(src, node.name, b.output))
            elif isinstance(b, FromParam):
                used_params.add(b.name)
            bindings.append((param, b))
        compiled[node.name] = DagNode(
            name=node.name,
            step=step,
            outputs=node.outputs,
            bindings=tuple(bindings),
            upstream=tuple(upstream),
            map_param=node.map_param,
        )

    downstream: dict[str, list[str]] = {n: [] for n in compiled}
    for name, dnode in compiled.items():
        for up in dnode.upstream:
            if up in downstream:
                downstream[up].append(name)
    if not found:
        cycle = _find_cycle(compiled, downstream)
        if cycle:
            found.append(CycleError(cycle))
    if found:
        raise PipelineBuildError.combine(pipeline, found)
    return Dag(
        pipeline=pipeline,
        nodes=compiled,
        edges=tuple(edges),
        producers=producers,
        downstream={n: tuple(d) for n, d in downstream.items()},
        params=frozenset(used_params),
    )


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
