"""SQLite metadata store: the zero-config default.

Writes.  One stdlib :mod:`sqlite3` connection serves every write of the store.  A whole
transaction — ``BEGIN IMMEDIATE``, its statements, ``COMMIT`` — runs as a single call in a
worker thread (:func:`anyio.to_thread.run_sync`), so it costs one thread hop however many
statements it has, and big batches of rows go in multi-row ``INSERT`` statements.  Why not
one aiosqlite call per statement: each call is a round trip to the connection's thread,
and while the event loop is busy (a burst of steps finishing), every round trip waits for
the thread to get the GIL back; a transaction of ten statements then waited ten times.
``BEGIN IMMEDIATE`` takes SQLite's write lock up front, so a transaction never has to
upgrade a read lock (the classic cause of "database is locked").  Another process holding
the lock makes the transaction fail fast (short busy timeout, so a worker thread is never
parked for long and cancellation stays prompt); it is rolled back and retried from the
event loop with jittered backoff, so concurrent writers never fail.

Reads.  A second connection (aiosqlite), opened read-only: in WAL mode it sees committed
data only and never waits for writers.  Closing the store closes the writer first and
this reader last; a read-only connection does not checkpoint the WAL when it closes, so
closing costs no synchronous copy of the WAL into the database file.  SQLite checkpoints
on commit once the WAL passes ``wal_autocheckpoint`` pages (4 MB), so the ``-wal`` file
stays small; it is part of the database (copy ``metadata.db`` with its ``-wal`` file, or use
``sqlite3 metadata.db ".backup copy.db"``).
"""

from __future__ import annotations

import functools
import itertools
import random
import sqlite3
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import aiosqlite
import anyio
import anyio.to_thread

from ...errors import StoreConnectionError, StoreError, UnsupportedURLError
from ._dialect import SQLITE, Session
from ._migrations import LATEST_VERSION
from ._sql import SqlMetadataStore

__all__ = ("SqliteMetadataStore", "sqlite_path")

T = TypeVar("T")

#: how long one attempt waits inside SQLite for another process's write lock
_WRITE_BUSY_TIMEOUT: Final = 0.1
#: the read connection never takes the write lock: it can wait longer
_READ_BUSY_TIMEOUT: Final = 30.0
_RETRY_FOR: Final = 300.0
_BUSY_CODES: Final = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
#: bound parameters per statement, at most: SQLite's default limit since 3.32 (a build
#: with a lower limit, such as the 999 of older versions, gets its own)
_MAX_PARAMS: Final = 32766
#: rows per multi-row statement, at most: every row count is a statement of its own in
#: the connection's statement cache, and a prepared statement's size grows with its rows
_MAX_ROWS: Final = 256


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


@functools.lru_cache(maxsize=1024)
def _multi_row(sql: str, rows: int) -> str | None:
    """``INSERT ... VALUES (?, ?) ...`` rewritten to insert ``rows`` rows, or ``None``."""
    if not sql.startswith("INSERT"):
        return None
    head, sep, rest = sql.partition(" VALUES (")
    if not sep:
        return None
    marks, _, tail = rest.partition(")")
    group = f"({marks})"
    return f"{head} VALUES {', '.join([group] * rows)}{tail}"


class _ThreadSession:
    """A :class:`Session` over a stdlib connection, for code running in a worker thread.

    Its methods are coroutines that never suspend, so the shared (async) SQL code runs
    unchanged inside the thread: :func:`_complete` drives it to its end in one step.
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        # Many rows per statement: SQLite releases the GIL once per statement, not per row,
        # and each statement does less per row than a loop of single-row ones.  Each
        # release costs a hand-over of the GIL to the event loop and back (while the loop
        # is busy, a wait of up to the switch interval): a batch of a map's element rows
        # goes in a few statements per table, not one per 90 rows.
        conn = self._conn
        done = 0
        if len(rows) > 1:
            limit = min(_MAX_PARAMS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
            per = max(1, min(_MAX_ROWS, limit // max(1, len(rows[0]))))
            while done < len(rows):
                chunk = rows[done : done + per]
                multi = _multi_row(sql, len(chunk))
                if multi is None:
                    break
                conn.execute(multi, list(itertools.chain.from_iterable(chunk)))
                done += len(chunk)
        if done < len(rows):
            conn.executemany(sql, rows[done:])

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return self._conn.execute(sql, params).fetchall()

    async def reserve_ids(self, count: int) -> int:
        return int(self._conn.execute(SQLITE.reserve_ids_sql, (count,)).fetchall()[0][0])


def _complete(awaitable: Awaitable[T]) -> T:
    """Run a coroutine that never suspends (it awaits only a :class:`_ThreadSession`)."""
    coro = cast(Coroutine[Any, Any, T], awaitable)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a SQLite transaction may only await its session, not other I/O")


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[Session], Awaitable[T]]) -> T:
    """``fn`` in one write transaction on ``conn`` (called in a worker thread)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = _complete(fn(_ThreadSession(conn)))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT, or a failed statement
            conn.execute("ROLLBACK")
        raise
    return result


def _read_now(conn: sqlite3.Connection, fn: Callable[[Session], Awaitable[T]]) -> T:
    return _complete(fn(_ThreadSession(conn)))


def _open_writer(path: str) -> tuple[sqlite3.Connection, str, bool]:
    """Open the write connection (one worker-thread call for all of it).

    Returns the connection, the absolute path of the file (created with its folder if
    need be) and whether the schema is already the latest.
    """
    if path != ":memory:":
        absolute = Path(path).absolute()
        absolute.parent.mkdir(parents=True, exist_ok=True)
        path = str(absolute)
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=_WRITE_BUSY_TIMEOUT, check_same_thread=False
    )
    try:
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        try:  # read without the write lock: opening an existing store is one query
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = bool(row) and row[0] == LATEST_VERSION
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise
            current = False  # no such table yet: a new database
    except BaseException:
        conn.close()
        raise
    return conn, path, current


class SqliteMetadataStore(SqlMetadataStore):
    """Metadata store in one SQLite file (WAL mode), safe for several processes at once.

    :param url: ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite://:memory:``
    """

    dialect = SQLITE
    # A transaction runs whole in a worker thread: so does turning its events into rows.
    _prepare_in_transaction = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = anyio.Lock()
        # The write connection is used by one worker thread at a time.
        self._thread = anyio.CapacityLimiter(1)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._thread)

    async def _open(self) -> None:
        try:
            opened = await self._retry_busy(lambda: self._in_thread(_open_writer, self.path))
            writer, self.path, current = opened
            self._writer = writer
            if not current:
                async with self._lock:
                    await self._transaction(writer, self._migrate)
            if self.path != ":memory:":
                self._reader = await self._connect_reader()
        except (OSError, sqlite3.Error) as exc:
            await self._close()
            raise StoreConnectionError(
                f"cannot open the SQLite metadata store {self.url} (file {self.path}): {exc}; "
                f"check that the folder is writable and the file is a flowyml database",
                transient=isinstance(exc, sqlite3.Error) and _is_busy(exc),
            ) from exc
        except BaseException:
            await self._close()
            raise

    async def _connect_reader(self) -> aiosqlite.Connection:
        # Read-only; sqlite3's ``timeout`` is SQLite's busy timeout.
        uri = f"file:{urllib.parse.quote(self.path)}?mode=ro"
        pending = aiosqlite.connect(uri, uri=True, isolation_level=None, timeout=_READ_BUSY_TIMEOUT)
        # aiosqlite serves a connection from a thread of its own that is not a daemon: a
        # store that is never closed (a `Client()` left open at the end of a script)
        # would keep the interpreter from exiting.  The thread holds no transaction
        # open (this connection only reads), so letting it die with the process is safe.
        pending._thread.daemon = True
        conn = await pending
        try:
            # A first read attaches this connection to the WAL: from then on the writer is
            # never the last connection, and does not checkpoint when it closes.
            await conn.execute_fetchall("SELECT MAX(version) FROM schema_version")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await conn.close()
            raise
        return conn

    async def _close(self) -> None:
        with anyio.CancelScope(shield=True):
            async with self._lock:  # the writer first: the read-only reader closes last
                writer, self._writer = self._writer, None
                if writer is not None:
                    await self._in_thread(writer.close)
            reader, self._reader = self._reader, None
            if reader is not None:
                await reader.close()

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
        self, conn: sqlite3.Connection, fn: Callable[[Session], Awaitable[T]]
    ) -> T:
        return await self._retry_busy(lambda: self._in_thread(_in_transaction, conn, fn))

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        # Busy waits were already retried; anything else (a corrupted or foreign file, a
        # full disk, a read-only folder) will not get better by trying again.
        return StoreError(
            f"SQLite metadata store {self.url} (file {self.path}) failed: {exc}",
            transient=_is_busy(exc),
        )

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
                return await fn(_ReadSession(self._reader))
            async with self._lock:  # in-memory: the writer is the only connection
                if self._writer is None:
                    raise StoreError(f"metadata store {self.url} is closed")
                return await self._in_thread(_read_now, self._writer, fn)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc


class _ReadSession:
    """A :class:`Session` over the aiosqlite read-only connection: queries only."""

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise StoreError("the SQLite read connection is read-only; write in _write()")

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise StoreError("the SQLite read connection is read-only; write in _write()")

    async def reserve_ids(self, count: int) -> int:
        raise StoreError("the SQLite read connection is read-only; write in _write()")
