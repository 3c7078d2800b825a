"""The compiled, immutable pipeline graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from ..definition._params import Binding, Const, FromContext, FromDefault, FromOutput, FromParam

if TYPE_CHECKING:
    from ..definition._step import Step
    from ._groups import StepGroup

__all__ = ("Dag", "DagNode", "Edge", "kahn_order")


@dataclass(slots=True, frozen=True)
class Edge:
    """``target`` consumes the output ``name`` of ``source``."""

    source: str
    target: str
    name: str


class DagNode(msgspec.Struct, frozen=True, eq=False):
    """A step in the compiled graph, with every parameter's binding resolved.

    A frozen :mod:`msgspec` struct rather than a frozen dataclass: one is made per step,
    and a frozen dataclass sets each field through ``object.__setattr__`` (1.5 us per
    node against 0.2 us here).  Equality is identity.  A node stays visible to the cycle
    collector: its step may be a bound method whose object owns the pipeline (and so the
    node), and such a cycle must be collectable.
    """

    name: str
    step: Step[..., Any]
    outputs: tuple[str, ...]
    bindings: tuple[tuple[str, Binding], ...]
    upstream: tuple[str, ...]
    map_param: str | None = None
    #: the parameters to pass positionally, in order, when every value the step receives
    #: can go by position (``None``: call by keyword).  Calling ``fn(*values)`` costs
    #: O(n); CPython matches ``fn(**values)`` against the signature name by name.
    positional: tuple[str, ...] | None = None
    #: the node's position in :attr:`Dag.order` (the executor's per-step state is kept
    #: in lists by position, not in dicts by name)
    index: int = 0
    #: the position of the mapped step whose elements feed this mapped step's one by one
    #: (element ``i`` starts when element ``i`` there succeeds), or ``None``
    chain: int | None = None

    def param_names(self) -> list[str]:
        """Run parameters this node reads."""
        return [b.name for _, b in self.bindings if isinstance(b, FromParam)]

    def input_outputs(self) -> list[str]:
        """Upstream output names this node reads."""
        return [b.output for _, b in self.bindings if isinstance(b, FromOutput)]


def kahn_order(parents: Sequence[int], children: Sequence[Sequence[int]]) -> list[int]:
    """Positions in dependency order, stable (Kahn's algorithm over counters by position).

    Steps on a cycle, and those after one, are left out: the result is shorter than
    ``parents`` exactly when the graph has a cycle.
    """
    remaining = list(parents)
    found = [i for i, c in enumerate(remaining) if c == 0]
    k = 0
    while k < len(found):
        for d in children[found[k]]:
            remaining[d] -= 1
            if remaining[d] == 0:
                found.append(d)
        k += 1
    return found


@dataclass(slots=True, frozen=True, eq=False, weakref_slot=True)
class Dag:
    """Nodes in insertion order, edges between them, and lookups the executor needs.

    Besides the views by name (:attr:`nodes`, :attr:`downstream`, :attr:`producers`),
    the graph is kept by position: ``order[i]`` is the node whose ``index`` is ``i``,
    ``parents[i]`` how many distinct steps it waits for and ``children[i]`` the
    positions of the steps that wait for it.  The executor works on those: on a
    100,000-step graph, a lookup in a list by position costs a fraction of one in a dict
    by name, whose keys are scattered through memory.
    """

    pipeline: str
    nodes: Mapping[str, DagNode]
    order: tuple[DagNode, ...]
    parents: tuple[int, ...]
    children: tuple[tuple[int, ...], ...]
    #: output name -> position of the step that produces it
    producer_index: Mapping[str, int]
    params: frozenset[str] = field(default_factory=frozenset)
    #: the steps that run together (``execution_group=``), see :mod:`._groups`
    groups: tuple[StepGroup, ...] = ()
    #: position of a mapped step -> positions of the mapped steps chained to it
    streams: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    @property
    def producers(self) -> dict[str, str]:
        """Output name -> name of the step that produces it (built on demand)."""
        order = self.order
        return {out: order[i].name for out, i in self.producer_index.items()}

    @property
    def downstream(self) -> dict[str, tuple[str, ...]]:
        """Step name -> names of the steps that consume its outputs (built on demand)."""
        order = self.order
        return {
            node.name: tuple(order[j].name for j in kids)
            for node, kids in zip(order, self.children, strict=True)
        }

    @property
    def edges(self) -> tuple[Edge, ...]:
        """Every data dependency, in step order (derived from the bindings on demand)."""
        producers = self.producers
        return tuple(
            Edge(producers[b.output], name, b.output)
            for name, node in self.nodes.items()
            for _, b in node.bindings
            if type(b) is FromOutput
        )

    def topological_order(self) -> list[str]:
        """Step names so that every step comes after all of its dependencies (stable)."""
        order = self.order
        return [order[i].name for i in kahn_order(self.parents, self.children)]

    def visualize(self) -> str:
        """A text view: one line per step, in topological order, with its dependencies."""
        lines = [f"pipeline {self.pipeline!r} ({len(self.nodes)} steps)"]
        for name in self.topological_order():
            node = self.nodes[name]
            deps = ", ".join(node.upstream) if node.upstream else "-"
            outs = ", ".join(node.outputs)
            kind = "async" if node.step.is_async else "sync"
            if node.chain is not None:
                kind += f", element-wise after {self.order[node.chain].name}"
            lines.append(f"  {name} [{kind}] <- {deps}  => {outs}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nodes and edges (what the dashboard draws)."""
        nodes = []
        for name, node in self.nodes.items():
            bindings: dict[str, str] = {}
            for param, b in node.bindings:
                if isinstance(b, FromOutput):
                    bindings[param] = f"output:{b.output}"
                elif isinstance(b, FromParam):
                    bindings[param] = f"param:{b.name}"
                elif isinstance(b, Const):
                    bindings[param] = "const"
                elif isinstance(b, FromContext):
                    bindings[param] = "step_context"
                elif isinstance(b, FromDefault):
                    bindings[param] = "default"
            nodes.append(
                {
                    "id": name,
                    "name": name,
                    "function": f"{node.step.fn.__module__}.{node.step.fn.__qualname__}",
                    "inputs": node.input_outputs(),
                    "outputs": list(node.outputs),
                    "params": node.param_names(),
                    "bindings": bindings,
                    "is_async": node.step.is_async,
                    "mapped": node.map_param is not None,
                    #: the mapped step whose elements start this one's one by one
                    "chained": None if node.chain is None else self.order[node.chain].name,
                    "group": name.rsplit(".", 1)[0] if "." in name else None,
                    "tags": list(node.step.tags),
                    "options": node.step.options(),
                }
            )
        edges = [{"source": e.source, "target": e.target, "name": e.name} for e in self.edges]
        return {"pipeline": self.pipeline, "nodes": nodes, "edges": edges}
