"""Definition -> :class:`Dag`: resolve every binding and report every problem at once."""

from __future__ import annotations

import difflib
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
from ..definition._pipeline import PipelineSpec
from ..definition._trace import StepNode
from ..errors import (
    ChainError,
    CycleError,
    DuplicateOutputError,
    DuplicateStepError,
    MissingInputError,
    PipelineBuildError,
)
from ._dag import Dag, DagNode, kahn_order
from ._groups import find_groups

__all__ = (
    "build_dag",
    "compile_dag",
)

_EMPTY: Any = inspect.Parameter.empty
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
_NAMED = (FromInput, FromOutput)  # bindings that name an output


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
    _require_steps(pipeline, nodes, found)
    unique, producers = _index(nodes, found)
    binder = _Binder(unique, producers, params, found)
    order: list[DagNode] = []
    grouped: list[int] = []
    streams: dict[int, list[int]] = {}
    for i, node in enumerate(unique):
        bindings, upstream = binder.bind(i, node)
        chain = _chain_source(node, bindings, unique, producers, found)
        if chain is not None:
            streams.setdefault(chain, []).append(i)
        dag_node = DagNode(
            name=node.name,
            step=node.step,
            outputs=node.outputs,
            bindings=tuple(bindings),
            upstream=tuple(upstream),
            map_param=node.map_param,
            positional=_positional(node.step, bindings),
            index=i,
            chain=chain,
        )
        order.append(dag_node)
        if node.step.execution_group is not None:
            grouped.append(i)
    children = tuple(tuple(kids) for kids in binder.children)
    parents = tuple(len(n.upstream) for n in order)
    if not found and binder.backward and len(kahn_order(parents, children)) < len(parents):
        found.append(CycleError(_find_cycle(order, children)))
    groups = find_groups(order, children, grouped, found) if grouped and not found else ()
    if found:
        raise PipelineBuildError.combine(pipeline, found)
    return Dag(
        pipeline=pipeline,
        nodes={n.name: n for n in order},
        order=tuple(order),
        parents=parents,
        children=children,
        producer_index=producers,
        params=frozenset(binder.used_params),
        groups=groups,
        streams={src: tuple(kids) for src, kids in streams.items()},
    )


def _index(
    nodes: Sequence[StepNode], found: list[PipelineBuildError]
) -> tuple[list[StepNode], dict[str, int]]:
    """The steps with distinct names (the first placement wins), and each output's
    producer by position; duplicates are reported in ``found``."""
    position: dict[str, int] = {}
    unique: list[StepNode] = []
    producers: dict[str, int] = {}
    clashes: list[PipelineBuildError] = []
    for node in nodes:
        i = position.setdefault(node.name, len(unique))
        if i == len(unique):
            unique.append(node)
        else:
            found.append(DuplicateStepError(node.name))
        for out in node.outputs:
            j = producers.setdefault(out, i)
            if j != i:
                clashes.append(DuplicateOutputError(out, [unique[j].name, node.name]))
    found.extend(clashes)
    return unique, producers


class _Binder:
    """Resolves each step's parameters, in step order, and records the edges."""

    def __init__(
        self,
        nodes: list[StepNode],
        producers: dict[str, int],
        params: Collection[str],
        found: list[PipelineBuildError],
    ) -> None:
        self.nodes = nodes
        self.producers = producers
        self.params = params
        self.found = found
        #: by position: the positions of each step's consumers
        self.children: list[list[int]] = [[] for _ in nodes]
        #: run parameters some step reads
        self.used_params: set[str] = set()
        #: an edge goes to a step placed earlier (only then can there be a cycle)
        self.backward = False
        self._outputs_of: dict[str, tuple[str, ...]] = {}  # for messages, filled on need

    def bind(self, i: int, node: StepNode) -> tuple[list[tuple[str, Binding]], list[str]]:
        """``node``'s bindings, and the names of the steps it reads from."""
        step = node.step
        extra = [p for p in node.bindings if p not in step.parameter_set]  # **kwargs receivers
        bindings: list[tuple[str, Binding]] = []
        upstream: list[str] = []
        for param in (*step.parameters, *extra):
            b = self._binding(i, node, param)
            if b is None:
                self.found.append(self._missing(node, param))
                continue
            if isinstance(b, FromOutput):
                self._edge(self.producers[b.output], i, upstream)
            elif isinstance(b, FromParam):
                self.used_params.add(b.name)
            bindings.append((param, b))
        return bindings, upstream

    def _binding(self, i: int, node: StepNode, param: str) -> Binding | None:
        """Where ``param`` comes from: a declared or same-named upstream output first."""
        match node.bindings.get(param):
            case FromInput(source=out) | FromOutput(output=out) if out in self.producers:
                return FromOutput(out)
            case None if _same_name(node.step, param, self.producers, i) is not None:
                return FromOutput(param)
        return _resolve(node, param, self.producers, self.params)

    def _edge(self, src: int, i: int, upstream: list[str]) -> None:
        consumers = self.children[src]
        # Steps are visited in order, so if this one already reads from ``src`` it is
        # the last consumer recorded there (an input read twice: one edge).
        if not consumers or consumers[-1] != i:
            consumers.append(i)
            upstream.append(self.nodes[src].name)
            self.backward = self.backward or src >= i

    def _missing(self, node: StepNode, param: str) -> MissingInputError:
        """The error for ``param`` of ``node``, which nothing supplies."""
        if not self._outputs_of:
            self._outputs_of.update((n.name, n.outputs) for n in self.nodes)
        wanted = _wanted(node, param)
        return MissingInputError(node.name, wanted, hint=_hint(param, wanted, self._outputs_of))


def _chain_source(
    node: StepNode,
    bindings: list[tuple[str, Binding]],
    nodes: Sequence[StepNode],
    producers: dict[str, int],
    found: list[PipelineBuildError],
) -> int | None:
    """The position of the mapped step whose elements feed ``node``'s one by one, if
    ``node`` chains (see ``@step(chain=)``); a chain asked for but impossible is reported."""
    want = node.step.chain
    if want is False:
        return None
    source = dict(bindings).get(node.map_param) if node.map_param is not None else None
    if node.map_param is None:
        reason = "it is not mapped"
    elif not isinstance(source, FromOutput):
        reason = f"its parameter {node.map_param!r} is not fed by a step's output"
    elif nodes[producers[source.output]].map_param is None:
        producer = nodes[producers[source.output]].name
        reason = f"it maps over {source.output!r}, which step {producer!r} returns whole"
    elif node.step.condition is not None:
        reason = "its condition needs the whole list"
    else:
        return producers[source.output]
    if want:
        found.append(ChainError(node.name, reason))
    return None


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


def _require_steps(
    pipeline: str, nodes: Sequence[StepNode], found: Sequence[PipelineBuildError]
) -> None:
    if not nodes and not found:
        raise PipelineBuildError(
            f"pipeline {pipeline!r} has no steps; add them with add_step(...) or call @step "
            f"functions in its @pipeline body"
        )


def _same_name(step: Any, param: str, producers: dict[str, int], i: int) -> int | None:
    """The position of the other step whose output is named like the unbound ``param``
    (explicit style binds by name: upstream outputs before run parameters and defaults)."""
    if param in step.context_params:
        return None
    src = producers.get(param)
    return None if src == i else src


def _hint(param: str, wanted: str, outputs: dict[str, tuple[str, ...]]) -> str:
    """How to declare where ``param`` comes from: the outputs of a step named like it, or
    the output closest to its name."""
    own = outputs.get(wanted)
    if own is not None:
        return (
            f"step {wanted!r} outputs {list(own)}, not {wanted!r}: declare which one feeds "
            f"{param!r} with inputs={{{param!r}: {own[0]!r}}}"
        )
    names = [o for outs in outputs.values() for o in outs]
    close = difflib.get_close_matches(wanted, names, n=1) if len(names) <= 5000 else []
    if close:
        return (
            f"did you mean the output {close[0]!r}? declare it with "
            f"inputs={{{param!r}: {close[0]!r}}}"
        )
    return ""


def _resolve(
    node: StepNode, param: str, producers: Collection[str], params: Collection[str]
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


def _find_cycle(order: Sequence[DagNode], children: Sequence[Sequence[int]]) -> list[str]:
    """The steps of one cycle, in order (iterative depth-first search by position)."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = [WHITE] * len(order)
    for root in range(len(order)):
        if color[root] != WHITE:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path: list[int] = []
        while stack:
            at, k = stack.pop()
            if k == 0:
                color[at] = GREY
                path.append(at)
            if k < len(children[at]):
                stack.append((at, k + 1))
                child = children[at][k]
                if color[child] == GREY:
                    return [order[j].name for j in path[path.index(child) :]]
                if color[child] == WHITE:
                    stack.append((child, 0))
            else:
                color[at] = BLACK
                path.pop()
    raise AssertionError("no cycle found")  # pragma: no cover (called only on a cycle)


def build_dag(spec: PipelineSpec, params: Collection[str] = ()) -> Dag:
    """The DAG of ``spec`` given the names of the run parameters that will be supplied.

    Compiled once per set of available names (the pipeline's context plus ``params``) and
    remembered on the spec until a step is added.

    :raises PipelineBuildError: listing every problem found
    """
    available = frozenset(spec.context) | frozenset(params)
    dag: Dag | None = spec._dags.get(available)
    if dag is None:
        nodes, problems = spec._trace()
        dag = spec._dags[available] = compile_dag(spec.name, nodes, available, problems)
    return dag
