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
from typing import Any, cast

from .._steplog import current_sink
from ._logs import LogSink, _hooks

__all__ = ("Line", "replay", "worker_capture")

#: one captured line: (when it was made, level name, logger name, message)
Line = tuple[float, str, str, str]


class _Held:
    """Stands in for a sink's event loop on a worker: nothing is sent while the step
    runs; the sink's lines are taken when it closes."""

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        return None


@contextlib.contextmanager
def worker_capture(
    name: str, max_lines: int, capture_output: bool, lines: list[Line]
) -> Iterator[None]:
    """Capture what step ``name`` logs here into ``lines`` (complete when this exits)."""

    def keep(event: Any, _: Any) -> None:
        lines.extend((ln.created_at, ln.level, ln.logger, ln.message) for ln in event.lines)

    # One line less than the step keeps: when lines are dropped, the sink's last line
    # says how many, and the driver's log then holds exactly the step's limit.
    sink = LogSink(
        keep,
        "",
        name,
        0,
        max_lines=max(1, max_lines - 1),
        capture_output=capture_output,
        loop=cast(Any, _Held()),
    )
    _hooks.enter(capture_output)
    token = current_sink.set(sink)
    try:
        yield
    finally:
        current_sink.reset(token)
        _hooks.exit(capture_output)
        sink.close()


def replay(lines: Sequence[Line]) -> None:
    """Add the lines a worker captured to the log of the attempt running here."""
    sink = current_sink.get()
    if sink is None:
        return
    for created, level, logger, message in lines:
        sink.add(created, level, logger, message)
