"""Step logs on Dask workers: captured there as in a local run, added to the run's log.

On the worker, a step's call is captured like a local attempt (:mod:`._logs`: the records
its loggers emit, ``StepContext.logger``, and with ``capture_output`` its prints), but
the lines are held until the task ends and then travel to the driver with the task's
end event.  There they are added to the attempt's log, keeping each line's time, level,
logger and message, and become ``step_log`` events like every other line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._steplog import current_sink
from ._logs import LogSink, RunLogs, capturing_run

__all__ = ("Line", "replay", "worker_capture")

#: one captured line: (when it was made, level name, logger name, message)
Line = tuple[float, str, str, str]


class _Held:
    """Stands in for the run's event loop on a worker: nothing is sent while the step
    runs; the sink sends its lines when it closes."""

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Options:
    capture_output: bool
    max_log_lines: int


@dataclass(frozen=True, slots=True)
class _Step:
    """What a :class:`LogSink` reads of the step it logs for."""

    name: str
    step: _Options


@contextlib.contextmanager
def worker_capture(
    name: str, max_lines: int, capture_output: bool, lines: list[Line]
) -> Iterator[None]:
    """Capture what step ``name`` logs here into ``lines`` (complete when this exits)."""

    def keep(event: Any, _: Any) -> None:
        lines.extend((ln.created_at, ln.level, ln.logger, ln.message) for ln in event.lines)

    # One line less than the step keeps: when lines are dropped, the sink's last line
    # says how many, and the driver's log then holds exactly the step's limit.
    step = _Step(name, _Options(capture_output, max(1, max_lines - 1)))
    with capturing_run(), LogSink(RunLogs(keep, "", loop=_Held()), step, 0):
        yield


def replay(lines: Sequence[Line]) -> None:
    """Add the lines a worker captured to the log of the attempt running here."""
    sink = current_sink.get()
    if sink is None:
        return
    for created, level, logger, message in lines:
        sink.add(created, level, logger, message)
