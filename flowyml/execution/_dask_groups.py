"""A step group as one Dask task (see :mod:`._group_remote` for the driver's side).

:func:`submit_group` sends the group's steps as one task, placed like a step with the
group's resources; :func:`~._group_worker.run_group` runs them on the worker, one after
the other in one of its task threads (an async step on the worker's loop).  While it
runs, each step's events arrive here as Dask events and are handed on at once
(:attr:`GroupCall.on_event <._group_remote.GroupCall>`).  The task returns one
:class:`~._dask_worker.Outcome` holding every step's outputs, so a later step outside the
group reads them from the worker like any other step's.
"""

from __future__ import annotations

import logging
import pickle
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..events import LogLine
from ._dask_worker import Outcome, Task
from ._group_remote import FromGroup, MemberEvent, MemberOutcome
from ._group_worker import run_group
from ._protocol import StepCall

if TYPE_CHECKING:
    from ._dask import DaskExecutor
    from ._group_remote import GroupCall, GroupOutcome

__all__ = ("submit_group",)

log = logging.getLogger("flowyml")


@dataclass(frozen=True, slots=True)
class _Member:
    task: Task
    retries: int
    retry_delay: float
    backoff: float
    timeout: float | None
    #: parameter -> the output of an earlier step of the group it reads
    internal: dict[str, str]


class _Kept(Outcome):
    """A group's outputs, kept on the worker, with their size told to Dask.

    Dask places a task that reads this (a later step, or a copy to the driver) by the
    size of what it reads; without it, it would count the few bytes of the container and
    could move every output of the group to another worker to read one.
    """

    __slots__ = ()

    def __sizeof__(self) -> int:
        from dask.sizeof import sizeof

        held: int = sum(sizeof(v) for v in self.values.values())
        return object.__sizeof__(self) + held


@dataclass(frozen=True, slots=True)
class _Group:
    key: str
    members: tuple[_Member, ...]


async def submit_group(executor: DaskExecutor, call: GroupCall) -> GroupOutcome:
    """Run ``call``'s steps as one Dask task; return each step's outcome."""
    from ._dask import _split_inputs, _split_lists

    client = executor._open_client()
    head = StepCall(
        fn=_no_call,
        kwargs={},
        is_async=False,
        name=call.name,
        outputs=(),
        resources=call.resources,
        group=call.execution_group,
        save=None,
    )
    restrict = await executor._place.restrictions(client, head)
    key = f"flowyml-{uuid.uuid4().hex}-group-{call.name}"  # one Dask task group (see _dask)
    members: list[_Member] = []
    plain: dict[str, Any] = {}
    upstream: dict[str, Any] = {}
    cached: dict[str, Any] = {}
    lists: dict[str, Any] = {}  # mapped steps' results: their elements travel as futures
    for j, m in enumerate(call.members):
        c = m.call
        internal = {k: v.output for k, v in c.kwargs.items() if isinstance(v, FromGroup)}
        own_lists, own = _split_lists({k: v for k, v in c.kwargs.items() if k not in internal})
        lists.update((f"{j}:{k}", v) for k, v in own_lists.items())
        p, u, cd = _split_inputs(own)
        plain.update((f"{j}:{k}", v) for k, v in p.items())
        upstream.update((f"{j}:{k}", v) for k, v in u.items())
        cached.update((f"{j}:{k}", v) for k, v in cd.items())
        task = Task(
            c.fn,
            c.is_async,
            c.name,
            c.outputs,
            c.asset_params,
            c.save,
            key,
            max_log_lines=c.max_log_lines,
            capture_output=c.capture_output,
        )
        members.append(_Member(task, m.retries, m.retry_delay, m.backoff, m.timeout, internal))
    group = _Group(key, tuple(members))

    def lost(cause: str) -> None:  # each step's share is told by the task's next run
        log.warning("step group %r: %s", call.name, cause.replace("the step", "the group"))

    def on_member(msg: dict[str, Any]) -> None:
        try:  # never break the client's event stream
            call.on_event(member_event(msg))
        except Exception:
            log.exception("step group %r: cannot record an event from its worker", call.name)

    future, reports = await executor._submit(
        client,
        (run_group, group, plain, upstream, cached, lists),
        key,
        restrict,
        lost,
        head,
        on_member,
    )
    return {name: _member_outcome(executor, future, *report) for name, report in reports.items()}


def _no_call() -> None:  # pragma: no cover (a placeholder: the group's steps are called)
    raise AssertionError("not called")


def member_event(msg: dict[str, Any]) -> MemberEvent:
    """The driver's form of a step event the group's task sent (see :mod:`._group_worker`)."""
    kind = str(msg["kind"])
    event = MemberEvent(
        step=str(msg["member"]), kind=kind, attempt=int(msg["attempt"]), ts=float(msg["ts"])
    )
    if kind == "started":
        event.message = str(msg.get("worker", "?"))  # Dask adds the sender's address
        return event
    if kind == "log":
        event.lines = [LogLine(*line) for line in msg["lines"]]
    elif kind == "retrying":
        event.message, event.delay = str(msg["error"]), float(msg["delay"])
    elif kind == "lost":
        event.message = (
            f"WorkerLost: Dask worker {msg['lost']} was lost while running the step; "
            f"Dask runs it again on {msg['now']}"
        )
    elif kind == "succeeded":
        event.refs = pickle.loads(msg["refs"])
        event.started = float(msg.get("started", event.ts))
    elif kind == "failed":
        event.error = _error(msg.get("error"), msg.get("tb"))
        event.started = float(msg.get("started", event.ts))
    return event


def _member_outcome(
    executor: DaskExecutor,
    future: Any,
    status: str,
    described: dict[str, Any],
    error: bytes | None,
    tb: str | None,
) -> MemberOutcome:
    failure = _error(error, tb) if status == "failed" else None
    return MemberOutcome(status, executor._handles(future, described), failure)


def _error(error: bytes | None, tb: str | None) -> BaseException:
    """A step's error as raised on the worker (its traceback there added as a note)."""
    try:
        if error is None:
            raise ValueError("no error was sent")
        exc: BaseException = pickle.loads(error)
    except Exception:
        exc = RuntimeError((tb or "the step failed on its Dask worker").strip().rsplit("\n", 1)[-1])
    if tb:
        exc.add_note(f"raised on the Dask worker:\n{tb.rstrip()}")
    return exc
