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
    CycleError,
    DuplicateOutputError,
    DuplicateStepError,
    MissingInputError,
    PipelineBuildError,
)
from ._dag import Dag, DagNode, kahn_order

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
    # One pass over the placed steps: each distinct name gets its position (the first
    # placement wins; any duplicate is an error), each output its producer's position.
    position: dict[str, int] = {}
    unique: list[StepNode] = []
    names: list[str] = []  # by position: reading a producer's name touches no node
    producers: dict[str, int] = {}
    clashes: list[PipelineBuildError] = []
    for node in nodes:
        name = node.name
        i = position.setdefault(name, len(unique))
        if i == len(unique):
            unique.append(node)
            names.append(name)
        else:
            found.append(DuplicateStepError(name))
        for out in node.outputs:
            j = producers.setdefault(out, i)
            if j != i:
                clashes.append(DuplicateOutputError(out, [names[j], name]))
    found.extend(clashes)

    # Consecutive consumers of one output (a fan-out) share one binding object, and
    # consecutive steps bound alike share their (immutable) tuples: fewer objects for the
    # cycle collector's first pass over what compiling made, and a smaller DAG.
    shared_out: str | None = None
    shared = FromOutput("")
    last_bindings: tuple[tuple[str, Binding], ...] = ()
    last_upstream: tuple[str, ...] = ()
    compiled: dict[str, DagNode] = {}
    order: list[DagNode] = []
    parents: list[int] = []
    children: list[list[int]] = [[] for _ in unique]
    ordered = True  # every step placed after all of its producers (so: no cycle)
    used_params: set[str] = set()
    outputs_of: dict[str, tuple[str, ...]] = {}  # step name -> outputs, for messages
    for i, node in enumerate(unique):
        name = node.name
        bindings: list[tuple[str, Binding]] = []
        upstream_names: list[str] = []
        step = node.step
        explicit = node.bindings
        extra: list[str] = []  # bound names the signature lacks (**kwargs receivers)
        if not explicit.keys() <= step.parameter_set:
            extra = [p for p in explicit if p not in step.parameter_set]
        defaults = False
        for param in (*step.parameters, *extra) if extra else step.parameters:
            b = explicit.get(param)
            kind = type(b)
            src: int | None = None
            if kind in _NAMED:
                out = b.source if kind is FromInput else b.output  # type: ignore[union-attr]
                src = producers.get(out)
            elif b is None:
                out = param
                src = _same_name(step, param, producers, i)
            if src is not None:
                if out != shared_out:
                    shared_out, shared = out, FromOutput(out)
                b = shared
                consumers = children[src]
                # Steps are visited in order, so if this one already depends on ``src``
                # it is the last child recorded there (an input read twice: one edge).
                if not consumers or consumers[-1] != i:
                    consumers.append(i)
                    upstream_names.append(names[src])
                    if src >= i:
                        ordered = False
            else:
                b = _resolve(node, param, producers, params)
                if b is None:
                    found.append(_missing(node, param, unique, outputs_of))
                    continue
                kind = type(b)
                if kind is FromParam:
                    used_params.add(b.name)  # type: ignore[union-attr]
                elif kind is FromDefault:
                    defaults = True
            bindings.append((param, b))
        positional: tuple[str, ...] | None = None
        if not extra:
            if step.positional and not defaults:
                positional = step.parameters
            else:
                positional = _positional(step, bindings)
        bound = tuple(bindings)
        if (  # one parameter bound to the very same object: no __eq__ of a user's value
            len(bound) == 1
            and len(last_bindings) == 1
            and bound[0][1] is last_bindings[0][1]
            and bound[0][0] == last_bindings[0][0]
        ):
            bound = last_bindings
        last_bindings = bound
        ups = tuple(upstream_names)
        if ups == last_upstream:
            ups = last_upstream
        last_upstream = ups
        dnode = compiled[name] = DagNode(
            name=name,
            step=step,
            outputs=node.outputs,
            bindings=bound,
            upstream=ups,
            map_param=node.map_param,
            positional=positional,
            index=i,
        )
        order.append(dnode)
        parents.append(len(upstream_names))

    kids = _shared_tuples(children)
    if not found and not ordered and len(kahn_order(parents, kids)) < len(parents):
        named = {n.name: [order[j].name for j in k] for n, k in zip(order, kids, strict=True)}
        cycle = _find_cycle(compiled, named)
        assert cycle is not None
        found.append(CycleError(cycle))
    if found:
        raise PipelineBuildError.combine(pipeline, found)
    return Dag(
        pipeline=pipeline,
        nodes=compiled,
        order=tuple(order),
        parents=tuple(parents),
        children=kids,
        producer_index=producers,
        params=frozenset(used_params),
    )


def _shared_tuples(lists: list[list[int]]) -> tuple[tuple[int, ...], ...]:
    """``lists`` as tuples, consecutive equal ones sharing one (the leaves of a fan-out
    all have the same single child: one tuple for all of them)."""
    out: list[tuple[int, ...]] = []
    prev: list[int] | None = None
    shared: tuple[int, ...] = ()
    for kids in lists:
        if kids != prev:
            prev, shared = kids, tuple(kids)
        out.append(shared)
    return tuple(out)


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


def _missing(
    node: StepNode, param: str, nodes: Sequence[StepNode], outputs_of: dict[str, tuple[str, ...]]
) -> MissingInputError:
    """The error for ``param`` of ``node``, which nothing supplies (``outputs_of`` is filled
    on the first call: step name -> outputs)."""
    if not outputs_of:
        outputs_of.update((n.name, n.outputs) for n in nodes)
    wanted = _wanted(node, param)
    return MissingInputError(node.name, wanted, hint=_hint(param, wanted, outputs_of))


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
