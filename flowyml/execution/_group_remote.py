"""A step group run as one call of an executor that keeps outputs on its workers.

The driver first settles what it can without the workers, step by step in the group's
order: a resumed step, or one whose inputs are all known and whose cache entry matches,
takes its stored outputs.  The rest (from the first step that must run, everything that
reads from it) go to the executor as one :class:`GroupCall`: one task on one worker, which
runs them in order with their own retries and timeouts, hands outputs from step to step
in memory, and stores each step's outputs itself when it shares the artifact store.

While the task runs, the executor hands on each step's events as they happen on the
worker (:class:`MemberEvent`); :mod:`._group_events` records them as the steps' own
events (``step_started``, ``step_log``, ``step_retrying``, ``step_succeeded`` or
``step_failed``, with the worker's times) and stores each step's cache entry, so a later
run can take any of them from the cache.  Once the task has ended, the steps' outputs
(kept on the worker) are handed to the steps that read them.
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ..definition._context import StepContext
from ..definition._params import FromOutput
from ._core import OK, TERMINAL
from ._handles import lists_for
from ._inputs import resolve
from ._protocol import SaveTo, StepCall

if TYPE_CHECKING:
    from ..compile._dag import DagNode
    from ..definition._resources import ResourceRequirements
    from ..events import ArtifactRef, LogLine
    from ._groups import GroupRun, RunsGroups
    from ._protocol import OutputHandle
    from ._runner import Runner

__all__ = (
    "FromGroup",
    "GroupCall",
    "GroupOutcome",
    "MemberCall",
    "MemberEvent",
    "MemberOutcome",
    "run_remote",
)


@dataclass(frozen=True, slots=True)
class FromGroup:
    """An argument that an earlier step of the same group outputs (``output``)."""

    output: str


@dataclass(slots=True, eq=False)
class MemberCall:
    """One step of a group's call; ``call.kwargs`` may hold :class:`FromGroup` values."""

    call: StepCall
    retries: int
    retry_delay: float
    backoff: float
    timeout: float | None


@dataclass(slots=True, eq=False)
class MemberEvent:
    """Something that happened to one step of a group's task, when it happened there.

    ``kind`` is ``started`` (``attempt`` began; ``message``: on which worker), ``log`` (its ``lines``), ``retrying``
    (``message``: the error; ``delay``), ``lost`` (the worker running ``attempt`` was
    lost, ``message`` says which; the task runs again elsewhere), ``succeeded``
    (``refs``: the outputs the worker stored) or ``failed`` (``error``).
    """

    step: str
    kind: str
    attempt: int
    ts: float
    #: when the attempt that ended started
    started: float = 0.0
    message: str = ""
    delay: float = 0.0
    refs: dict[str, ArtifactRef] = field(default_factory=dict)
    error: BaseException | None = None
    lines: list[LogLine] = field(default_factory=list)


def _ignore(event: MemberEvent) -> None:
    return None


@dataclass(slots=True, eq=False)
class GroupCall:
    """The steps of a group to run in order, in one task; the executor calls ``on_event``
    (on the event loop, at once) with each event of its steps as it arrives."""

    name: str
    execution_group: str
    resources: ResourceRequirements | None
    members: list[MemberCall]
    on_event: Callable[[MemberEvent], None] = _ignore


@dataclass(slots=True, eq=False)
class MemberOutcome:
    """How one step of a group ended: ``succeeded``, ``failed`` or ``skipped`` (an earlier
    step it reads from failed), its outputs, and its error when it failed."""

    status: str
    outputs: dict[str, OutputHandle] = field(default_factory=dict)
    error: BaseException | None = None


#: each step's outcome, by name
GroupOutcome = dict[str, MemberOutcome]


@dataclass(slots=True, eq=False)
class _Planned:
    node: DagNode
    kwargs: dict[str, Any]
    cache_key: str | None
    inputs: dict[str, str]


async def run_remote(group: GroupRun, runner: Runner, executor: RunsGroups) -> None:
    """The group's task: settle what the driver can, run the rest as one executor call."""
    from ._group_events import GroupRecorder

    planned: list[_Planned] = []
    recorder: GroupRecorder | None = None
    try:
        planned = await _plan(group, runner)
        if not planned:
            return
        recorder = GroupRecorder(runner, planned)
        call = _group_call(group, runner, planned, recorder)
        limits = runner._calls.limits
        first = planned[0].node.step
        outcome = await limits.call(first, functools.partial(executor.call_group, call))
        await recorder.finish(outcome)
    except anyio.get_cancelled_exc_class():
        raise  # the run's own cancellation
    except Exception as exc:  # the call itself failed: so did every step still waiting on it
        if recorder is not None:
            recorder.crashed(exc)
            return
        for p in planned:
            r = runner.state.by_pos[p.node.index]
            if r.status not in TERMINAL:
                runner._crashed(p.node, r, exc)
    except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run, as a step would
        waiting = [p for p in planned if runner.state.by_pos[p.node.index].status not in TERMINAL]
        node = (waiting or planned or [_Planned(group.members[0], {}, None, {})])[0].node
        runner._interrupted(node, runner.state.by_pos[node.index], exc)


async def _plan(group: GroupRun, runner: Runner) -> list[_Planned]:
    """Settle the group's steps that need no worker; return the others, in order."""
    state, persist, calls = runner.state, runner._persist, runner._calls
    planned: list[_Planned] = []
    in_task: dict[str, FromGroup] = {}
    for node in group.members:
        r = state.by_pos[node.index]
        if r.status in TERMINAL:  # skipped: an input failed
            continue
        reads_task = any(
            isinstance(b, FromOutput) and b.output in in_task for _, b in node.bindings
        )
        inputs = {} if persist is None else persist.input_ids(node)
        key: str | None = None
        if not reads_task and await runner._took_resumed(node):
            continue
        kwargs, ctx_params = resolve(node, ChainMap(in_task, state.values), runner.params)
        if not reads_task and persist is not None:
            key = await persist.key_for(node, kwargs)
            if key is not None and await calls._from_cache(node, key, inputs):
                runner._settle(node, OK)
                continue
        await _prepare(node, kwargs, ctx_params, runner)
        planned.append(_Planned(node, kwargs, key, inputs))
        in_task.update((out, FromGroup(out)) for out in node.outputs)
    return planned


async def _prepare(
    node: DagNode, kwargs: dict[str, Any], ctx_params: list[str], runner: Runner
) -> None:
    """What the worker cannot do itself: the step's context and shared resources, the
    values of a mapped step's results, cached inputs when the store is not shared."""
    calls, persist = runner._calls, runner._persist
    if ctx_params:
        sc = StepContext(runner.run_id, node.name, 1, runner.dag.pipeline, runner.params)
        kwargs.update(dict.fromkeys(ctx_params, sc))
    if calls.resources.in_use:
        kwargs.update(await calls.resources.inject(node.name, kwargs))
    await lists_for(calls.remote, kwargs)  # a mapped step's results stay where they are
    if persist is not None and runner.state.lazy and not calls.shared_store:
        await persist.realize(node, kwargs)


def _group_call(
    group: GroupRun,
    runner: Runner,
    planned: list[_Planned],
    on_event: Callable[[MemberEvent], None],
) -> GroupCall:
    calls, persist = runner._calls, runner._persist
    members = []
    for p in planned:
        step = p.node.step
        save = None
        if persist is not None and calls.shared_store:
            rt = persist.runtime
            save = SaveTo(
                rt.artifacts_url, runner.run_id, p.node.name, persist.id_stamp, persist=step.persist
            )
        call = StepCall(
            fn=step.fn,
            kwargs=p.kwargs,
            is_async=step.is_async,
            name=p.node.name,
            outputs=tuple(p.node.outputs),
            resources=step.resources,
            group=step.execution_group,
            save=save,
            asset_params=step.asset_params,
            max_log_lines=step.max_log_lines,
            capture_output=step.capture_output,
        )
        members.append(MemberCall(call, step.retries, step.retry_delay, step.backoff, step.timeout))
    spec = group.spec
    return GroupCall(
        name=spec.name,
        execution_group=spec.execution_group,
        resources=spec.resources,
        members=members,
        on_event=on_event,
    )


def stored_inputs(node: DagNode, refs: dict[str, Any]) -> bool:
    """Whether every output ``node`` reads is stored (its key needs their hashes), and its
    key is made from them (a key function, ``cache=fn``, would need their values)."""
    if not isinstance(node.step.cache_by, str):
        return False
    return all(b.output in refs for _, b in node.bindings if isinstance(b, FromOutput))
