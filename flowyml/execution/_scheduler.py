"""Readiness state machine: pure, no awaits, O(1) work per finished step.

The runner tells it "run started", "X succeeded", "X failed"; it answers which steps are
ready to start, and which must be skipped.  No level-by-level barriers: a step is ready the
moment its last upstream step succeeds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

__all__ = ("Scheduler",)

_WAITING, _STARTED, _DONE, _FAILED, _SKIPPED = 0, 1, 2, 3, 4


class Scheduler:
    """Dependency counters over a DAG's ``downstream`` map."""

    __slots__ = ("_downstream", "_remaining", "_state", "_unfinished")

    def __init__(
        self, upstream_counts: Mapping[str, int], downstream: Mapping[str, Sequence[str]]
    ) -> None:
        self._remaining = dict(upstream_counts)
        self._downstream = downstream
        self._state = dict.fromkeys(upstream_counts, _WAITING)
        self._unfinished = len(self._state)

    @property
    def finished(self) -> bool:
        """``True`` when no step is waiting or started."""
        return self._unfinished == 0

    def start(self) -> list[str]:
        """The steps ready at the start of the run (no upstream)."""
        ready = [n for n, c in self._remaining.items() if c == 0]
        for n in ready:
            self._state[n] = _STARTED
        return ready

    def succeeded(self, name: str) -> list[str]:
        """Record that ``name`` produced its outputs; return the steps that became ready."""
        self._finish(name, _DONE)
        ready: list[str] = []
        remaining = self._remaining
        for d in self._downstream[name]:
            c = remaining[d] - 1
            remaining[d] = c
            if c == 0 and self._state[d] == _WAITING:
                self._state[d] = _STARTED
                ready.append(d)
        return ready

    def failed(self, name: str, tolerant: Collection[str] = ()) -> tuple[list[str], list[str]]:
        """Record that ``name`` failed.

        Return ``(ready, skipped)``: its ``tolerant`` dependents run anyway (they may now be
        ready); every other dependent, transitively, is skipped.
        """
        self._finish(name, _FAILED)
        return self._release(name, tolerant)

    def skipped(self, name: str, tolerant: Collection[str] = ()) -> tuple[list[str], list[str]]:
        """Record that ``name`` was skipped (its condition was false); like :meth:`failed`."""
        self._finish(name, _SKIPPED)
        return self._release(name, tolerant)

    def _release(self, name: str, tolerant: Collection[str]) -> tuple[list[str], list[str]]:
        ready: list[str] = []
        skipped: list[str] = []
        stack: list[str] = []
        state = self._state
        for d in self._downstream[name]:
            if d in tolerant:
                c = self._remaining[d] - 1
                self._remaining[d] = c
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
            stack.extend(self._downstream[d])
        return ready, skipped

    def abandon(self) -> tuple[list[str], list[str]]:
        """Stop the run: return ``(started, waiting)`` steps, all now counted as finished."""
        started = [n for n, s in self._state.items() if s == _STARTED]
        waiting = [n for n, s in self._state.items() if s == _WAITING]
        for n in started + waiting:
            self._state[n] = _SKIPPED
        self._unfinished = 0
        return started, waiting

    def _finish(self, name: str, state: int) -> None:
        if self._state[name] != _STARTED:
            raise RuntimeError(f"step {name!r} finished but was not started")
        self._state[name] = state
        self._unfinished -= 1
