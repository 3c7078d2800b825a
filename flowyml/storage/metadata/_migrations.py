"""The metadata schema, as an ordered list of forward-only migrations.

``schema_version`` holds one row per applied migration.  :func:`migrate` runs inside
a transaction (or, on MySQL whose DDL commits by itself, under a named lock) that
the backend opens so that several processes opening one database at once apply
each step exactly once.  Steps only ever add: no migration drops data, and every
statement is idempotent (``IF NOT EXISTS``, insert-or-ignore) so a step that MySQL
left half-done is simply run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from ...errors import SchemaVersionError
from ._base import mask_url
from ._dialect import Dialect, Session

__all__ = ("LATEST_VERSION", "MIGRATIONS", "migrate")

Statement = tuple[str, Sequence[Any]]


def _v1(d: Dialect) -> list[Statement]:
    """The first schema: pipelines, runs, step runs, artifacts, lineage, cache, event log."""
    k, t, f, i, b = d.key_type, d.text_type, d.float_type, d.int_type, d.bigint_type
    ddl: list[str] = []
    ddl += d.create_table(
        "pipelines",
        [
            f"name {k} NOT NULL",
            f"dag {t} NOT NULL",
            f"code_version {k} NOT NULL",
            f"created_at {f} NOT NULL",
            f"updated_at {f} NOT NULL",
        ],
        "name",
        {},
    )
    ddl += d.create_table(
        "runs",
        [
            d.serial,
            f"run_id {k} NOT NULL UNIQUE",
            f"pipeline {k} NOT NULL",
            f"status {k} NOT NULL",
            f"params {t} NOT NULL",
            f"started_at {f} NOT NULL",
            f"finished_at {f}",
            f"duration {f}",
            f"pid {b} NOT NULL",
            f"host {k} NOT NULL",
            f"resumed_from {k}",
            f"error {t}",
            f"heartbeat_at {f}",
            f"steps_total {i} NOT NULL",
            f"steps_done {i} NOT NULL DEFAULT 0",
            f"steps_cached {i} NOT NULL DEFAULT 0",
            f"steps_failed {i} NOT NULL DEFAULT 0",
        ],
        "",
        {
            "runs_pipeline_seq": "pipeline, seq",
            "runs_status_seq": "status, seq",
            "runs_started_at": "started_at",
        },
    )
    ddl += d.create_table(
        "step_runs",
        [
            f"run_id {k} NOT NULL",
            f"step {k} NOT NULL",
            f"pos {i}",
            f"status {k} NOT NULL",
            f"attempts {i} NOT NULL",
            f"started_at {f}",
            f"finished_at {f}",
            f"duration {f}",
            f"cache_key {k}",
            f"cached_from {k}",
            f"error {t}",
            f"error_type {t}",
            f"traceback {t}",
            f"inputs {t}",
            f"outputs {t}",
        ],
        "run_id, step",
        {"step_runs_run_status": "run_id, status"},
    )
    ddl += d.create_table(
        "artifacts",
        [
            f"id {k} NOT NULL",
            f"name {k} NOT NULL",
            f"run_id {k} NOT NULL",
            f"step {k} NOT NULL",
            f"uri {t} NOT NULL",
            f"type_name {t} NOT NULL",
            f"materializer {k} NOT NULL",
            f"size {b} NOT NULL",
            f"content_hash {k} NOT NULL",
            f"created_at {f} NOT NULL",
            f"metadata {t} NOT NULL",
        ],
        "id",
        {
            "artifacts_run_step": "run_id, step",
            "artifacts_name": "name",
            "artifacts_created_at": "created_at",
        },
    )
    ddl += d.create_table(
        "lineage",
        [
            f"run_id {k} NOT NULL",
            f"step {k} NOT NULL",
            f"param {k} NOT NULL",
            f"artifact_id {k} NOT NULL",
        ],
        "run_id, step, param",
        {"lineage_artifact": "artifact_id"},
    )
    ddl += d.create_table(
        "cache_entries",
        [
            f"cache_key {k} NOT NULL",
            f"run_id {k} NOT NULL",
            f"step {k} NOT NULL",
            f"pipeline {k} NOT NULL",
            f"outputs {t} NOT NULL",
            f"created_at {f} NOT NULL",
        ],
        "cache_key, run_id, step",
        {"cache_entries_pipeline_step": "pipeline, step"},
    )
    ddl += d.create_table(
        "events",
        [
            f"id {b} NOT NULL",
            f"run_id {k} NOT NULL",
            f"type {k} NOT NULL",
            f"ts {f} NOT NULL",
            f"payload {d.payload_type} NOT NULL",
        ],
        "id",
        {"events_run_id": "run_id, id"},
    )
    # One row whose lock orders the writers and whose value is the last event id.
    ddl += d.create_table("event_seq", [f"id {i} NOT NULL", f"last_id {b} NOT NULL"], "id", {})
    statements: list[Statement] = [(sql, ()) for sql in ddl]
    statements.append((d.upsert("event_seq", ("id", "last_id"), ("id",), {}), (1, 0)))
    return statements


def _v2(d: Dialect) -> list[Statement]:
    """Step logs: the lines of ``step_log`` events, one row each, in storage order."""
    k, t, f, i = d.key_type, d.text_type, d.float_type, d.int_type
    columns = [
        d.serial,
        f"run_id {k} NOT NULL",
        f"step {k} NOT NULL",
        f"attempt {i} NOT NULL",
        f"line {i} NOT NULL",
        f"created_at {f} NOT NULL",
        f"level {k} NOT NULL",
        f"logger {t} NOT NULL",
        f"message {t} NOT NULL",
    ]
    ddl = d.create_table("step_logs", columns, "", {"step_logs_run_seq": "run_id, seq"})
    return [(sql, ()) for sql in ddl]


def _v3(d: Dialect) -> list[Statement]:
    """Run tags: one row per tag of a run, found by tag through ``run_tags_tag``."""
    k, i = d.key_type, d.int_type
    columns = [f"run_id {k} NOT NULL", f"pos {i} NOT NULL", f"tag {k} NOT NULL"]
    ddl = d.create_table("run_tags", columns, "run_id, tag", {"run_tags_tag": "tag, run_id"})
    return [(sql, ()) for sql in ddl]


def _v4(d: Dialect) -> list[Statement]:
    """Packed element events: an ``events`` row of type ``elements`` holds several events
    of one map's elements (see ``_packed``).  No table changes; the version tells an older
    flowyml, which would not understand such rows, to refuse the database."""
    return []


#: Forward steps; ``MIGRATIONS[n - 1]`` brings the schema from version ``n - 1`` to ``n``.
MIGRATIONS: Final[Sequence[Callable[[Dialect], list[Statement]]]] = (_v1, _v2, _v3, _v4)
LATEST_VERSION: Final = len(MIGRATIONS)


async def migrate(session: Session, dialect: Dialect, url: str) -> int:
    """Apply the missing migrations in ``session``; return the schema version now in force.

    :raises SchemaVersionError: when the database is newer than this code
    """
    await session.execute(
        f"CREATE TABLE IF NOT EXISTS schema_version (version {dialect.int_type} NOT NULL "
        f"PRIMARY KEY, applied_at {dialect.float_type} NOT NULL){dialect.table_options}"
    )
    rows = await session.fetch("SELECT MAX(version) FROM schema_version")
    current = int(rows[0][0] or 0)
    if current > LATEST_VERSION:
        raise SchemaVersionError(
            f"database at {mask_url(url)} has schema version {current}, this flowyml "
            f"understands up to {LATEST_VERSION}; upgrade flowyml"
        )
    for version in range(current + 1, LATEST_VERSION + 1):
        for sql, params in MIGRATIONS[version - 1](dialect):
            await session.execute(sql, params)
        await session.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
            (version, time.time()),
        )
    return max(current, LATEST_VERSION)
