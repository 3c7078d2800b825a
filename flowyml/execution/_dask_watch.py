"""How the driver follows the Dask tasks of a run's steps: their summaries, their log
lines, and the workers lost while running them.

A step's task sends one Dask event when it ends (its summary, or that it failed, and its
log lines); the driver needs nothing else from a task that succeeds, so it waits for that
event alone and never for the task's future.  Only a task whose event is late (a long
step, or one that failed before it could send one, e.g. with ``KilledWorker``) is also
followed through its future.  A worker lost while it held a task is known from the event
the scheduler sends every client on its ``all`` topic (``remove-worker``, listing the
tasks it was processing), not from a start event per task.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Callable
from typing import Any, Final

import anyio

from ._dask_logs import Line, replay
from ._dask_worker import ATTEMPTS_TOPIC, described_of

__all__ = ("Watch", "Watches")

log = logging.getLogger("flowyml")

#: the scheduler's topic of cluster events (workers joining and leaving, ...)
CLUSTER_TOPIC: Final = "all"
#: seconds a task's end event is waited for before its future is followed too
_QUICK: Final = 1.0
#: seconds a finished task's summary event may trail its completion
_SUMMARY_GRACE: Final = 10.0
#: seconds a failed task's log lines may trail its error (none come from a lost worker)
_FAILED_GRACE: Final = 2.0


class Watch:
    """A running task: where it ran, and once it ended its summary and log lines."""

    __slots__ = (
        "described",
        "ended",
        "failed",
        "logs",
        "lost",
        "on_lost",
        "on_member",
        "pinned",
        "starts",
        "workers",
    )

    def __init__(
        self,
        on_lost: Callable[[str], None],
        on_member: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_lost = on_lost
        #: told the events of a step group's steps (see :mod:`._group_worker`)
        self.on_member = on_member
        #: the worker its execution group pins it to (see :mod:`._dask_place`), if any
        self.pinned: str | None = None
        #: the workers it started on (for tasks that announce their starts) or ended on
        self.workers: list[str] = []
        #: how many start events came (a second one means the first worker was lost)
        self.starts = 0
        #: how many of its workers were lost while they held it
        self.lost = 0
        self.ended = anyio.Event()
        self.failed = False
        self.described = b""
        self.logs: list[Line] = []


class Watches:
    """The tasks an executor is following, by key, and the handlers of their events."""

    def __init__(self) -> None:
        self._by_key: dict[str, Watch] = {}
        self._client: Any = None
        self._chained: Callable[[Any], None] | None = None
        self._unpinning: set[asyncio.Task[None]] = set()

    def open(self, client: Any) -> None:
        """Subscribe to the tasks' events and the scheduler's cluster events (a handler
        the client had for those is still called)."""
        self._client = client
        handlers = getattr(client, "_event_handlers", {})
        self._chained = handlers.get(CLUSTER_TOPIC)
        client.subscribe_topic(ATTEMPTS_TOPIC, self._on_task_event)
        client.subscribe_topic(CLUSTER_TOPIC, self._on_cluster_event)

    def close(self) -> None:
        """Unsubscribe (and give the cluster topic back to the handler it had)."""
        client, self._client = self._client, None
        if client is None:
            return
        for topic in (ATTEMPTS_TOPIC, CLUSTER_TOPIC):
            try:
                client.unsubscribe_topic(topic)
            except ValueError:  # not subscribed
                pass
        if self._chained is not None:
            client.subscribe_topic(CLUSTER_TOPIC, self._chained)
        self._chained = None

    def add(
        self,
        key: str,
        on_lost: Callable[[str], None],
        on_member: Callable[[dict[str, Any]], None] | None = None,
    ) -> Watch:
        watch = self._by_key[key] = Watch(on_lost, on_member)
        return watch

    def drop(self, key: str) -> None:
        self._by_key.pop(key, None)

    def _on_task_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A task ended (with its summary, unless it failed, and its log lines), a task
        that announces its start started (a second start: its worker was lost), or a
        step of a group's task reported."""
        msg = event[1]
        watch = self._by_key.get(msg.get("key", ""))
        if watch is None:
            return
        if "member" in msg:
            if watch.on_member is not None:
                watch.on_member(msg)
            return
        if "logs" in msg:
            watch.described = msg.get("summary", b"")
            watch.failed = bool(msg.get("failed"))
            watch.logs = msg["logs"]
            if "worker" in msg:
                watch.workers.append(msg["worker"])
            watch.ended.set()
            return
        workers = watch.workers
        workers.append(msg.get("worker", "?"))
        watch.starts += 1
        if watch.starts > 1:
            watch.on_lost(
                f"WorkerLost: Dask worker {workers[-2]} was lost while running the step; "
                f"Dask runs it again on {workers[-1]}"
            )

    def _on_cluster_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker left the cluster: each task it was processing loses an attempt, which
        Dask runs again elsewhere while the task's allowed failures last."""
        if self._chained is not None:
            self._chained(event)
        msg = event[1]
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        self._unpin(msg.get("worker"))
        if msg.get("expected"):  # retired on purpose: its tasks move without a failure
            return
        allowed = _allowed_failures()
        for key in msg.get("processing-tasks", ()):
            watch = self._by_key.get(key)
            if watch is None or watch.starts:  # it announces its starts: told by those
                continue
            watch.lost += 1
            if watch.lost <= allowed:
                watch.on_lost(
                    f"WorkerLost: Dask worker {msg.get('worker', '?')} was lost while "
                    f"running the step; Dask runs it again on another worker"
                )

    def _unpin(self, worker: str | None) -> None:
        """Drop the pin to ``worker`` (gone) from the tasks pinned to it.

        A pin is loose (``allow_other_workers``): with other workers up, Dask moves the
        task to one of them.  But when no worker was left, Dask files the task as
        unrunnable and, when workers join again (a nanny restarting the only worker),
        only looks at tasks whose pinned worker is the one joining, so it would wait
        forever.  Without its pin it runs on the first worker that joins.
        """
        keys = [k for k, w in self._by_key.items() if w.pinned is not None and w.pinned == worker]
        if not keys or self._client is None:
            return
        for key in keys:
            self._by_key[key].pinned = None
        task = asyncio.ensure_future(self._drop_pins(self._client, keys))
        self._unpinning.add(task)
        task.add_done_callback(self._unpinning.discard)

    @staticmethod
    async def _drop_pins(client: Any, keys: list[str]) -> None:
        try:
            await client.scheduler.set_restrictions(worker=dict.fromkeys(keys))
        except Exception as exc:  # the task may have ended meanwhile
            log.debug("could not drop the worker pins of %s: %s", keys, exc)

    async def outcome(self, future: Any, watch: Watch) -> Any:
        """The summary of ``future``'s outcome (its error, if it failed); the lines the
        step logged on the worker join the attempt's log."""
        try:
            with anyio.move_on_after(_QUICK):
                await watch.ended.wait()
            if not (watch.described and not watch.failed):  # no summary yet: follow it
                await self._settled(future, watch)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._client.cancel([future])
            raise
        replay(watch.logs)
        if not watch.described:  # the event was lost: ask the worker
            described, worker = await self._client.submit(described_of, future, pure=False)
            watch.workers.append(worker)
            return described
        return pickle.loads(watch.described)

    async def _settled(self, future: Any, watch: Watch) -> None:
        """Wait for ``future`` itself, then for the summary that trails it; raise the
        step's error if it failed."""
        from distributed import wait

        await wait([future])  # type: ignore[no-untyped-call]
        if future.status != "finished":
            with anyio.move_on_after(_FAILED_GRACE):
                await watch.ended.wait()  # its log lines, sent just before its error
            replay(watch.logs)
            await future  # raises the step's error
        with anyio.move_on_after(_SUMMARY_GRACE):
            await watch.ended.wait()  # sent just before the task ended


def _allowed_failures() -> int:
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures", 3))
