"""Sync steps run in flowyml's own daemon threads.

A thread cannot be killed.  When a sync step times out or its run is cancelled, flowyml
stops waiting for it and the thread runs on until the function returns.  anyio's worker
threads are not daemon threads, so one step stuck in ``time.sleep(10**6)`` would keep the
interpreter from exiting.  These threads are daemons: an abandoned step never holds the
process, and its late result is dropped.

Inside these threads ``anyio.from_thread`` works as in anyio's own worker threads (a
sync step may call back into the event loop), and the caller's context variables are
seen, as with ``anyio.to_thread.run_sync``.

One pool serves the whole process, shared by concurrent runs, so the number of threads
has a single bound (:data:`MAX_THREADS`) however many runs are going on.  Threads are
started on demand and exit after :data:`IDLE_SECONDS` without work.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

# anyio's own worker threads register the event loop for ``anyio.from_thread`` with
# these two helpers; they are private, so a change in anyio shows up in
# tests/faults/test_run_records.py (a sync step calling anyio.from_thread.run_sync).
from anyio._core._eventloop import claim_worker_thread, get_async_backend

__all__ = ("MAX_THREADS", "run_in_thread")

T = TypeVar("T")

#: the most threads running sync steps at once, in the whole process
MAX_THREADS = 64
#: an idle thread exits after this many seconds without work
IDLE_SECONDS = 10.0


class _Job:
    __slots__ = ("args", "backend", "context", "fn", "future", "loop", "token")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.fn = fn
        self.args = args
        self.loop = loop
        self.future = future
        self.context = contextvars.copy_context()
        self.backend = get_async_backend()
        self.token = self.backend.current_token()

    def run(self) -> None:
        setter, value = self._call()
        self._deliver(setter, value)

    def _call(self) -> tuple[Callable[[asyncio.Future[Any], Any], None], Any]:
        # The job lets go of the step's function, arguments and context before the waiter
        # wakes up: a finished run must not be kept alive by a thread about to go idle.
        fn, args, context = self.fn, self.args, self.context
        del self.fn, self.args, self.context
        try:
            with claim_worker_thread(self.backend, self.token):
                return _set_result, context.run(fn, *args)
        except BaseException as exc:
            return _set_exception, exc

    def _deliver(self, setter: Callable[[asyncio.Future[Any], Any], None], value: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(setter, self.future, value)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for this result any more


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # done: the waiter was cancelled and abandoned the step
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class _Pool:
    """Daemon threads taking jobs from one queue; at most ``max_threads`` of them."""

    def __init__(self, max_threads: int) -> None:
        self.max_threads = max_threads
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0  # threads alive
        self._waiting = 0  # threads waiting for a job
        self._pending = 0  # jobs submitted and not taken yet

    def submit(self, job: _Job) -> None:
        with self._lock:
            self._pending += 1
            spawn = self._pending > self._waiting and self._threads < self.max_threads
            if spawn:
                self._threads += 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name="flowyml step", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._waiting += 1
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    self._waiting -= 1
                    if not self._pending:
                        self._threads -= 1
                        return
                continue  # a job is on its way into the queue
            with self._lock:
                self._waiting -= 1
                self._pending -= 1
            job.run()
            del job  # drop the step's values before waiting for the next one


_pool = _Pool(MAX_THREADS)


async def run_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a daemon thread of the process-wide pool; return its result.

    Cancelling the caller abandons the call: the thread runs on, and what it returns or
    raises is dropped.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _pool.submit(_Job(fn, args, loop, future))
    return await future
