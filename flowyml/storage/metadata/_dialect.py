"""The few ways SQLite, PostgreSQL and MySQL/MariaDB differ, as data.

Shared SQL is written once with ``?`` placeholders and every value passed as a
parameter; a :class:`Dialect` renders placeholders, column types, ``CREATE TABLE``
and upserts for its database.  A :class:`Session` is one connection inside one
transaction, as the SQL store sees it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ._projection import Rule

__all__ = ("MYSQL", "POSTGRES", "SQLITE", "Dialect", "Session")


class Session(Protocol):
    """One connection in one transaction; SQL uses ``?`` placeholders."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each parameter row (batched where the driver can)."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Run a query and return all its rows."""

    async def reserve_ids(self, count: int) -> int:
        """Lock the writers' row, advance the event id counter by ``count``, return its value."""


@functools.lru_cache(maxsize=512)
def _render(style: str, sql: str) -> str:
    if style == "qmark":
        return sql
    if style == "format":
        return sql.replace("?", "%s")
    parts = sql.split("?")
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}{part}")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Dialect:
    """Column types and SQL shapes of one database family."""

    name: str
    paramstyle: Literal["qmark", "numeric", "format"]
    key_type: str
    text_type: str
    float_type: str
    int_type: str
    bigint_type: str
    payload_type: str
    serial: str
    table_options: str
    inline_indexes: bool
    upsert_style: Literal["on_conflict", "on_duplicate"]
    reserve_ids_sql: str
    lock_writers_sql: str | None

    def sql(self, text: str) -> str:
        """Render ``?`` placeholders in this dialect's style."""
        return _render(self.paramstyle, text)

    def create_table(
        self, name: str, columns: Sequence[str], primary_key: str, indexes: Mapping[str, str]
    ) -> list[str]:
        """``CREATE TABLE IF NOT EXISTS`` (and its indexes), safe to run twice."""
        body = [*columns]
        if primary_key:
            body.append(f"PRIMARY KEY ({primary_key})")
        if self.inline_indexes:
            body.extend(f"INDEX {index} ({cols})" for index, cols in indexes.items())
        table = f"CREATE TABLE IF NOT EXISTS {name} (\n  " + ",\n  ".join(body) + "\n)"
        statements = [table + self.table_options]
        if not self.inline_indexes:
            statements.extend(
                f"CREATE INDEX IF NOT EXISTS {index} ON {name} ({cols})"
                for index, cols in indexes.items()
            )
        return statements

    def upsert(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rules: Mapping[str, Rule]
    ) -> str:
        """``INSERT`` a row, or update the existing one column by column per ``rules``.

        With no rules the insert is skipped when the key exists.
        """
        marks = ", ".join("?" for _ in columns)
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        if self.upsert_style == "on_duplicate":
            if not rules:
                return f"{head} ON DUPLICATE KEY UPDATE {keys[0]} = {keys[0]}"
            # MySQL applies these left to right; each one reads only its own column.
            new = {c: f"VALUES({c})" for c in rules}
            old = {c: c for c in rules}
            tail = " ON DUPLICATE KEY UPDATE "
        else:
            if not rules:
                return f"{head} ON CONFLICT ({', '.join(keys)}) DO NOTHING"
            new = {c: f"excluded.{c}" for c in rules}
            old = {c: f"{table}.{c}" for c in rules}
            tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        sets = []
        for col, rule in rules.items():
            if rule == "set":
                sets.append(f"{col} = {new[col]}")
            elif rule == "keep":
                sets.append(f"{col} = COALESCE({old[col]}, {new[col]})")
            else:
                sets.append(f"{col} = COALESCE({new[col]}, {old[col]})")
        return head + tail + ", ".join(sets)


SQLITE = Dialect(
    name="sqlite",
    paramstyle="qmark",
    key_type="TEXT",
    text_type="TEXT",
    float_type="REAL",
    int_type="INTEGER",
    bigint_type="INTEGER",
    payload_type="TEXT",
    serial="seq INTEGER PRIMARY KEY AUTOINCREMENT",
    table_options="",
    inline_indexes=False,
    upsert_style="on_conflict",
    reserve_ids_sql="UPDATE event_seq SET last_id = last_id + ? WHERE id = 1 RETURNING last_id",
    lock_writers_sql=None,  # BEGIN IMMEDIATE already excludes other writers
)

POSTGRES = Dialect(
    name="postgresql",
    paramstyle="numeric",
    key_type="TEXT",
    text_type="TEXT",
    float_type="DOUBLE PRECISION",
    int_type="INTEGER",
    bigint_type="BIGINT",
    payload_type="TEXT",
    serial="seq BIGSERIAL PRIMARY KEY",
    table_options="",
    inline_indexes=False,
    upsert_style="on_conflict",
    reserve_ids_sql="UPDATE event_seq SET last_id = last_id + ? WHERE id = 1 RETURNING last_id",
    lock_writers_sql="SELECT last_id FROM event_seq WHERE id = 1 FOR UPDATE",
)

MYSQL = Dialect(
    name="mysql",
    paramstyle="format",
    key_type="VARCHAR(191)",
    text_type="LONGTEXT",
    float_type="DOUBLE",
    int_type="INTEGER",
    bigint_type="BIGINT",
    payload_type="LONGTEXT",
    serial="seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
    table_options=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    inline_indexes=True,
    upsert_style="on_duplicate",
    # LAST_INSERT_ID(expr) hands the new value back in the OK packet: one round trip.
    reserve_ids_sql="UPDATE event_seq SET last_id = LAST_INSERT_ID(last_id + ?) WHERE id = 1",
    lock_writers_sql="SELECT last_id FROM event_seq WHERE id = 1 FOR UPDATE",
)
