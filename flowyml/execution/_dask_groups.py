"""A step group as one Dask task (see :mod:`._group_remote` for the driver's side).

:func:`submit_group` sends the group's steps as one task, placed like a step with the
group's resources; :func:`run_group` runs them on the worker, one after the other in
one of its task threads (an async step on the worker's loop): each with its own retries
and timeout, each reading the earlier steps' outputs from memory, each storing its own
outputs when the worker shares the artifact store.  The task returns one
:class:`~._dask_worker.Outcome` holding every step's outputs, so a later step outside the
group reads them from the worker like any other step's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pickle
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SerializationError, StepOutputError, StepTimeoutError
from ._attempts import split_outputs
from ._dask_worker import (
    Outcome,
    Task,
    _describe,
    _finished,
    _load_cached,
    _saves,
    _started,
    _store_all,
    _unwrap,
    _worker,
)
from ._group_remote import Attempt, FromGroup, MemberOutcome
from ._protocol import NOT_INLINE, OutputHandle, StepCall
from ._retry import retry_delay

if TYPE_CHECKING:
    from ._dask import DaskExecutor
    from ._group_remote import GroupCall, GroupOutcome

__all__ = ("run_group", "submit_group")

log = logging.getLogger("flowyml")

#: failures another attempt would repeat
_FINAL = (StepOutputError, SerializationError)


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


#: one attempt as the worker reports it: (started, ended, pickled error, its traceback)
_Reported = tuple[float, float, bytes | None, str | None]


async def submit_group(executor: DaskExecutor, call: GroupCall) -> GroupOutcome:
    """Run ``call``'s steps as one Dask task; return each step's outcome."""
    from ._dask import _split_inputs

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
    for j, m in enumerate(call.members):
        c = m.call
        internal = {k: v.output for k, v in c.kwargs.items() if isinstance(v, FromGroup)}
        own = {k: v for k, v in c.kwargs.items() if k not in internal}
        p, u, cd = _split_inputs(own)
        plain.update((f"{j}:{k}", v) for k, v in p.items())
        upstream.update((f"{j}:{k}", v) for k, v in u.items())
        cached.update((f"{j}:{k}", v) for k, v in cd.items())
        task = Task(c.fn, c.is_async, c.name, c.outputs, c.asset_params, c.save, key)
        members.append(_Member(task, m.retries, m.retry_delay, m.backoff, m.timeout, internal))
    group = _Group(key, tuple(members))

    def lost(cause: str) -> None:  # Dask runs the whole group again; its report is the last
        log.warning("step group %r: %s", call.name, cause.replace("the step", "the group"))

    future, reports = await executor._submit(
        client, (run_group, group, plain, upstream, cached), key, restrict, lost, head
    )
    return {
        name: _member_outcome(executor, future, status, attempts, described)
        for name, (status, attempts, described) in reports.items()
    }


def _no_call() -> None:  # pragma: no cover (a placeholder: the group's steps are called)
    raise AssertionError("not called")


def _member_outcome(
    executor: DaskExecutor,
    future: Any,
    status: str,
    attempts: list[_Reported],
    described: dict[str, Any],
) -> MemberOutcome:
    handles = {
        out: OutputHandle(
            ref=ref,
            type_name=type_name,
            fetch=functools.partial(executor._fetch, future, out),
            source=(future, out),
            inline=value if small else NOT_INLINE,
        )
        for out, (ref, type_name, small, value) in described.items()
    }
    return MemberOutcome(status, [_attempt(*a) for a in attempts], handles)


def _attempt(started: float, ended: float, error: bytes | None, tb: str | None) -> Attempt:
    if error is None:
        return Attempt(started, ended)
    try:
        exc: BaseException = pickle.loads(error)
    except Exception:
        exc = RuntimeError((tb or "").strip().rsplit("\n", 1)[-1])
    if tb:
        exc.add_note(f"raised on the Dask worker:\n{tb.rstrip()}")
    return Attempt(started, ended, exc)


# --------------------------------------------------------------------------- worker side


def run_group(
    group: _Group, plain: dict[str, Any], upstream: dict[str, Any], cached: dict[str, Any]
) -> Outcome:
    """The group's task, in one of the worker's task threads."""
    worker = _worker()
    head = group.members[0].task
    _started(worker, head)
    values: dict[str, Any] = {}
    failed: set[str] = set()
    reports: dict[str, tuple[str, list[_Reported], dict[str, Any]]] = {}
    for j, m in enumerate(group.members):
        if any(out in failed for out in m.internal.values()):
            failed.update(m.task.outputs)
            reports[m.task.name] = ("skipped", [], {})
            continue
        status, attempts, outputs, described = _run_member(
            worker, j, m, plain, upstream, cached, values
        )
        reports[m.task.name] = (status, attempts, described)
        if status == "succeeded":
            values.update(outputs)
        else:
            failed.update(m.task.outputs)
    done = _finished(worker, head, values, reports, [])
    return _Kept(done.values, done.described, done.worker)


def _run_member(
    worker: Any,
    j: int,
    m: _Member,
    plain: dict[str, Any],
    upstream: dict[str, Any],
    cached: dict[str, Any],
    values: dict[str, Any],
) -> tuple[str, list[_Reported], dict[str, Any], dict[str, Any]]:
    from distributed.utils import sync

    prefix = f"{j}:"
    task = m.task
    attempts: list[_Reported] = []
    for n in range(1, m.retries + 2):
        started = time.time()
        try:
            kwargs = _kwargs(task, prefix, plain, upstream, m.internal, values)
            mine = {k[len(prefix) :]: v for k, v in cached.items() if k.startswith(prefix)}
            if mine:
                sync(worker.loop, _load_cached, worker, task, kwargs, mine)
            outputs = split_outputs(task, _call(worker, m, kwargs))
            refs = sync(worker.loop, _store_all, worker, task, outputs) if _saves(task) else {}
        except Exception as exc:
            tb = "".join(traceback.format_exception(exc))
            attempts.append((started, time.time(), _pickled(exc), tb))
            if n > m.retries or isinstance(exc, _FINAL):
                break
            time.sleep(retry_delay(n, m.retry_delay, m.backoff))
            continue
        attempts.append((started, time.time(), None, None))
        return "succeeded", attempts, outputs, _describe(outputs, refs)
    return "failed", attempts, {}, {}


def _kwargs(
    task: Task,
    prefix: str,
    plain: dict[str, Any],
    upstream: dict[str, Any],
    internal: dict[str, str],
    values: dict[str, Any],
) -> dict[str, Any]:
    kwargs = {k[len(prefix) :]: v for k, v in plain.items() if k.startswith(prefix)}
    for k, (outcome, out) in upstream.items():
        if k.startswith(prefix):
            param = k[len(prefix) :]
            kwargs[param] = _unwrap(task, param, outcome.values[out])
    for param, out in internal.items():
        kwargs[param] = _unwrap(task, param, values[out])
    return kwargs


def _call(worker: Any, m: _Member, kwargs: dict[str, Any]) -> Any:
    """One call of the step; a sync step that overran its timeout is failed (its thread
    cannot be stopped, so its result is dropped)."""
    task = m.task
    if task.is_async:
        from distributed.utils import sync

        return sync(worker.loop, _async_call, task, m.timeout, kwargs)
    t0 = time.perf_counter()
    value = task.fn(**kwargs)
    if m.timeout is not None and time.perf_counter() - t0 > m.timeout:
        raise StepTimeoutError(task.name, m.timeout)
    return value


async def _async_call(task: Task, timeout: float | None, kwargs: dict[str, Any]) -> Any:
    if timeout is None:
        return await task.fn(**kwargs)
    try:
        return await asyncio.wait_for(task.fn(**kwargs), timeout)
    except TimeoutError:
        raise StepTimeoutError(task.name, timeout) from None


def _pickled(exc: BaseException) -> bytes | None:
    import cloudpickle

    try:
        return bytes(cloudpickle.dumps(exc))
    except Exception:
        return None
