"""The SQL metadata store's multi-statement reads, as functions over one :class:`Session`.

:class:`~._sql.SqlMetadataStore` runs each of them on a read connection; they hold the
SQL of the lineage, cache and step-page queries.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any, Final

import msgspec

from ...events import StepStatus
from .._records import (
    ArtifactRecord,
    Lineage,
    StepRunPage,
    decode_step_cursor,
    encode_step_cursor,
)
from ._dialect import Session
from ._rows import ARTIFACT_FIELDS, STEP_FIELDS, artifact_record, step_record

__all__ = (
    "ARTIFACTS",
    "STEPS",
    "STEP_ORDER",
    "cache_entry",
    "cache_snapshot",
    "lineage",
    "marks",
    "step_page",
    "where",
)

STEPS: Final = f"SELECT {', '.join(STEP_FIELDS)} FROM step_runs"
ARTIFACTS: Final = f"SELECT {', '.join(ARTIFACT_FIELDS)} FROM artifacts"
STEP_ORDER: Final = " ORDER BY (pos IS NULL), pos, step"
_STEPS_POS: Final = f"SELECT {', '.join(STEP_FIELDS)}, pos FROM step_runs"
_ids: Final = msgspec.json.Decoder(dict[str, str])
#: artifact ids or step names per ``IN (...)`` list
_CHUNK: Final = 500

Snapshot = dict[str, tuple[str, str, dict[str, ArtifactRecord]]]


def marks(n: int) -> str:
    """``n`` comma-separated placeholders."""
    return ", ".join("?" * n)


def where(**filters: Any) -> tuple[str, list[Any]]:
    """`` WHERE col = ? AND ...`` for the filters that are not ``None``, and their values."""
    clauses = [f"{col} = ?" for col, value in filters.items() if value is not None]
    params = [value for value in filters.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _like_prefix(text: str) -> str:
    """``text`` for a ``LIKE ... ESCAPE '!'`` pattern (its ``%``, ``_`` and ``!`` literal)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


async def artifacts_by_id(s: Session, ids: Sequence[str]) -> dict[str, ArtifactRecord]:
    """The artifacts among ``ids`` that exist, by id."""
    found: dict[str, ArtifactRecord] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        rows = await s.fetch(f"{ARTIFACTS} WHERE id IN ({marks(len(chunk))})", chunk)
        found.update((r[0], artifact_record(r)) for r in rows)
    return found


async def step_page(
    s: Session,
    run_id: str,
    *,
    cursor: str | None,
    limit: int,
    status: StepStatus | None,
    parent: str | None,
) -> StepRunPage:
    """A page of a run's step runs in run order (keyset paging on ``(pos, step)``)."""
    clause, params = where(run_id=run_id, status=status)
    if parent is not None:
        clause += " AND step LIKE ? ESCAPE '!'"
        params.append(_like_prefix(parent) + "[%")
    if cursor is not None:
        pos, step = decode_step_cursor(cursor)
        if pos is None:
            clause += " AND pos IS NULL AND step > ?"
            params.append(step)
        else:
            clause += " AND (pos IS NULL OR pos > ? OR (pos = ? AND step > ?))"
            params += [pos, pos, step]
    limit = max(1, int(limit))
    rows = await s.fetch(f"{_STEPS_POS}{clause}{STEP_ORDER} LIMIT ?", [*params, limit + 1])
    items = [step_record(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = None if last is None else encode_step_cursor(last[-1], last[1])
    return StepRunPage(items=items, next_cursor=next_cursor)


async def lineage(s: Session, artifact_id: str) -> Lineage | None:
    """Producer, inputs, consumers and derived artifacts of ``artifact_id``."""
    rows = await s.fetch(f"{ARTIFACTS} WHERE id = ?", (artifact_id,))
    if not rows:
        return None
    artifact = artifact_record(rows[0])
    found = await s.fetch(
        f"{STEPS} WHERE run_id = ? AND step = ?", (artifact.run_id, artifact.step)
    )
    producer = step_record(found[0]) if found else None
    sql = (
        f"{STEPS} WHERE (run_id, step) IN (SELECT run_id, step FROM lineage WHERE artifact_id = ?)"
    )
    consumers = sorted(
        (step_record(r) for r in await s.fetch(sql, (artifact_id,))),
        key=lambda c: (c.started_at or 0.0, c.run_id, c.step),
    )
    input_ids = list(producer.inputs.values()) if producer else []
    derived_ids = [aid for c in consumers for aid in c.outputs.values()]
    known = await artifacts_by_id(s, [*input_ids, *derived_ids])

    def pick(ids: list[str]) -> list[ArtifactRecord]:
        return [known[i] for i in dict.fromkeys(ids) if i in known]

    return Lineage(
        artifact=artifact,
        producer=producer,
        inputs=pick(input_ids),
        consumers=consumers,
        derived=pick(derived_ids),
    )


async def cache_snapshot(
    s: Session,
    pipeline: str,
    *,
    steps: Collection[str] | None,
    mapped: Collection[str],
    max_age: float | None,
) -> Snapshot:
    """The newest cache entry of every step of ``pipeline`` (see ``cache_snapshot``)."""
    clause = "WHERE pipeline = ?"
    params: list[Any] = [pipeline]
    if max_age is not None:
        clause += " AND created_at >= ?"
        params.append(time.time() - max_age)
    rows: list[Sequence[Any]] = []
    for extra, values in _step_filters(steps, mapped):
        sql = (
            "SELECT cache_key, run_id, step, outputs FROM (SELECT cache_key, run_id, "
            "step, outputs, ROW_NUMBER() OVER (PARTITION BY step ORDER BY created_at "
            f"DESC, run_id DESC) AS rn FROM cache_entries {clause}{extra}) ranked "
            "WHERE rn = 1"
        )
        rows += await s.fetch(sql, [*params, *values])
    decoded = [(str(r[0]), str(r[1]), str(r[2]), _ids.decode(r[3])) for r in rows]
    known = await artifacts_by_id(s, [aid for *_, outs in decoded for aid in outs.values()])
    snapshot: Snapshot = {}
    for key, run_id, step, outs in decoded:
        if all(aid in known for aid in outs.values()):
            snapshot[step] = (key, run_id, {n: known[a] for n, a in outs.items()})
    return snapshot


def _step_filters(
    steps: Collection[str] | None, mapped: Collection[str]
) -> list[tuple[str, list[Any]]]:
    """Extra ``AND ...`` clauses (a few hundred names each) selecting ``steps`` and the
    elements of the ``mapped`` ones; one empty clause for every step."""
    if steps is None:
        return [("", [])]
    names = sorted(steps)
    filters: list[tuple[str, list[Any]]] = [
        (f" AND step IN ({marks(len(chunk))})", chunk)
        for chunk in (names[i : i + _CHUNK] for i in range(0, len(names), _CHUNK))
    ]
    patterns = sorted(_like_prefix(m) + "[%" for m in mapped)
    for i in range(0, len(patterns), _CHUNK):
        chunk = patterns[i : i + _CHUNK]
        likes = " OR ".join("step LIKE ? ESCAPE '!'" for _ in chunk)
        filters.append((f" AND ({likes})", chunk))
    return filters


async def cache_entry(
    s: Session, cache_key: str, max_age: float | None
) -> tuple[str, dict[str, ArtifactRecord]] | None:
    """``(run_id, outputs)`` of the newest entry for ``cache_key`` (see ``lookup_cache``)."""
    clause = " WHERE cache_key = ?"
    params: list[Any] = [cache_key]
    if max_age is not None:
        clause += " AND created_at >= ?"
        params.append(time.time() - max_age)
    order = " ORDER BY created_at DESC, run_id DESC LIMIT 1"
    rows = await s.fetch(f"SELECT run_id, outputs FROM cache_entries{clause}{order}", params)
    if not rows:
        return None
    outputs = _ids.decode(rows[0][1])
    known = await artifacts_by_id(s, list(outputs.values()))
    if any(aid not in known for aid in outputs.values()):
        return None
    return str(rows[0][0]), {name: known[aid] for name, aid in outputs.items()}
