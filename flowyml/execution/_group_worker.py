"""A step group's Dask task, on the worker: its steps one after the other, told as they go.

Each step of the group runs with its own retries and timeout, reading the earlier steps'
outputs from memory and storing its own when the worker shares the artifact store.  What
happens to each step is sent to the driver at once, as a Dask event on the executor's
topic (:meth:`distributed.Worker.log_event`): each attempt's start, its log lines (in
batches, as they are made), a retry, the end.  The driver records them as the steps' own
events while the task goes on (:mod:`._group_events`).

The task also keeps its progress on the scheduler (:meth:`distributed.Client.set_metadata`
under the task's key, dropped by Dask with the task): which attempt each step is on, and
the artifacts of each step whose outputs are stored.  If the worker is lost, Dask runs the
task again elsewhere; that run reads the progress, takes the stored outputs of the steps
already done from the store instead of running them again, and goes on with the step that
was running, as its next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import pickle
import time
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..definition._context import StepContext
from ..errors import SerializationError, StepOutputError
from ._attempts import split_outputs
from ._dask_logs import _Options, _Step
from ._dask_worker import (
    ATTEMPTS_TOPIC,
    Listed,
    Outcome,
    Task,
    _describe,
    _finished,
    _load_cached,
    _saves,
    _started,
    _store_all,
    _stores,
    _unwrap,
    _worker,
    assemble,
)
from ._logs import LogSink, RunLogs, capturing_run
from ._retry import retry_delay

if TYPE_CHECKING:
    from ..events import ArtifactRef
    from ._dask_groups import _Group, _Member

__all__ = ("run_group",)

log = logging.getLogger("flowyml")

#: failures another attempt would repeat
_FINAL = (StepOutputError, SerializationError)

#: a step's final report: (status, its outputs described, its pickled error, traceback)
Report = tuple[str, dict[str, Any], bytes | None, str | None]


class _Progress:
    """Tells the driver what happens to the group's steps, and keeps on the scheduler what
    a run of the task after a lost worker needs to know (``{step: [attempt, worker,
    pickled stored outputs or None]}`` under the task's key).

    Writes go through the worker's own connection to its scheduler, one after the other
    (a lock on the worker's loop keeps them in order).  An attempt's start is sent without
    waiting (a loss within a moment of it may leave no record: the driver then still
    records the lost attempt, see :mod:`._group_events`); a step's stored outputs are
    waited for, so that a loss right after cannot lose them.
    """

    def __init__(self, worker: Any, key: str) -> None:
        self.worker = worker
        self.key = key
        self._kept = True  # False once the scheduler could not be reached
        self._lock: asyncio.Lock | None = None  # made on the worker's loop

    def send(self, step: str, kind: str, attempt: int, **fields: Any) -> None:
        """An event of ``step`` (``kind``: started, retrying, log, lost, succeeded,
        failed); ``ts`` defaults to now."""
        msg = {"key": self.key, "member": step, "kind": kind, "attempt": attempt}
        msg.setdefault("ts", time.time())
        msg.update(fields)
        self.worker.log_event(ATTEMPTS_TOPIC, msg)

    def earlier(self) -> dict[str, list[Any]]:
        """What an earlier run of this task kept (empty on the task's first run)."""
        from distributed.utils import sync

        got = sync(self.worker.loop, self._get)
        return got if isinstance(got, dict) else {}

    def started(self, step: str, attempt: int) -> None:
        """``step`` is on ``attempt`` here (sent without waiting)."""
        self.worker.loop.add_callback(self._set, step, [attempt, self.worker.address, None])

    def stored(self, step: str, attempt: int, refs: bytes) -> None:
        """``step`` is done and its outputs are stored (``refs``); waits for the scheduler."""
        from distributed.utils import sync

        sync(self.worker.loop, self._set, step, [attempt, self.worker.address, refs])

    async def _get(self) -> Any:
        try:
            return await self.worker.scheduler.get_metadata(keys=[self.key], default=None)
        except Exception as exc:
            self._failed(exc)
            return None

    async def _set(self, step: str, value: list[Any]) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._kept:
                return
            try:
                await self.worker.scheduler.set_metadata(keys=[self.key, step], value=value)
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        # The progress only spares work after a loss: the group goes on without it.
        self._kept = False
        log.warning("step group task %s: cannot keep its progress: %s", self.key, exc)


class _Loop:
    """Where a step's log sink schedules its flushes: the worker's event loop, so lines
    leave while the step runs."""

    def __init__(self, worker: Any) -> None:
        self._loop = worker.loop

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        self._loop.add_callback(callback, *args)


def run_group(
    group: _Group,
    plain: dict[str, Any],
    upstream: dict[str, Any],
    cached: dict[str, Any],
    lists: dict[str, Listed] | None = None,
) -> Outcome:
    """The group's task, in one of the worker's task threads (``lists``: mapped steps'
    results, put together here from their elements)."""
    from ._dask_groups import _Kept

    worker = _worker()
    head = group.members[0].task
    _started(worker, head)
    progress = _Progress(worker, group.key)
    earlier = progress.earlier()
    values: dict[str, Any] = {}
    failed: set[str] = set()
    reports: dict[str, Report] = {}
    inputs = (plain, upstream, cached, values, lists or {})
    for j, m in enumerate(group.members):
        name = m.task.name
        if any(out in failed for out in m.internal.values()):
            failed.update(m.task.outputs)
            reports[name] = ("skipped", {}, None, None)
            continue
        before = earlier.get(name)
        report = _restore(worker, m, before, progress, values) if before else None
        if report is None:
            first = 1
            if before:  # it was running when the worker was lost: that attempt is spent
                first = int(before[0]) + 1
                progress.send(name, "lost", first - 1, lost=before[1], now=worker.address)
            report = _run_member(worker, j, m, inputs, progress, first)
        reports[name] = report
        if report[0] != "succeeded":
            failed.update(m.task.outputs)
    done = _finished(worker, head, values, reports, [])
    return _Kept(done.values, done.described, done.worker)


def _restore(
    worker: Any,
    m: _Member,
    before: list[Any],
    progress: _Progress,
    values: dict[str, Any],
) -> Report | None:
    """Take the outputs an earlier run of the task stored for ``m`` (``None``: it must
    run, as they were not stored or cannot be read)."""
    from distributed.utils import sync

    attempt, _, stored = before
    if stored is None or m.task.save is None:
        return None
    refs: dict[str, ArtifactRef] = pickle.loads(stored)
    try:
        outputs = sync(worker.loop, _load_refs, worker, m.task, refs)
    except Exception as exc:
        log.warning("step %r: its stored outputs cannot be read (%s); running it", m.task.name, exc)
        return None
    values.update(outputs)
    progress.send(m.task.name, "succeeded", int(attempt), refs=stored, restored=True)
    return "succeeded", _describe(outputs, refs), None, None


async def _load_refs(worker: Any, task: Task, refs: dict[str, ArtifactRef]) -> dict[str, Any]:
    from ..storage.artifacts._values import load_value

    store, registry = await _stores(worker, task)
    return {out: await load_value(store, registry, ref) for out, ref in refs.items()}


def _run_member(
    worker: Any,
    j: int,
    m: _Member,
    inputs: tuple[dict[str, Any], ...],
    progress: _Progress,
    first: int,
) -> Report:
    """The attempts of one step, from attempt ``first`` (at least one, then while its
    retries last)."""
    from distributed.utils import sync

    plain, upstream, cached, values, lists = inputs
    prefix = f"{j}:"
    task = m.task
    last = max(first, m.retries + 1)
    attempt = first
    while True:
        progress.started(task.name, attempt)
        started = time.time()
        progress.send(task.name, "started", attempt, ts=started)
        try:
            kwargs = _kwargs(task, prefix, plain, upstream, m.internal, values, attempt)
            kwargs.update(
                (k[len(prefix) :], assemble(v)) for k, v in lists.items() if k.startswith(prefix)
            )
            mine = {k[len(prefix) :]: v for k, v in cached.items() if k.startswith(prefix)}
            if mine:
                sync(worker.loop, _load_cached, worker, task, kwargs, mine)
            value = _call(worker, m, kwargs, _logging(worker, task, attempt, progress))
            outputs = split_outputs(task, value)
            refs = sync(worker.loop, _store_all, worker, task, outputs) if _saves(task) else {}
        except Exception as exc:
            ended = time.time()
            tb = "".join(traceback.format_exception(exc))
            if attempt >= last or isinstance(exc, _FINAL):
                error = _pickled(exc)
                progress.send(
                    task.name, "failed", attempt, ts=ended, started=started, error=error, tb=tb
                )
                return "failed", {}, error, tb
            delay = retry_delay(attempt, m.retry_delay, m.backoff)
            message = f"{type(exc).__name__}: {exc}"
            progress.send(task.name, "retrying", attempt, ts=ended, error=message, delay=delay)
            time.sleep(delay)
            attempt += 1
            continue
        ended = time.time()
        stored = pickle.dumps(refs) if refs and set(refs) == set(outputs) else None
        if stored is not None:
            progress.stored(task.name, attempt, stored)
        refs_blob = pickle.dumps(refs)
        values.update(outputs)
        progress.send(task.name, "succeeded", attempt, ts=ended, started=started, refs=refs_blob)
        return "succeeded", _describe(outputs, refs), None, None


@contextlib.contextmanager
def _logging(worker: Any, task: Task, attempt: int, progress: _Progress) -> Iterator[None]:
    """Capture what the attempt logs; its lines go to the driver in batches while it runs."""

    def send(event: Any, _: Any) -> None:
        lines = [[ln.line, ln.created_at, ln.level, ln.logger, ln.message] for ln in event.lines]
        progress.send(task.name, "log", attempt, lines=lines)

    step = _Step(task.name, _Options(task.capture_output, task.max_log_lines))
    with capturing_run(), LogSink(RunLogs(send, "", loop=_Loop(worker)), step, attempt):
        yield


def _kwargs(
    task: Task,
    prefix: str,
    plain: dict[str, Any],
    upstream: dict[str, Any],
    internal: dict[str, str],
    values: dict[str, Any],
    attempt: int,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for k, v in plain.items():
        if k.startswith(prefix):
            # the step's context, told which attempt this is
            if isinstance(v, StepContext) and v.attempt != attempt:
                v = dataclasses.replace(v, attempt=attempt)
            kwargs[k[len(prefix) :]] = v
    for k, (outcome, out) in upstream.items():
        if k.startswith(prefix):
            param = k[len(prefix) :]
            kwargs[param] = _unwrap(task, param, outcome.values[out])
    for param, out in internal.items():
        kwargs[param] = _unwrap(task, param, values[out])
    return kwargs


def _call(worker: Any, m: _Member, kwargs: dict[str, Any], capture: Any) -> Any:
    """One call of the step, its logs captured by ``capture`` (entered where the step
    runs: an async step's log sink must be set in its own task, on the worker's loop); a
    sync step that overran its timeout is failed (its thread cannot be stopped, so its
    result is dropped)."""
    from ..errors import StepTimeoutError

    task = m.task
    if task.is_async:
        from distributed.utils import sync

        return sync(worker.loop, _async_call, task, m.timeout, kwargs, capture)
    t0 = time.perf_counter()
    with capture:
        value = task.fn(**kwargs)
    if m.timeout is not None and time.perf_counter() - t0 > m.timeout:
        raise StepTimeoutError(task.name, m.timeout)
    return value


async def _async_call(
    task: Task, timeout: float | None, kwargs: dict[str, Any], capture: Any
) -> Any:
    # In a task of its own: the log sink is set and reset in one context (the caller's
    # coroutine may be resumed from other contexts).
    return await asyncio.ensure_future(_captured_call(task, timeout, kwargs, capture))


async def _captured_call(
    task: Task, timeout: float | None, kwargs: dict[str, Any], capture: Any
) -> Any:
    from ..errors import StepTimeoutError

    with capture:
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
