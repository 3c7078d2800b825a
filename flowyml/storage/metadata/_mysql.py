"""MySQL / MariaDB metadata store (aiomysql connection pool, InnoDB, utf8mb4).

Connections run with autocommit off.  Writes start by locking the single ``event_seq``
row (see :mod:`._sql`), which for appends is the ``UPDATE ... LAST_INSERT_ID(...)``
that reserves the event ids and hands the new value back in the same round trip.
``INSERT ... VALUES`` statements, upserts included, are sent by ``executemany`` as one
multi-row statement.  Reads end with a rollback so a pooled connection never keeps
an old snapshot (or a transaction open) between calls.  MySQL DDL commits by itself,
so migrations run under a named lock (``GET_LOCK``) instead of one transaction.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio

from ...errors import StoreConnectionError, StoreError, UnsupportedURLError
from ._base import mask_url
from ._dialect import MYSQL, Session
from ._sql import SqlMetadataStore

__all__ = ("MySQLMetadataStore",)

T = TypeVar("T")

_CONNECT_TIMEOUT: Final = 5
_MIGRATION_WAIT: Final = 60


def _import_aiomysql() -> Any:
    try:
        import aiomysql
    except ImportError as exc:
        raise StoreError(
            "the mysql:// metadata store needs the aiomysql driver; "
            "install it with: pip install 'flowyml[mysql]'"
        ) from exc
    return aiomysql


def _connect_args(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise UnsupportedURLError(
            f"the MySQL URL {mask_url(url)} names no database; "
            f"write mysql://user:password@host:3306/database"
        )
    args: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "db": database,
    }
    for key, value in parse_qsl(parts.query):
        args[key] = int(value) if value.isdigit() else value
    return args


@functools.cache
def _quiet_cursor(base: Any) -> Any:
    class QuietCursor(base):  # type: ignore[misc]
        """Cursor that ignores server notes and warnings.

        aiomysql would turn each into a Python warning (e.g. the note "table already
        exists" of ``CREATE TABLE IF NOT EXISTS``) after a SHOW WARNINGS round trip.
        """

        async def _show_warnings(self, conn: Any) -> None:
            return None

    return QuietCursor


class _MySession:
    __slots__ = ("_cur",)

    def __init__(self, cursor: Any) -> None:
        self._cur = cursor

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        await self._cur.execute(MYSQL.sql(sql), tuple(params) or None)
        return int(self._cur.rowcount)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._cur.executemany(MYSQL.sql(sql), rows)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        await self._cur.execute(MYSQL.sql(sql), tuple(params) or None)
        return list(await self._cur.fetchall())

    async def reserve_ids(self, count: int) -> int:
        await self._cur.execute(MYSQL.sql(MYSQL.reserve_ids_sql), (count,))
        return int(self._cur.lastrowid)


class MySQLMetadataStore(SqlMetadataStore):
    """Metadata store in a MySQL 8 or MariaDB 10.5+ database.

    :param url: ``mysql://user:password@host:port/database``; query parameters are
        passed to :func:`aiomysql.connect` (e.g. ``?unix_socket=/run/mysqld.sock``)
    :param pool_size: most connections the pool opens
    """

    dialect = MYSQL

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self._aiomysql = _import_aiomysql()
        super().__init__(url)
        self._args = _connect_args(url)
        self._pool_size = pool_size
        self._pool: Any = None
        self._cursor_class = _quiet_cursor(self._aiomysql.Cursor)

    async def _open(self) -> None:
        aiomysql = self._aiomysql
        try:
            with anyio.fail_after(_CONNECT_TIMEOUT * 2):
                self._pool = await aiomysql.create_pool(
                    minsize=1,
                    maxsize=self._pool_size,
                    autocommit=False,
                    charset="utf8mb4",
                    connect_timeout=_CONNECT_TIMEOUT,
                    cursorclass=self._cursor_class,
                    pool_recycle=3600,
                    **self._args,
                )
        except (OSError, TimeoutError, aiomysql.MySQLError) as exc:
            raise StoreConnectionError(
                f"cannot connect to the MySQL metadata store {mask_url(self.url)}: "
                f"{type(exc).__name__}: {exc}; check that the server runs and that the URL's "
                f"host, port, user, password and database are right"
            ) from exc
        try:
            await self._migrate_locked()
        except BaseException:
            await self._close()
            raise

    async def _migrate_locked(self) -> None:
        digest = hashlib.sha1(self._args["db"].encode()).hexdigest()[:32]
        name = f"flowyml.migrate.{digest}"
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            session = _MySession(cur)
            got = await session.fetch("SELECT GET_LOCK(?, ?)", (name, _MIGRATION_WAIT))
            if got[0][0] != 1:
                raise StoreError(
                    f"timed out after {_MIGRATION_WAIT} s waiting for another process to "
                    f"migrate the metadata store {mask_url(self.url)}"
                )
            try:
                await self._migrate(session)
                await conn.commit()
            finally:
                with anyio.CancelScope(shield=True):
                    await conn.rollback()
                    await session.fetch("SELECT RELEASE_LOCK(?)", (name,))
                    await conn.rollback()

    async def _close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with anyio.CancelScope(shield=True):
                pool.close()
                with anyio.move_on_after(_CONNECT_TIMEOUT) as scope:
                    await pool.wait_closed()
                if scope.cancelled_caught:  # a connection was stuck past the grace period
                    pool.terminate()
                    await pool.wait_closed()

    async def _run(self, fn: Callable[[Session], Awaitable[T]], *, write: bool) -> T:
        if self._pool is None:
            raise StoreError(f"metadata store {mask_url(self.url)} is closed")
        try:
            async with self._pool.acquire() as conn:
                try:
                    async with conn.cursor() as cur:
                        result = await fn(_MySession(cur))
                    # A read ends its transaction too, so the pooled connection does not
                    # keep an old snapshot (and the pool does not drop it as "in use").
                    await (conn.commit() if write else conn.rollback())
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        try:
                            await conn.rollback()
                        except (OSError, self._aiomysql.MySQLError):
                            pass  # the connection is gone; keep the original error
                    raise
                return result
        except (OSError, self._aiomysql.MySQLError) as exc:
            raise StoreError(
                f"MySQL metadata store {mask_url(self.url)} failed: {type(exc).__name__}: {exc}",
                transient=_mysql_transient(exc),
            ) from exc

    async def _write(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        return await self._run(fn, write=True)

    async def _read(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        return await self._run(fn, write=False)


#: MySQL/MariaDB error codes worth a retry: too many connections, lock wait timeout,
#: deadlock, server gone away or lost, cannot connect
_TRANSIENT_CODES = frozenset({1040, 1205, 1213, 2003, 2006, 2013})


def _mysql_transient(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code in _TRANSIENT_CODES
