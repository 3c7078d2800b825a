"""PostgreSQL metadata store (asyncpg connection pool).

Writes run in a transaction on a pooled connection and start by locking the single
``event_seq`` row (see :mod:`._sql`): for appends that is the ``UPDATE ... RETURNING``
that reserves the event ids, so it costs no extra round trip.  ``executemany`` is
pipelined by asyncpg and statements are prepared once per connection (asyncpg's
statement cache).  Migrations run in one transaction under a transaction-scoped
advisory lock, so processes opening a new database at once apply them once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio

from ...errors import StoreConnectionError, StoreError
from ._base import mask_url
from ._dialect import POSTGRES, Session
from ._sql import SqlMetadataStore

if TYPE_CHECKING:
    import asyncpg

__all__ = ("PostgresMetadataStore",)

T = TypeVar("T")

_CONNECT_TIMEOUT: Final = 5.0
_MIGRATION_LOCK: Final = 0x666C6F77796D6C  # "flowyml"; advisory locks are per database


def _import_asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError as exc:
        raise StoreError(
            "the postgresql:// metadata store needs the asyncpg driver; "
            "install it with: pip install 'flowyml[postgres]'"
        ) from exc
    return asyncpg


# Column types of the tables rows are inserted into in bulk (see _bulk_insert).
_TYPES: Final = {
    "double": ("started_at", "finished_at", "duration", "ts", "created_at", "updated_at"),
    "bigint": ("pid", "size"),
    "integer": ("pos", "attempts", "steps_total", "attempt", "line"),
}
_COLUMN_TYPES: Final = {col: kind for kind, cols in _TYPES.items() for col in cols}
_INSERT: Final = re.compile(r"INSERT INTO (\w+) \(([^)]*)\) VALUES \(([?, ]*)\)(.*)", re.DOTALL)


@functools.lru_cache(maxsize=64)
def _bulk_insert(sql: str) -> str | None:
    """``INSERT ... VALUES (?, ...)`` as one statement over arrays (``unnest``), or ``None``.

    asyncpg's ``executemany`` runs the statement once per row on the server; this runs
    it once for all rows, several times faster.  It is only used for batches whose rows
    touch distinct keys, which :func:`~._projection.plan` guarantees.
    """
    match = _INSERT.fullmatch(sql)
    if match is None:
        return None
    table, columns, _, rest = match.groups()
    types = [
        "bigint" if (table, n) == ("events", "id") else _COLUMN_TYPES.get(n, "text")
        for n in (c.strip() for c in columns.split(","))
    ]
    arrays = ", ".join(f"?::{'double precision' if t == 'double' else t}[]" for t in types)
    return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}){rest}"


class _PgSession:
    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        status: str = await self._conn.execute(POSTGRES.sql(sql), *params)
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        bulk = _bulk_insert(sql)
        if bulk is None or len(rows) < 2:
            await self._conn.executemany(POSTGRES.sql(sql), rows)
        else:
            await self._conn.execute(POSTGRES.sql(bulk), *map(list, zip(*rows, strict=True)))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self._conn.fetch(POSTGRES.sql(sql), *params))

    async def reserve_ids(self, count: int) -> int:
        return int(await self._conn.fetchval(POSTGRES.sql(POSTGRES.reserve_ids_sql), count))


class PostgresMetadataStore(SqlMetadataStore):
    """Metadata store in a PostgreSQL database.

    :param url: ``postgresql://user:password@host:port/database`` (or ``postgres://``);
        query parameters are passed to asyncpg (e.g. ``sslmode``; others become
        server settings such as ``search_path``)
    :param pool_size: most connections the pool opens
    """

    dialect = POSTGRES

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self._asyncpg = _import_asyncpg()
        super().__init__(url)
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def _open(self) -> None:
        asyncpg = self._asyncpg
        try:
            with anyio.fail_after(_CONNECT_TIMEOUT * 2):
                self._pool = await asyncpg.create_pool(
                    self.url,
                    min_size=1,
                    max_size=self._pool_size,
                    timeout=_CONNECT_TIMEOUT,
                )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreConnectionError(
                f"cannot connect to the PostgreSQL metadata store {mask_url(self.url)}: "
                f"{type(exc).__name__}: {exc}; check that the server runs and that the URL's "
                f"host, port, user, password and database are right"
            ) from exc
        try:
            async with self._connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await self._migrate(_PgSession(conn))
        except BaseException:
            await self._close()
            raise

    async def _close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(_CONNECT_TIMEOUT) as scope:
                    await pool.close()
                if scope.cancelled_caught:  # a connection was stuck past the grace period
                    pool.terminate()

    def _connection(self) -> Any:
        if self._pool is None:
            raise StoreError(f"metadata store {mask_url(self.url)} is closed")
        return self._pool.acquire()

    async def _run(self, fn: Callable[[Session], Awaitable[T]], *, write: bool) -> T:
        asyncpg = self._asyncpg
        try:
            async with self._connection() as conn:
                if not write:
                    return await fn(_PgSession(conn))
                async with conn.transaction():
                    return await fn(_PgSession(conn))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"PostgreSQL metadata store {mask_url(self.url)} failed: "
                f"{type(exc).__name__}: {exc}",
                transient=_pg_transient(asyncpg, exc),
            ) from exc

    async def _write(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        return await self._run(fn, write=True)

    async def _read(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        return await self._run(fn, write=False)


def _pg_transient(asyncpg: Any, exc: BaseException) -> bool:
    """Whether ``exc`` may go away on its own: a lost or refused connection, a server
    shutting down or out of connections, a deadlock or serialization conflict."""
    exc_mod = asyncpg.exceptions
    return isinstance(
        exc,
        OSError
        | asyncpg.InterfaceError
        | exc_mod.PostgresConnectionError
        | exc_mod.OperatorInterventionError
        | exc_mod.InsufficientResourcesError
        | exc_mod.TransactionRollbackError,
    )
