"""In-memory metadata store: per instance, nothing persisted; for tests and throwaway runs.

It applies the same projection operations as the SQL stores (see :mod:`._projection`),
row by row on dictionaries, so both kinds of store derive identical rows from events.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Collection, Sequence
from typing import Any

import msgspec

from ...events import Event, RunFinished, RunStatus, StepStatus, encode_event
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
    decode_step_cursor,
    encode_step_cursor,
)
from ._base import StoreBase
from ._logrows import log_record, log_rows
from ._plan import counts_as_step, fuse, touched_runs
from ._projection import (
    RUN_COLUMNS,
    STEP_COLUMNS,
    STEP_RULES,
    CloseSteps,
    FinishRun,
    InsertArtifact,
    InsertCache,
    InsertRun,
    Op,
    UpsertLineage,
    UpsertStep,
    project,
)
from ._rows import RUN_FIELDS, STEP_FIELDS, artifact_record, event_record, run_record, step_record
from ._runtags import tag_rows

__all__ = ("MemoryMetadataStore",)

_OPEN_STEPS = frozenset({"pending", "running", "retrying"})
_ids = msgspec.json.Decoder(dict[str, str])


def _step_order(row: dict[str, Any]) -> tuple[bool, int, str]:
    """Run order: steps ``run_started`` listed (by position), then the others by name."""
    return (row["pos"] is None, row["pos"] or 0, row["step"])


class MemoryMetadataStore(StoreBase):
    """Metadata store kept in this object's dictionaries (``memory://``)."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._pipelines: dict[str, PipelineRecord] = {}
        self._runs: dict[str, dict[str, Any]] = {}
        self._steps: dict[str, dict[str, dict[str, Any]]] = {}
        self._artifacts: dict[str, tuple[Any, ...]] = {}
        self._lineage: dict[tuple[str, str, str], str] = {}
        self._cache: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        self._events: list[tuple[int, str, bytes]] = []
        self._seq = 0
        self._logs: list[LogRecord] = []
        self._tags: dict[str, list[str]] = {}

    async def _open(self) -> None:
        return None

    async def _close(self) -> None:
        return None

    # writes ---------------------------------------------------------------------------
    async def save_pipeline(self, record: PipelineRecord) -> None:
        """Insert or update the pipeline named ``record.name`` (keeping its ``created_at``)."""
        self._check_open()
        old = self._pipelines.get(record.name)
        if old is not None:
            record = msgspec.structs.replace(record, created_at=old.created_at)
        self._pipelines[record.name] = record

    async def append_events(self, events: Sequence[Event]) -> list[int]:
        """Append events, update the derived rows, return the new ids."""
        self._check_open()
        pipelines = {run_id: row["pipeline"] for run_id, row in self._runs.items()}
        ops = fuse(project(events, pipelines))
        payloads = [encode_event(ev) for ev in events]
        first = len(self._events) + 1
        self._events.extend(
            (first + i, ev.run_id, payload)
            for i, (ev, payload) in enumerate(zip(events, payloads, strict=True))
        )
        for op in ops:
            self._apply(op)
        self._logs.extend(
            log_record((len(self._logs) + i, *row)) for i, row in enumerate(log_rows(events), 1)
        )
        for run_id, _, tag in tag_rows(events):
            if tag not in (tags := self._tags.setdefault(run_id, [])):
                tags.append(tag)
        for run_id in touched_runs(ops):
            self._recount(run_id)
        return list(range(first, first + len(payloads)))

    async def _finish_running(self, events: Sequence[RunFinished]) -> list[str]:
        # No await between the check and the append: atomic for this process's tasks.
        batch = [ev for ev in events if self._runs.get(ev.run_id, {}).get("status") == "running"]
        if batch:
            await self.append_events(batch)
        return [ev.run_id for ev in batch]

    def _apply(self, op: Op) -> None:
        if isinstance(op, InsertRun):
            run_id = op.row[0]
            if run_id not in self._runs:
                self._seq += 1
                row = dict.fromkeys(RUN_FIELDS, None) | dict(zip(RUN_COLUMNS, op.row, strict=True))
                row.update(seq=self._seq, steps_done=0, steps_cached=0, steps_failed=0)
                self._runs[run_id] = row
        elif isinstance(op, UpsertStep):
            steps = self._steps.setdefault(op.row[0], {})
            new = dict(zip(STEP_COLUMNS, op.row, strict=True))
            old = steps.get(op.row[1])
            if old is None:
                steps[op.row[1]] = new
                return
            for col, rule in STEP_RULES[op.kind].items():
                keep_old = (rule == "keep" and old[col] is not None) or (
                    rule == "fill" and new[col] is None
                )
                if not keep_old:
                    old[col] = new[col]
        elif isinstance(op, FinishRun):
            if (run := self._runs.get(op.run_id)) is not None:
                run.update(
                    status=op.status,
                    finished_at=op.finished_at,
                    duration=op.duration,
                    error=op.error,
                )
        elif isinstance(op, CloseSteps):
            for step in self._steps.get(op.run_id, {}).values():
                if step["status"] in _OPEN_STEPS:
                    step["status"] = op.status
        elif isinstance(op, InsertArtifact):
            self._artifacts.setdefault(op.row[0], op.row)
        elif isinstance(op, UpsertLineage):
            self._lineage[op.row[:3]] = op.row[3]
        elif isinstance(op, InsertCache):
            self._cache.setdefault(op.row[:3], op.row)

    def _recount(self, run_id: str) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        statuses = [
            s["status"]
            for s in self._steps.get(run_id, {}).values()
            if counts_as_step(s["step"], s["pos"])
        ]
        run["steps_done"] = sum(s in ("succeeded", "cached") for s in statuses)
        run["steps_cached"] = statuses.count("cached")
        run["steps_failed"] = statuses.count("failed")

    async def heartbeat(self, run_ids: Sequence[str], ts: float) -> None:
        """Record that these runs' process is alive at ``ts``."""
        self._check_open()
        for run_id in run_ids:
            if (run := self._runs.get(run_id)) is not None:
                run["heartbeat_at"] = ts

    async def clear_cache(self, *, pipeline: str | None = None, step: str | None = None) -> int:
        """Forget cache entries (all, or a pipeline's, or one step's); return how many."""
        self._check_open()
        doomed = [
            key
            for key, row in self._cache.items()
            if (pipeline is None or row[3] == pipeline) and (step is None or row[2] == step)
        ]
        for key in doomed:
            del self._cache[key]
        return len(doomed)

    # reads ----------------------------------------------------------------------------
    def _run(self, row: dict[str, Any]) -> RunRecord:
        run = run_record([row[f] for f in RUN_FIELDS])
        tags = self._tags.get(run.run_id)
        return run if tags is None else msgspec.structs.replace(run, tags=list(tags))

    @staticmethod
    def _step(row: dict[str, Any]) -> StepRunRecord:
        return step_record([row[f] for f in STEP_FIELDS])

    async def list_pipelines(self) -> list[PipelineRecord]:
        """All pipelines, by name."""
        self._check_open()
        return [self._pipelines[name] for name in sorted(self._pipelines)]

    async def get_pipeline(self, name: str) -> PipelineRecord | None:
        """The pipeline called ``name``, or ``None``."""
        self._check_open()
        return self._pipelines.get(name)

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
        rows = [
            r
            for r in sorted(self._runs.values(), key=lambda r: -int(r["seq"]))
            if (pipeline is None or r["pipeline"] == pipeline)
            and (status is None or r["status"] == status)
            and (since is None or r["started_at"] >= since)
            and (until is None or r["started_at"] < until)
            and (cursor is None or r["seq"] < cursor)
            and (tag is None or tag in self._tags.get(r["run_id"], ()))
        ]
        limit = max(0, int(limit))
        items = [self._run(r) for r in rows[:limit]]
        more = len(rows) > limit and bool(items)
        return RunPage(items=items, next_cursor=items[-1].seq if more else None)

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run ``run_id``, or ``None``."""
        self._check_open()
        row = self._runs.get(run_id)
        return None if row is None else self._run(row)

    async def _running_runs(self) -> list[RunRecord]:
        return [self._run(r) for r in self._runs.values() if r["status"] == "running"]

    async def list_step_runs(self, run_id: str) -> list[StepRunRecord]:
        """The run's step runs, in the order ``run_started`` listed them (others by name)."""
        self._check_open()
        rows = sorted(
            self._steps.get(run_id, {}).values(),
            key=_step_order,
        )
        return [self._step(r) for r in rows]

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
        after: tuple[bool, int, str] | None = None
        if cursor is not None:
            pos, name = decode_step_cursor(cursor)
            after = (pos is None, pos or 0, name)
        rows = sorted(
            (
                r
                for r in self._steps.get(run_id, {}).values()
                if (status is None or r["status"] == status)
                and (parent is None or r["step"].startswith(f"{parent}["))
            ),
            key=_step_order,
        )
        if after is not None:
            rows = [r for r in rows if _step_order(r) > after]
        limit = max(1, int(limit))
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = encode_step_cursor(page[-1]["pos"], page[-1]["step"]) if more else None
        return StepRunPage(items=[self._step(r) for r in page], next_cursor=next_cursor)

    async def get_step_run(self, run_id: str, step: str) -> StepRunRecord | None:
        """One step run, or ``None``."""
        self._check_open()
        row = self._steps.get(run_id, {}).get(step)
        return None if row is None else self._step(row)

    async def get_artifact(self, artifact_id: str) -> ArtifactRecord | None:
        """The artifact ``artifact_id``, or ``None``."""
        self._check_open()
        row = self._artifacts.get(artifact_id)
        return None if row is None else artifact_record(row)

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
        self._check_open()
        rows = sorted(
            (
                r
                for r in self._artifacts.values()
                if (run_id is None or r[2] == run_id)
                and (name is None or r[1] == name)
                and (step is None or r[3] == step)
            ),
            key=lambda r: (-r[9], r[0]),
        )
        start = max(0, int(offset))
        return [artifact_record(r) for r in rows[start : start + max(0, int(limit))]]

    def _pick(self, ids: Sequence[str]) -> list[ArtifactRecord]:
        return [
            artifact_record(self._artifacts[i]) for i in dict.fromkeys(ids) if i in self._artifacts
        ]

    async def lineage(self, artifact_id: str) -> Lineage | None:
        """Producer, inputs, consumers and derived artifacts of ``artifact_id``."""
        self._check_open()
        row = self._artifacts.get(artifact_id)
        if row is None:
            return None
        artifact = artifact_record(row)
        found = self._steps.get(artifact.run_id, {}).get(artifact.step)
        producer = None if found is None else self._step(found)
        keys = dict.fromkeys(
            (r, s) for (r, s, _), aid in self._lineage.items() if aid == artifact_id
        )
        consumers = sorted(
            (self._step(self._steps[r][s]) for r, s in keys if s in self._steps.get(r, {})),
            key=lambda c: (c.started_at or 0.0, c.run_id, c.step),
        )
        return Lineage(
            artifact=artifact,
            producer=producer,
            inputs=self._pick(list(producer.inputs.values()) if producer else []),
            consumers=consumers,
            derived=self._pick([aid for c in consumers for aid in c.outputs.values()]),
        )

    async def events_after(
        self, cursor: int, *, run_id: str | None = None, limit: int = 1000
    ) -> list[EventRecord]:
        """Events with ``id > cursor`` (of one run, if given), oldest first."""
        self._check_open()
        out: list[EventRecord] = []
        for event_id, event_run, payload in self._events[max(0, int(cursor)) :]:
            if len(out) >= limit:
                break
            if run_id is None or event_run == run_id:
                out.append(event_record(event_id, payload))
        return out

    async def list_logs(
        self, run_id: str, *, step: str | None = None, since: int | None = None, limit: int = 1000
    ) -> list[LogRecord]:
        """A run's log lines (of one step, if given) stored after ``since``, oldest first."""
        self._check_open()
        start = 0 if since is None else max(0, int(since))
        found = (
            r for r in self._logs[start:] if r.run_id == run_id and (step is None or r.step == step)
        )
        return list(itertools.islice(found, max(0, int(limit))))

    async def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none)."""
        self._check_open()
        return len(self._events)

    async def cache_snapshot(
        self,
        pipeline: str,
        *,
        steps: Collection[str] | None = None,
        mapped: Collection[str] = (),
        max_age: float | None = None,
    ) -> dict[str, tuple[str, str, dict[str, ArtifactRecord]]]:
        """The newest cache entry of every step of ``pipeline`` (see the SQL stores)."""
        self._check_open()
        oldest = None if max_age is None else time.time() - max_age
        wanted = None if steps is None else set(steps)
        prefixes = tuple(f"{m}[" for m in mapped)
        newest: dict[str, tuple[Any, ...]] = {}
        for row in self._cache.values():
            if row[3] != pipeline or (oldest is not None and row[5] < oldest):
                continue
            if wanted is not None and row[2] not in wanted and not row[2].startswith(prefixes):
                continue
            best = newest.get(row[2])
            if best is None or (row[5], row[1]) > (best[5], best[1]):
                newest[row[2]] = row
        snapshot: dict[str, tuple[str, str, dict[str, ArtifactRecord]]] = {}
        for step, row in newest.items():
            outputs = _ids.decode(row[4])
            if all(aid in self._artifacts for aid in outputs.values()):
                snapshot[step] = (
                    row[0],
                    row[1],
                    {n: artifact_record(self._artifacts[a]) for n, a in outputs.items()},
                )
        return snapshot

    async def lookup_cache(
        self, cache_key: str, *, max_age: float | None = None
    ) -> tuple[str, dict[str, ArtifactRecord]] | None:
        """Return ``(run_id, outputs)`` of the newest entry for ``cache_key``, or ``None``."""
        self._check_open()
        oldest = None if max_age is None else time.time() - max_age
        entries = [
            row
            for key, row in self._cache.items()
            if key[0] == cache_key and (oldest is None or row[5] >= oldest)
        ]
        if not entries:
            return None
        newest = max(entries, key=lambda row: (row[5], row[1]))
        outputs = _ids.decode(newest[4])
        if any(aid not in self._artifacts for aid in outputs.values()):
            return None
        return newest[1], {
            name: artifact_record(self._artifacts[aid]) for name, aid in outputs.items()
        }
