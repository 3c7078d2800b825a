"""Run tags in the metadata store: ``run_started`` tags -> ``run_tags`` rows, and back.

Kept apart from the main projection, like step logs: a run's tags are written once, with
its start, and read by their own query for the runs a page shows.  Filtering by tag is a
semi-join on the ``(tag, run_id)`` index.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import msgspec

from ...events import Event, RunStarted
from .._records import RunRecord
from ._dialect import Dialect, Session
from ._rows import RUN_FIELDS, run_record

__all__ = ("TAG_COLUMNS", "insert_tag_sql", "read_runs", "runs_query", "tag_rows", "with_tags")

TAG_COLUMNS: Final = ("run_id", "pos", "tag")
_RUNS: Final = f"SELECT {', '.join(RUN_FIELDS)} FROM runs"
_CHUNK: Final = 500
_FILTERS: Final[Mapping[str, tuple[str, Callable[[Any], Any]]]] = {
    "pipeline": ("pipeline = ?", str),
    "status": ("status = ?", str),
    "tag": ("run_id IN (SELECT run_id FROM run_tags WHERE tag = ?)", str),
    "since": ("started_at >= ?", float),
    "until": ("started_at < ?", float),
    "cursor": ("seq < ?", int),
}


def insert_tag_sql(dialect: Dialect) -> str:
    """The statement that stores one :func:`tag_rows` row (a repeated one is ignored)."""
    return dialect.upsert("run_tags", TAG_COLUMNS, ("run_id", "tag"), {})


def tag_rows(events: Iterable[Event]) -> list[Sequence[Any]]:
    """``(run_id, pos, tag)`` of the tags of the ``run_started`` events among ``events``."""
    return [
        (ev.run_id, pos, tag)
        for ev in events
        if type(ev) is RunStarted
        for pos, tag in enumerate(ev.tags)
    ]


def runs_query(filters: Mapping[str, Any], limit: int) -> tuple[str, list[Any]]:
    """The ``SELECT`` of runs newest first, at most ``limit``, matching every filter given
    (not ``None``) among ``pipeline``, ``status``, ``tag``, ``since``, ``until`` and
    ``cursor``."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, (clause, cast) in _FILTERS.items():
        value = filters.get(name)
        if value is not None:
            clauses.append(clause)
            params.append(cast(value))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"{_RUNS}{where} ORDER BY seq DESC LIMIT ?", [*params, max(0, int(limit))]


async def with_tags(s: Session, runs: list[RunRecord]) -> list[RunRecord]:
    """``runs`` with their tags (one query per 500 runs)."""
    ids = [r.run_id for r in runs]
    tags: dict[str, list[str]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT run_id, tag FROM run_tags WHERE run_id IN ({marks}) ORDER BY run_id, pos"
        for run_id, tag in await s.fetch(sql, chunk):
            tags.setdefault(run_id, []).append(tag)
    return [
        msgspec.structs.replace(r, tags=tags[r.run_id]) if r.run_id in tags else r for r in runs
    ]


def read_runs(sql: str, params: Sequence[Any]) -> Callable[[Session], Awaitable[list[RunRecord]]]:
    """A read (for ``SqlMetadataStore._read``): the runs ``sql`` selects, with their tags."""

    async def read(s: Session) -> list[RunRecord]:
        return await with_tags(s, [run_record(r) for r in await s.fetch(sql, params)])

    return read
