"""Readiness state machine: pure, no awaits, O(1) work per finished step.

The runner tells it "run started", "X succeeded", "X failed"; it answers which steps are
ready to start, and which must be skipped.  No level-by-level barriers: a step is ready the
moment its last upstream step succeeds.

Steps are named by their position in the compiled DAG (:attr:`~flowyml.compile._dag.Dag.order`)
and the state lives in a list and a bytearray: on a 100,000-step run that is a few hundred
kilobytes read in order, where dicts keyed by step name cost a cache miss per lookup.

A mapped step chained to another (``parse.map(fetch.map(urls))``) does not wait for its
upstream map to finish: the edge between them is released when the upstream map starts
its elements (:meth:`Scheduler.streaming`), and the chained map then follows them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

__all__ = ("Scheduler",)

_WAITING, _STARTED, _DONE, _FAILED, _SKIPPED = 0, 1, 2, 3, 4


class Scheduler:
    """Dependency counters over a DAG's ``children`` (by position)."""

    __slots__ = ("_children", "_released", "_remaining", "_state", "_streams", "_unfinished")

    def __init__(
        self,
        parents: Sequence[int],
        children: Sequence[Sequence[int]],
        streams: Mapping[int, Sequence[int]] | None = None,
    ) -> None:
        self._remaining = list(parents)
        self._children = children
        #: mapped step -> the mapped steps chained to it
        self._streams = streams or {}
        #: the edges released early by :meth:`streaming`, as (upstream, chained)
        self._released: set[tuple[int, int]] = set()
        self._state = bytearray(len(self._remaining))  # all _WAITING
        self._unfinished = len(self._remaining)

    @property
    def finished(self) -> bool:
        """``True`` when no step is waiting or started."""
        return self._unfinished == 0

    def start(self) -> list[int]:
        """The steps ready at the start of the run (no upstream)."""
        ready = [i for i, c in enumerate(self._remaining) if c == 0]
        state = self._state
        for i in ready:
            state[i] = _STARTED
        return ready

    def streaming(self, i: int) -> list[int]:
        """Record that mapped step ``i`` started its elements: the steps chained to it no
        longer wait for it to finish.  Return those that became ready."""
        if self._state[i] != _STARTED:
            raise RuntimeError(f"step #{i} streams its elements but was not started")
        ready: list[int] = []
        for d in self._streams.get(i, ()):
            if (i, d) in self._released:
                continue
            self._released.add((i, d))
            self._remaining[d] -= 1
            if self._remaining[d] == 0 and self._state[d] == _WAITING:
                self._state[d] = _STARTED
                ready.append(d)
        return ready

    def succeeded(self, i: int) -> list[int]:
        """Record that step ``i`` produced its outputs; return the steps that became ready."""
        self._finish(i, _DONE)
        ready: list[int] = []
        remaining = self._remaining
        state = self._state
        released = self._released
        for d in self._children[i]:
            if released and (i, d) in released:
                continue  # counted when ``i`` started streaming
            c = remaining[d] - 1
            remaining[d] = c
            if c == 0 and state[d] == _WAITING:
                state[d] = _STARTED
                ready.append(d)
        return ready

    def failed(self, i: int, tolerant: Collection[int] = ()) -> tuple[list[int], list[int]]:
        """Record that step ``i`` failed.

        Return ``(ready, skipped)``: its ``tolerant`` dependents run anyway (they may now be
        ready); every other dependent, transitively, is skipped.
        """
        self._finish(i, _FAILED)
        return self._release(i, tolerant)

    def skipped(self, i: int, tolerant: Collection[int] = ()) -> tuple[list[int], list[int]]:
        """Record that step ``i`` was skipped (its condition was false); like :meth:`failed`."""
        self._finish(i, _SKIPPED)
        return self._release(i, tolerant)

    def _release(self, i: int, tolerant: Collection[int]) -> tuple[list[int], list[int]]:
        ready: list[int] = []
        skipped: list[int] = []
        stack: list[int] = []
        state = self._state
        remaining = self._remaining
        released = self._released
        for d in self._children[i]:
            if released and (i, d) in released:
                if d not in tolerant:  # still waiting for another input: skipped too
                    stack.append(d)
            elif d in tolerant:
                c = remaining[d] - 1
                remaining[d] = c
                if c == 0 and state[d] == _WAITING:
                    state[d] = _STARTED
                    ready.append(d)
            else:
                stack.append(d)
        while stack:
            d = stack.pop()
            if state[d] != _WAITING:
                continue
            state[d] = _SKIPPED
            self._unfinished -= 1
            skipped.append(d)
            stack.extend(self._children[d])
        return ready, skipped

    def abandon(self) -> tuple[list[int], list[int]]:
        """Stop the run: return ``(started, waiting)`` steps, all now counted as finished."""
        state = self._state
        started = [i for i, s in enumerate(state) if s == _STARTED]
        waiting = [i for i, s in enumerate(state) if s == _WAITING]
        for i in started + waiting:
            state[i] = _SKIPPED
        self._unfinished = 0
        return started, waiting

    def _finish(self, i: int, state: int) -> None:
        if self._state[i] != _STARTED:
            raise RuntimeError(f"step #{i} finished but was not started")
        self._state[i] = state
        self._unfinished -= 1
