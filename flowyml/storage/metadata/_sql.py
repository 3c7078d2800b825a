"""The one SQL implementation of :class:`~flowyml.storage.MetadataStore`.

Backends subclass :class:`SqlMetadataStore` with a :class:`~._dialect.Dialect` and
three hooks: ``_open``/``_close`` (connect, then migrate under the backend's lock),
``_write(fn)`` (run ``fn`` in a write transaction) and ``_read(fn)`` (on a connection
that sees committed data).

Event ids.  Every write transaction first locks the single ``event_seq`` row
(SQLite: ``BEGIN IMMEDIATE`` does the same for the whole file).  Appends advance the
counter in that row by the batch size in the same statement and insert the events
with those ids.  The lock is held until commit, so writers commit one after another
and each gets ids above every id committed before it: ids are strictly increasing in
commit order, and a reader tailing ``id > cursor`` can never miss an event that
commits later with a smaller id.  An autoincrement/sequence column would not promise
that (two transactions can take ids 7 and 8 and commit 8 first).  Taking the same
lock for every write also rules out deadlocks between writers.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping, Sequence
from typing import Any, ClassVar, Final, TypeVar

import msgspec

from ...events import Event, RunFinished, RunStarted, RunStatus, StepStatus
from .._records import (
    ArtifactRecord,
    EventRecord,
    Lineage,
    LogRecord,
    PipelineRecord,
    RunPage,
    RunRecord,
    StepRunPage,
    StepRunRecord,
)
from . import _sql_reads as reads
from ._base import StoreBase
from ._dialect import Dialect, Session
from ._logrows import INSERT_LOG, log_record, log_rows, logs_query
from ._migrations import migrate
from ._packed import PACKED_TYPE, event_rows, unpack
from ._plan import RECOUNT_SQL, fuse, plan, recount_params, touched_runs
from ._projection import (
    ARTIFACT_COLUMNS,
    CACHE_COLUMNS,
    LINEAGE_COLUMNS,
    RUN_COLUMNS,
    STEP_COLUMNS,
    STEP_RULES,
    CloseSteps,
    FinishRun,
    Op,
    project,
    runs_needing_pipeline,
)
from ._rows import (
    PIPELINE_FIELDS,
    RUN_FIELDS,
    artifact_record,
    event_record,
    pipeline_record,
    run_record,
    step_record,
)
from ._runtags import insert_tag_sql, read_runs, runs_query, tag_rows

__all__ = ("SqlMetadataStore",)

T = TypeVar("T")

_RUNS: Final = f"SELECT {', '.join(RUN_FIELDS)} FROM runs"
_PIPELINES: Final = f"SELECT {', '.join(PIPELINE_FIELDS)} FROM pipelines"
_INSERT_EVENT: Final = "INSERT INTO events (id, run_id, type, ts, payload) VALUES (?, ?, ?, ?, ?)"
_PIPELINE_CACHE_SIZE: Final = 4096
_json: Final = msgspec.json.Encoder()


def _op_params(op: Op) -> Sequence[Any]:
    kind = type(op)
    if kind is FinishRun:
        return (op.status, op.finished_at, op.duration, op.error, op.run_id)  # type: ignore[union-attr]
    if kind is CloseSteps:
        return (op.status, op.run_id)  # type: ignore[union-attr]
    return op.row  # type: ignore[union-attr]


class SqlMetadataStore(StoreBase):
    """Metadata store over a SQL database; see the module docstring for the locking."""

    dialect: ClassVar[Dialect]
    #: whether transaction functions run off the event loop (SQLite: in a worker thread),
    #: so that turning events into rows is better done inside them
    _prepare_in_transaction: ClassVar[bool] = False

    def __init__(self, url: str) -> None:
        self.url = url
        self._pipelines: dict[str, str] = {}
        d = self.dialect
        self._statements: dict[Hashable, str] = {
            "run": d.upsert("runs", RUN_COLUMNS, ("run_id",), {}),
            "finish": "UPDATE runs SET status = ?, finished_at = ?, duration = ?, error = ?"
            " WHERE run_id = ?",
            "close": "UPDATE step_runs SET status = ? WHERE run_id = ?"
            " AND status IN ('pending', 'running', 'retrying')",
            "artifact": d.upsert("artifacts", ARTIFACT_COLUMNS, ("id",), {}),
            "lineage": d.upsert(
                "lineage", LINEAGE_COLUMNS, ("run_id", "step", "param"), {"artifact_id": "set"}
            ),
            "cache": d.upsert("cache_entries", CACHE_COLUMNS, ("cache_key", "run_id", "step"), {}),
            "tag": insert_tag_sql(d),
        }
        # Each kind of step upsert names only the columns it can change (plus the key and
        # the NOT NULL ones): fewer values to bind and compare per row.
        self._pickers: dict[Hashable, Callable[[Sequence[Any]], Sequence[Any]]] = {}
        for kind, rules in STEP_RULES.items():
            columns = ["run_id", "step", "status", "attempts"]
            columns += [c for c in rules if c not in columns]
            if kind == "pending":
                columns.append("pos")
            self._statements[kind] = d.upsert("step_runs", columns, ("run_id", "step"), rules)
            self._pickers[kind] = operator.itemgetter(*(STEP_COLUMNS.index(c) for c in columns))

    # backend hooks ------------------------------------------------------------------
    async def _write(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        raise NotImplementedError

    async def _read(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        raise NotImplementedError

    async def _migrate(self, session: Session) -> None:
        await migrate(session, self.dialect, self.url)

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        self._check_open()
        return await self._read(lambda s: s.fetch(sql, params))

    async def _locked_write(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        lock = self.dialect.lock_writers_sql

        async def tx(s: Session) -> T:
            if lock:
                await s.fetch(lock)
            return await fn(s)

        self._check_open()
        return await self._write(tx)

    async def _force_schema_version(self, version: int) -> None:
        """Record schema ``version`` as applied (for tests of the newer-schema refusal)."""
        sql = "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)"
        await self._locked_write(lambda s: s.execute(sql, (version, time.time())))

    # writes ---------------------------------------------------------------------------
    async def save_pipeline(self, record: PipelineRecord) -> None:
        """Insert or update the pipeline named ``record.name`` (keeping its ``created_at``)."""
        sql = self.dialect.upsert(
            "pipelines",
            PIPELINE_FIELDS,
            ("name",),
            {"dag": "set", "code_version": "set", "updated_at": "set"},
        )
        row = (
            record.name,
            _json.encode(record.dag).decode(),
            record.code_version,
            record.created_at,
            record.updated_at,
        )
        await self._locked_write(lambda s: s.execute(sql, row))

    async def append_events(self, events: Sequence[Event]) -> list[int]:
        """Append events in one transaction, update the derived rows, return the new ids."""
        self._check_open()
        if not events:
            return []
        batch = list(events)
        # The pipeline names the projection may need, read here (on the event loop).
        found = {r: n for r in {ev.run_id for ev in batch} if (n := self._pipelines.get(r))}
        missing = sorted(runs_needing_pipeline(batch, found))
        prepared = None
        if not (missing or self._prepare_in_transaction):
            # Prepare outside the transaction when possible: the write lock is held for less.
            prepared = event_rows(batch), self._prepare(batch, found)

        async def tx(s: Session) -> list[int]:
            return await self._append_in(s, batch, found, missing, prepared)

        ids = await self._write(tx)
        self._remember_pipelines(batch, found)
        return ids

    async def _append_in(
        self,
        s: Session,
        batch: Sequence[Event],
        found: dict[str, str],
        missing: Sequence[str] = (),
        prepared: tuple[list[Any], list[tuple[str, list[Sequence[Any]]]]] | None = None,
    ) -> list[int]:
        """Insert ``batch`` and its projection in the transaction of ``s``; return the ids."""
        last = await s.reserve_ids(len(batch))
        first = last - len(batch) + 1
        if prepared is None:
            if missing:
                sql = f"SELECT run_id, pipeline FROM runs WHERE run_id IN ({reads.marks(len(missing))})"
                found.update((r[0], r[1]) for r in await s.fetch(sql, missing))
            rows, statements = event_rows(batch), self._prepare(batch, found)
        else:
            rows, statements = prepared
        await s.executemany(_INSERT_EVENT, [(first + r[0], *r[1:]) for r in rows])
        for sql, params in statements:
            await s.executemany(sql, params)
        return list(range(first, last + 1))

    def _remember_pipelines(self, batch: Sequence[Event], found: Mapping[str, str]) -> None:
        if len(self._pipelines) > _PIPELINE_CACHE_SIZE:
            self._pipelines.clear()
        self._pipelines.update(found)
        self._pipelines.update(
            (ev.run_id, ev.pipeline) for ev in batch if isinstance(ev, RunStarted)
        )

    async def _finish_running(self, events: Sequence[RunFinished]) -> list[str]:
        """Check and append under the writers' lock, in one transaction."""
        self._check_open()
        lock = self.dialect.lock_writers_sql
        run_ids = [ev.run_id for ev in events]
        # A locking read sees the latest commit (MySQL's plain reads may not).
        tail = " FOR UPDATE" if lock else ""

        async def tx(s: Session) -> list[str]:
            if lock:  # SQLite: BEGIN IMMEDIATE already excludes the other writers
                await s.fetch(lock)
            running: set[str] = set()
            for i in range(0, len(run_ids), 500):
                chunk = run_ids[i : i + 500]
                sql = f"SELECT run_id FROM runs WHERE status = 'running' AND run_id IN ({reads.marks(len(chunk))}){tail}"
                running.update(r[0] for r in await s.fetch(sql, chunk))
            batch = [ev for ev in events if ev.run_id in running]
            if batch:
                await self._append_in(s, batch, {})
            return [ev.run_id for ev in batch]

        return await self._write(tx)

    def _prepare(
        self, batch: Sequence[Event], found: Mapping[str, str] | None = None
    ) -> list[tuple[str, list[Sequence[Any]]]]:
        """The statements (with their parameter rows) that project ``batch``."""
        ops = fuse(project(batch, found or {}))
        statements: list[tuple[str, list[Sequence[Any]]]] = []
        for key, group in plan(ops):
            pick = self._pickers.get(key)
            if pick is not None:
                rows = [pick(op.row) for op in group]  # type: ignore[union-attr]
            else:
                rows = [_op_params(op) for op in group]
            statements.append((self._statements[key], rows))
        if touched := touched_runs(ops):
            statements.append((RECOUNT_SQL, [recount_params(r) for r in touched]))
        if logs := log_rows(batch):
            statements.append((INSERT_LOG, logs))
        if tags := tag_rows(batch):
            statements.append((self._statements["tag"], tags))
        return statements

    async def heartbeat(self, run_ids: Sequence[str], ts: float) -> None:
        """Record that these runs' process is alive at ``ts``."""
        if not run_ids:
            self._check_open()
            return
        sql = "UPDATE runs SET heartbeat_at = ? WHERE run_id = ?"
        rows = [(ts, run_id) for run_id in sorted(set(run_ids))]
        await self._locked_write(lambda s: s.executemany(sql, rows))

    async def clear_cache(self, *, pipeline: str | None = None, step: str | None = None) -> int:
        """Forget cache entries (all, or a pipeline's, or one step's); return how many."""
        where, params = reads.where(pipeline=pipeline, step=step)
        sql = f"DELETE FROM cache_entries{where}"
        return await self._locked_write(lambda s: s.execute(sql, params))

    # reads ----------------------------------------------------------------------------
    async def list_pipelines(self) -> list[PipelineRecord]:
        """All pipelines, by name."""
        return [pipeline_record(r) for r in await self._fetch(f"{_PIPELINES} ORDER BY name")]

    async def get_pipeline(self, name: str) -> PipelineRecord | None:
        """The pipeline called ``name``, or ``None``."""
        rows = await self._fetch(f"{_PIPELINES} WHERE name = ?", (name,))
        return pipeline_record(rows[0]) if rows else None

    async def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: int | None = None,
        tag: str | None = None,
    ) -> RunPage:
        """Runs newest first (by ``seq``), ``since <= started_at < until``, ``seq < cursor``."""
        self._check_open()
        limit = max(0, int(limit))
        filters = {"pipeline": pipeline, "status": status, "tag": tag, "cursor": cursor}
        sql, params = runs_query({**filters, "since": since, "until": until}, limit + 1)
        runs = await self._read(read_runs(sql, params))
        items = runs[:limit]
        more = len(runs) > limit and bool(items)
        return RunPage(items=items, next_cursor=items[-1].seq if more else None)

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run ``run_id``, or ``None``."""
        self._check_open()
        runs = await self._read(read_runs(f"{_RUNS} WHERE run_id = ?", (run_id,)))
        return runs[0] if runs else None

    async def _running_runs(self) -> list[RunRecord]:
        return [run_record(r) for r in await self._fetch(f"{_RUNS} WHERE status = ?", ("running",))]

    async def list_step_runs(self, run_id: str) -> list[StepRunRecord]:
        """The run's step runs, in the order ``run_started`` listed them (others by name)."""
        rows = await self._fetch(f"{reads.STEPS} WHERE run_id = ?{reads.STEP_ORDER}", (run_id,))
        return [step_record(r) for r in rows]

    async def list_step_runs_page(
        self,
        run_id: str,
        *,
        cursor: str | None = None,
        limit: int = 100,
        status: StepStatus | None = None,
        parent: str | None = None,
    ) -> StepRunPage:
        """A page of the run's step runs in :meth:`list_step_runs` order (keyset paging)."""
        self._check_open()
        return await self._read(
            lambda s: reads.step_page(
                s, run_id, cursor=cursor, limit=limit, status=status, parent=parent
            )
        )

    async def get_step_run(self, run_id: str, step: str) -> StepRunRecord | None:
        """One step run, or ``None``."""
        rows = await self._fetch(f"{reads.STEPS} WHERE run_id = ? AND step = ?", (run_id, step))
        return step_record(rows[0]) if rows else None

    async def get_artifact(self, artifact_id: str) -> ArtifactRecord | None:
        """The artifact ``artifact_id``, or ``None``."""
        rows = await self._fetch(f"{reads.ARTIFACTS} WHERE id = ?", (artifact_id,))
        return artifact_record(rows[0]) if rows else None

    async def list_artifacts(
        self,
        *,
        run_id: str | None = None,
        name: str | None = None,
        step: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ArtifactRecord]:
        """Artifacts newest first (``created_at`` descending, then by id)."""
        where, params = reads.where(run_id=run_id, name=name, step=step)
        sql = f"{reads.ARTIFACTS}{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
        rows = await self._fetch(sql, [*params, max(0, int(limit)), max(0, int(offset))])
        return [artifact_record(r) for r in rows]

    async def lineage(self, artifact_id: str) -> Lineage | None:
        """Producer, inputs, consumers and derived artifacts of ``artifact_id``."""
        self._check_open()
        return await self._read(lambda s: reads.lineage(s, artifact_id))

    async def events_after(
        self, cursor: int, *, run_id: str | None = None, limit: int = 1000
    ) -> list[EventRecord]:
        """Events with ``id > cursor`` (of one run, if given), oldest first."""
        where, params = reads.where(run_id=run_id)
        where += (" AND " if where else " WHERE ") + "id > ?"
        sql = f"SELECT id, run_id, type, payload FROM events{where} ORDER BY id LIMIT ?"
        limit = max(0, int(limit))
        rows = await self._fetch(sql, [*params, int(cursor), limit])
        records: list[EventRecord] = []
        for r in rows:
            if r[2] == PACKED_TYPE:  # several events; the first may be at or before cursor
                records += [e for e in unpack(int(r[0]), r[1], r[3]) if e.id > cursor]
            else:
                records.append(event_record(r[0], r[3]))
        return records[:limit]

    async def list_logs(
        self, run_id: str, *, step: str | None = None, since: int | None = None, limit: int = 1000
    ) -> list[LogRecord]:
        """A run's log lines (of one step, if given) stored after ``since``, oldest first."""
        sql, params = logs_query(run_id, step, since, limit)
        return [log_record(r) for r in await self._fetch(sql, params)]

    async def last_event_id(self) -> int:
        """The id of the newest committed event (0 when there is none)."""
        rows = await self._fetch("SELECT MAX(id) FROM events")
        return int(rows[0][0] or 0)

    async def cache_snapshot(
        self,
        pipeline: str,
        *,
        steps: Collection[str] | None = None,
        mapped: Collection[str] = (),
        max_age: float | None = None,
    ) -> dict[str, tuple[str, str, dict[str, ArtifactRecord]]]:
        """The newest cache entry of every step of ``pipeline``, in one read per 500 steps.

        Returns ``{step: (cache_key, run_id, outputs)}`` (entries whose artifacts are
        missing are left out).  Lets a run answer most cache lookups from memory.

        :param steps: only these steps (a run passes its DAG's: a pipeline whose steps
            changed over time has entries for many more)
        :param mapped: with ``steps``, also the elements (``name[i]``) of these steps
        """
        self._check_open()
        if steps is not None and not steps:
            return {}
        return await self._read(
            lambda s: reads.cache_snapshot(s, pipeline, steps=steps, mapped=mapped, max_age=max_age)
        )

    async def lookup_cache(
        self, cache_key: str, *, max_age: float | None = None
    ) -> tuple[str, dict[str, ArtifactRecord]] | None:
        """Return ``(run_id, outputs)`` of the newest entry for ``cache_key``, or ``None``.

        ``None`` also when the entry is older than ``max_age`` seconds or one of its
        artifacts is missing.
        """
        self._check_open()
        return await self._read(lambda s: reads.cache_entry(s, cache_key, max_age))
