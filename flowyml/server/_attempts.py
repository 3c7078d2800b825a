"""A step's attempts, derived from its run's event log.

Every attempt starts with ``step_started``; it ends with ``step_retrying`` (it failed and
another follows), ``step_failed`` or ``step_succeeded``.  A step that failed twice and then
succeeded has three attempts.  A cached or skipped step has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import Event, StepFailed, StepRetrying, StepSkipped, StepStarted, StepSucceeded

__all__ = ("StepHistory", "step_history")


@dataclass(slots=True, eq=False)
class StepHistory:
    """What the event log says about one step: its attempts and, if skipped, why."""

    attempts: list[dict[str, Any]] = field(default_factory=list)
    skip_reason: str | None = None


def _finish(attempt: dict[str, Any], status: str, ts: float, duration: float | None) -> None:
    attempt["status"] = status
    attempt["finished_at"] = ts
    started = attempt["started_at"]
    if duration is None and started is not None:
        duration = max(0.0, ts - started)
    attempt["duration"] = duration


def _attempt(number: int, started_at: float | None) -> dict[str, Any]:
    return {
        "attempt": number,
        "status": "running",
        "error": None,
        "error_type": None,
        "traceback": None,
        "started_at": started_at,
        "finished_at": None,
        "duration": None,
    }


def step_history(events: Iterable[Event], step: str) -> StepHistory:
    """The attempts of ``step`` (in order) among a run's ``events``."""
    history = StepHistory()
    by_number: dict[int, dict[str, Any]] = {}

    def get(number: int) -> dict[str, Any]:
        found = by_number.get(number)
        if found is None:  # an end without a start (a log cut short): keep what we know
            found = by_number[number] = _attempt(number, None)
            history.attempts.append(found)
        return found

    for ev in events:
        if getattr(ev, "step", None) != step:
            continue
        match ev:
            case StepStarted():
                by_number[ev.attempt] = found = _attempt(ev.attempt, ev.ts)
                history.attempts.append(found)
            case StepRetrying():
                found = get(ev.attempt)
                found["error"] = ev.error
                found["error_type"] = ev.error.partition(":")[0] or None
                _finish(found, "failed", ev.ts, None)
            case StepFailed():
                found = get(ev.attempt)
                found.update(error=ev.error, error_type=ev.error_type, traceback=ev.traceback)
                _finish(found, "failed", ev.ts, ev.duration)
            case StepSucceeded():
                _finish(get(ev.attempt), "succeeded", ev.ts, ev.duration)
            case StepSkipped():
                history.skip_reason = ev.reason or "skipped"
    return history
