"""Step groups at run time: each group's steps run one after the other in one task.

The scheduler still sees every step on its own: it says when each is ready, and each
step still gets its own events, cache lookup, retries and artifacts.  What changes is
who starts them: instead of a task per ready step, a group gets one task, started once
every step outside the group that one of its steps reads from has ended.  The task then
takes the group's steps in order; by then each one is either ready (its inputs come
from outside, all ended, or from the group's earlier steps, which ran before it) or
skipped (an input failed), so the task never waits on anything but its own steps.

An executor that can run a whole group as one call of its own (:class:`RunsGroups`,
e.g. the Dask executor: one Dask task per group) gets the group's steps that must run
in one call; see :mod:`._group_remote`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import anyio.lowlevel

from ._core import TERMINAL

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode
    from ..compile._groups import StepGroup
    from ._group_remote import GroupCall, GroupOutcome
    from ._runner import Runner

__all__ = ("GroupRun", "Groups", "RunsGroups")


@runtime_checkable
class RunsGroups(Protocol):
    """An executor that runs several steps as one call (one task on its workers)."""

    async def call_group(self, call: GroupCall) -> GroupOutcome:
        """Run the steps of ``call`` in order, in one task; report each one's outcome."""


class GroupRun:
    """One step group of a run: its steps, and how many outside steps it waits for."""

    __slots__ = ("members", "spec", "waiting")

    def __init__(self, spec: StepGroup, members: tuple[DagNode, ...], waiting: int) -> None:
        self.spec = spec
        self.members = members
        self.waiting = waiting


class Groups:
    """Which steps of a run belong to a group, and when each group's task starts."""

    __slots__ = ("_by_member", "_first", "_runner", "_watchers")

    def __init__(self, dag: Dag, runner: Runner) -> None:
        self._runner = runner
        nodes = dag.nodes
        #: position -> its group
        self._by_member: dict[int, GroupRun] = {}
        #: position -> the groups that wait for it to end
        self._watchers: dict[int, list[GroupRun]] = {}
        self._first: list[GroupRun] = []  # the groups that wait for nothing
        for group in dag.groups:
            members = group.steps
            inside = {m.index for m in members}
            outside = {
                p for m in members for p in (nodes[u].index for u in m.upstream) if p not in inside
            }
            run = GroupRun(group, members, len(outside))
            for p in outside:
                self._watchers.setdefault(p, []).append(run)
            for m in members:
                self._by_member[m.index] = run
            if not outside:
                self._first.append(run)

    def sort(
        self, ready: Sequence[int], ended: Iterable[int] | None
    ) -> tuple[list[int], list[GroupRun]]:
        """Split the steps the scheduler made ready into those that start a task of their
        own and the groups due to start now.

        :param ended: the steps that just ended (succeeded, failed or skipped); ``None`` at
            the start of the run
        """
        due: list[GroupRun] = []
        if ended is None:
            due.extend(self._first)
        else:
            for p in ended:
                for run in self._watchers.get(p, ()):
                    run.waiting -= 1
                    if run.waiting == 0:
                        due.append(run)
        by_member = self._by_member
        alone = [p for p in ready if p not in by_member]
        return alone, due

    async def run(self, group: GroupRun) -> None:
        """A group's task: its steps one after the other, here or as one executor call."""
        runner = self._runner
        executor = runner._calls.executor
        if runner._calls.remote is not None and isinstance(executor, RunsGroups):
            from ._group_remote import run_remote

            await run_remote(group, runner, executor)
            return
        results = runner.state.by_pos
        for node in group.members:
            # A stopped run (fail_fast, a cancel) starts none of the group's other steps.
            await anyio.lowlevel.checkpoint_if_cancelled()
            if results[node.index].status not in TERMINAL:  # else skipped: an input failed
                await runner._run_step(node)
