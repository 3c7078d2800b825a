"""SQLite metadata store (aiosqlite): the zero-config default.

One writer connection serves every write of the store, behind an :class:`anyio.Lock`
(the store is shared by the tasks of one event loop), each write in a ``BEGIN
IMMEDIATE`` transaction, which takes SQLite's write lock up front so a transaction never
has to upgrade a read lock (the classic cause of "database is locked").  Other processes
writing the same file wait on ``busy_timeout`` (30 s); on top of that a busy error
rolls back and retries the whole transaction with backoff, so concurrent writers
never fail.  A second connection serves reads: in WAL mode it sees committed data only
and never waits for writers.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import aiosqlite
import anyio

from ...errors import StoreConnectionError, StoreError, UnsupportedURLError
from ._dialect import SQLITE, Session
from ._migrations import LATEST_VERSION
from ._sql import SqlMetadataStore

__all__ = ("SqliteMetadataStore", "sqlite_path")

T = TypeVar("T")

_BUSY_TIMEOUT: Final = 30.0
_RETRY_FOR: Final = 300.0
_BUSY_CODES: Final = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def sqlite_path(url: str) -> str:
    """The file a ``sqlite://`` URL names (``":memory:"`` for an in-memory database).

    ``sqlite:///relative.db`` is relative to the working directory (resolved by
    :meth:`SqliteMetadataStore.open`) and ``sqlite:////abs/path.db`` absolute: the rest
    after ``sqlite:///`` is the path.
    """
    if url in ("sqlite://", "sqlite://:memory:", "sqlite:///:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///"):
        raise UnsupportedURLError(
            f"cannot read the SQLite URL {url!r}: write sqlite:///relative/path.db, "
            f"sqlite:////absolute/path.db or sqlite://:memory:"
        )
    return url[len("sqlite:///") :].split("?", 1)[0]


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(exc) or "busy" in str(exc)


class _SqliteSession:
    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._conn.execute(sql, params)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        # The statement is complete when executemany returns; the cursor has nothing to close.
        await self._conn.executemany(sql, rows)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def reserve_ids(self, count: int) -> int:
        rows = list(await self._conn.execute_fetchall(SQLITE.reserve_ids_sql, (count,)))
        return int(rows[0][0])


class SqliteMetadataStore(SqlMetadataStore):
    """Metadata store in one SQLite file (WAL mode), safe for several processes at once.

    :param url: ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite://:memory:``
    """

    dialect = SQLITE

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = anyio.Lock()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None, timeout=_BUSY_TIMEOUT)
        # One round trip to the connection's thread for all the settings.
        pragmas = f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT * 1000)}; "
        if self.path != ":memory:":
            pragmas += "PRAGMA journal_mode = WAL; "
        pragmas += "PRAGMA synchronous = NORMAL;"
        try:
            await self._retry_busy(lambda: conn.executescript(pragmas))
        except BaseException:
            with anyio.CancelScope(shield=True):
                await conn.close()
            raise
        return conn

    async def _open(self) -> None:
        try:
            if self.path != ":memory:":
                path = await anyio.Path(self.path).absolute()
                await path.parent.mkdir(parents=True, exist_ok=True)
                self.path = str(path)
            self._writer = await self._connect()
            if not await self._schema_is_current(self._writer):
                async with self._lock:
                    await self._transaction(self._writer, self._migrate)
            if self.path != ":memory:":
                self._reader = await self._connect()
        except (OSError, sqlite3.Error) as exc:
            await self._close()
            raise StoreConnectionError(
                f"cannot open the SQLite metadata store {self.url} (file {self.path}): {exc}; "
                f"check that the folder is writable and the file is a flowyml database"
            ) from exc
        except BaseException:
            await self._close()
            raise

    @staticmethod
    async def _schema_is_current(conn: aiosqlite.Connection) -> bool:
        """Whether the schema is already the latest, read without taking the write lock
        (the usual case: opening an existing store costs one query, not a transaction)."""
        try:
            rows = list(await conn.execute_fetchall("SELECT MAX(version) FROM schema_version"))
        except sqlite3.OperationalError:  # no such table yet: a new database
            return False
        return bool(rows) and rows[0][0] == LATEST_VERSION

    async def _close(self) -> None:
        with anyio.CancelScope(shield=True):
            reader, self._reader = self._reader, None
            if reader is not None:
                await reader.close()
            async with self._lock:
                writer, self._writer = self._writer, None
                if writer is not None:
                    await writer.close()

    @staticmethod
    async def _retry_busy(fn: Callable[[], Awaitable[T]]) -> T:
        delay = 0.002
        deadline = time.monotonic() + _RETRY_FOR
        while True:
            try:
                return await fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            # Jitter keeps processes that collided from colliding again.
            await anyio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    async def _transaction(
        self, conn: aiosqlite.Connection, fn: Callable[[Session], Awaitable[T]]
    ) -> T:
        async def attempt() -> T:
            await conn.execute_fetchall("BEGIN IMMEDIATE")
            try:
                result = await fn(_SqliteSession(conn))
                await conn.execute_fetchall("COMMIT")
            except BaseException:
                with anyio.CancelScope(shield=True):
                    try:
                        await conn.execute_fetchall("ROLLBACK")
                    except sqlite3.OperationalError:
                        pass  # nothing to roll back: the failure ended the transaction
                raise
            return result

        return await self._retry_busy(attempt)

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"SQLite metadata store {self.url} (file {self.path}) failed: {exc}")

    async def _write(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        async with self._lock:
            if self._writer is None:
                self._check_open()
                raise StoreError(f"metadata store {self.url} is closed")
            try:
                return await self._transaction(self._writer, fn)
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc

    async def _read(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        try:
            if self._reader is not None:
                return await fn(_SqliteSession(self._reader))
            async with self._lock:  # in-memory: the writer is the only connection
                if self._writer is None:
                    raise StoreError(f"metadata store {self.url} is closed")
                return await fn(_SqliteSession(self._writer))
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
