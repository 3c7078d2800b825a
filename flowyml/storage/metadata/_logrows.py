"""Step logs in the metadata store: ``step_log`` events -> ``step_logs`` rows, and back.

Kept apart from the main projection: log lines only ever insert rows, conflict with no
other change, and are read by their own query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from ...events import Event, StepLog
from .._records import LogRecord

__all__ = ("INSERT_LOG", "LOG_FIELDS", "log_record", "log_rows", "logs_query")

#: columns of a stored line, in the order :func:`log_rows` gives them
_COLUMNS: Final = ("run_id", "step", "attempt", "line", "created_at", "level", "logger", "message")
LOG_FIELDS: Final = ("seq", *_COLUMNS)
INSERT_LOG: Final = (
    f"INSERT INTO step_logs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
)


def log_rows(events: Iterable[Event]) -> list[Sequence[Any]]:
    """The ``step_logs`` rows of the ``step_log`` events among ``events`` (in order)."""
    return [
        (ev.run_id, ev.step, ev.attempt, ln.line, ln.created_at, ln.level, ln.logger, ln.message)
        for ev in events
        if type(ev) is StepLog
        for ln in ev.lines
    ]


def logs_query(
    run_id: str, step: str | None, since: int | None, limit: int
) -> tuple[str, list[Any]]:
    """The ``SELECT`` (in ``LOG_FIELDS`` order) of a run's lines after ``since``."""
    sql = f"SELECT {', '.join(LOG_FIELDS)} FROM step_logs WHERE run_id = ?"
    params: list[Any] = [run_id]
    if step is not None:
        sql += " AND step = ?"
        params.append(step)
    if since is not None:
        sql += " AND seq > ?"
        params.append(int(since))
    sql += " ORDER BY seq LIMIT ?"
    params.append(max(0, int(limit)))
    return sql, params


def log_record(r: Sequence[Any]) -> LogRecord:
    """Build a :class:`LogRecord` from a row in ``LOG_FIELDS`` order."""
    return LogRecord(
        seq=int(r[0]),
        run_id=r[1],
        step=r[2],
        attempt=int(r[3]),
        line=int(r[4]),
        created_at=float(r[5]),
        level=r[6],
        logger=r[7],
        message=r[8],
    )
