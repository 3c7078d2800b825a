"""Step groups: steps declared with one ``execution_group=`` that run as one unit.

A group is a set of steps that can run one after the other in a single task: no step
outside it lies on a path between two of its steps (else that step would have to run in
the middle of the task).  The steps sharing a name are taken in the DAG's order and cut
into maximal runs that have this property; a name that needs more than one run gives
them the names ``name_0``, ``name_1``, ... (the published flowyml's naming).

A group's resource requirements are the largest of its steps' (its steps run one at a
time, so the task needs what the hungriest of them needs, not the sum).  Steps asking
for different GPU types get the most capable of them (a step that asks for a V100 also
runs on an A100), when flowyml knows how they compare (:data:`GPU_RANKING`); two types it
cannot compare are a build error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ..definition._resources import GPUConfig, ResourceRequirements
from ..errors import PipelineBuildError, StepGroupError
from ._dag import kahn_order

if TYPE_CHECKING:
    from ._dag import DagNode

__all__ = ("GPU_RANKING", "StepGroup", "find_groups")

#: GPU families, most capable first (matched within the type's name: "nvidia-a100")
GPU_RANKING: Final = ("h100", "a100", "v100", "t4")


class StepGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Steps that run together, as one task, in :attr:`steps` order.

    :ivar name: the group's name (the ``execution_group``, with ``_<i>`` appended when the
        steps sharing it had to be cut into several groups)
    :ivar execution_group: the name the steps declared
    :ivar steps: the steps (compiled nodes: ``.name``, ``.step``), in the order they run
    :ivar resources: what the group's task needs: each field's largest value among its
        steps (``None`` when no step asks for anything)
    """

    name: str
    execution_group: str
    steps: tuple[DagNode, ...]
    resources: ResourceRequirements | None = None

    def __repr__(self) -> str:
        return f"StepGroup(name={self.name!r}, steps={self.execution_order})"

    # The published flowyml's names for the same things.
    @property
    def group_name(self) -> str:
        """The group's name (as :attr:`name`)."""
        return self.name

    @property
    def execution_order(self) -> list[str]:
        """The steps' names, in the order they run."""
        return [node.name for node in self.steps]

    @property
    def aggregated_resources(self) -> ResourceRequirements | None:
        """What the group's task needs (as :attr:`resources`)."""
        return self.resources

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for the DAG view)."""
        out: dict[str, Any] = {"name": self.name, "steps": self.execution_order}
        if self.resources is not None:
            out["resources"] = self.resources.to_dict()
        return out


def find_groups(
    order: Sequence[DagNode],
    children: Sequence[Sequence[int]],
    grouped: Sequence[int],
    found: list[PipelineBuildError],
) -> tuple[StepGroup, ...]:
    """The step groups of a DAG (``grouped``: positions of the steps that name one).

    Problems (a mapped or conditional step in a group, GPU types that clash) are added to
    ``found``.
    """
    by_name: dict[str, list[int]] = {}
    for i in grouped:
        node = order[i]
        name = node.step.execution_group
        assert name is not None
        why = _why_not(node)
        if why:
            found.append(StepGroupError(name, node.name, why))
            continue
        by_name.setdefault(name, []).append(i)
    if not by_name:
        return ()
    rank = _ranks(order, children)
    parents = _parents(children)
    groups: list[StepGroup] = []
    for name, members in by_name.items():
        runs = _runs(sorted(members, key=rank.__getitem__), children, parents)
        for k, run in enumerate(runs):
            steps = tuple(order[i] for i in run)
            label = name if len(runs) == 1 else f"{name}_{k}"
            resources = _largest(label, [order[i] for i in run], found)
            groups.append(
                StepGroup(name=label, execution_group=name, steps=steps, resources=resources)
            )
    return tuple(groups)


def _why_not(node: DagNode) -> str:
    """Why ``node`` cannot be part of a group ("" when it can)."""
    if node.map_param is not None:
        return "it is mapped (its elements run as tasks of their own)"
    if node.step.condition is not None:
        return "it has a condition (the run decides it before the step starts)"
    return ""


def _ranks(order: Sequence[DagNode], children: Sequence[Sequence[int]]) -> list[int]:
    """Each step's place in the DAG's (stable topological) order."""
    parents = [0] * len(order)
    for kids in children:
        for d in kids:
            parents[d] += 1
    rank = [0] * len(order)
    for r, i in enumerate(kahn_order(parents, children)):
        rank[i] = r
    return rank


def _parents(children: Sequence[Sequence[int]]) -> list[list[int]]:
    parents: list[list[int]] = [[] for _ in children]
    for i, kids in enumerate(children):
        for d in kids:
            parents[d].append(i)
    return parents


def _runs(
    members: list[int], children: Sequence[Sequence[int]], parents: Sequence[Sequence[int]]
) -> list[list[int]]:
    """Cut ``members`` (in topological order) into maximal runs that no outside step
    splits: a step joins the current run unless one of its ancestors descends from the
    run without being in it."""
    runs: list[list[int]] = []
    run: list[int] = []
    below: set[int] = set()  # every step downstream of the current run
    for m in members:
        if run and not _joins(m, set(run), below, parents):
            runs.append(run)
            run, below = [], set()
        run.append(m)
        _reach(m, children, below)
    if run:
        runs.append(run)
    return runs


def _joins(m: int, run: set[int], below: set[int], parents: Sequence[Sequence[int]]) -> bool:
    """Whether no ancestor of ``m`` outside ``run`` is downstream of ``run``."""
    seen: set[int] = set()
    stack = list(parents[m])
    while stack:
        a = stack.pop()
        if a in seen:
            continue
        seen.add(a)
        if a not in run and a in below:
            return False
        stack.extend(parents[a])
    return True


def _reach(start: int, children: Sequence[Sequence[int]], into: set[int]) -> None:
    stack = list(children[start])
    while stack:
        d = stack.pop()
        if d not in into:
            into.add(d)
            stack.extend(children[d])


def _largest(
    group: str, nodes: Sequence[DagNode], found: list[PipelineBuildError]
) -> ResourceRequirements | None:
    """The largest of each field of the steps' resources."""
    reqs = [n.step.resources for n in nodes if n.step.resources is not None]
    if not reqs:
        return None
    cpus = [r.cpu for r in reqs if r.cpu is not None]
    memories = [r.memory for r in reqs if isinstance(r.memory, int)]
    gpus = [r.gpu for r in reqs if isinstance(r.gpu, GPUConfig) and r.gpu.count]
    gpu = None
    if gpus:
        gpu_type = _best_type(group, nodes, {g.gpu_type for g in gpus} - {None}, found)
        gpu = GPUConfig(count=max(g.count for g in gpus), gpu_type=gpu_type)
    return ResourceRequirements(
        cpu=max(cpus) if cpus else None, memory=max(memories) if memories else None, gpu=gpu
    )


def _best_type(
    group: str, nodes: Sequence[DagNode], types: set[str | None], found: list[PipelineBuildError]
) -> str | None:
    """The most capable of the GPU types the group's steps ask for."""
    if len(types) <= 1:
        return next(iter(types), None)
    names = sorted(t for t in types if t is not None)
    ranks = [_rank(t) for t in names]
    best = min(ranks)
    if best == len(GPU_RANKING):  # none of them known
        users = [n.name for n in nodes if n.step.resources and n.step.resources.gpu_count]
        found.append(
            StepGroupError(
                group,
                users[-1],
                f"the group's steps ask for GPU types flowyml cannot compare "
                f"({', '.join(names)}), and a group runs on one machine",
            )
        )
    return names[ranks.index(best)]


def _rank(gpu_type: str) -> int:
    low = gpu_type.lower()
    return next((i for i, family in enumerate(GPU_RANKING) if family in low), len(GPU_RANKING))
