"""Batching row operations (which ``Op`` of a batch may share one statement) and the run
counters they touch."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Final

from ._projection import (
    FUSED,
    STEP_COLUMNS,
    CloseSteps,
    FinishRun,
    InsertArtifact,
    InsertCache,
    InsertRun,
    Op,
    UpsertLineage,
    UpsertStep,
)

__all__ = ("RECOUNT_SQL", "counts_as_step", "fuse", "plan", "recount_params", "touched_runs")


def counts_as_step(step: str, pos: int | None) -> bool:
    """Whether a step-run row counts in its run's ``steps_done``/``cached``/``failed``.

    A run's counters count its steps, not the elements of its mapped steps
    (``fetch[17]``): a 50-element map is one step of a three-step run.  A row listed by
    ``run_started`` (it has a ``pos``) always counts; any other row counts unless it is
    named like an element.  :data:`RECOUNT_SQL` applies the same rule in SQL.
    """
    return pos is not None or not step.endswith("]")


#: the name of a map element: ``fetch[17]``
_ELEMENT: Final = re.compile(r"\[\d+\]\Z")

#: :func:`counts_as_step` as a SQL condition on a ``step_runs`` row; its one parameter
#: is ``"%]"`` (bound, since ``%`` is a placeholder in some drivers' SQL)
_COUNTED: Final = "(pos IS NOT NULL OR step NOT LIKE ?)"

#: recount a run's step counters (parameters: :func:`recount_params`)
RECOUNT_SQL: Final = (
    "UPDATE runs SET "
    "steps_done = (SELECT COUNT(*) FROM step_runs"
    f" WHERE step_runs.run_id = ? AND status IN ('succeeded', 'cached') AND {_COUNTED}), "
    "steps_cached = (SELECT COUNT(*) FROM step_runs"
    f" WHERE step_runs.run_id = ? AND status = 'cached' AND {_COUNTED}), "
    "steps_failed = (SELECT COUNT(*) FROM step_runs"
    f" WHERE step_runs.run_id = ? AND status = 'failed' AND {_COUNTED}) "
    "WHERE run_id = ?"
)


def recount_params(run_id: str) -> tuple[str, ...]:
    """The parameters of :data:`RECOUNT_SQL` for ``run_id``."""
    return (run_id, "%]", run_id, "%]", run_id, "%]", run_id)


def touched_runs(ops: Iterable[Op]) -> list[str]:
    """Runs whose step counters may have changed (in first-seen order).

    Changes of map elements do not touch the counters, so a batch of element events
    costs no recount (which reads every step-run row of the run).
    """
    seen: dict[str, None] = {}
    for op in ops:
        kind = type(op)
        if kind is UpsertStep:
            row = op.row  # type: ignore[union-attr]
            if _ELEMENT.search(row[1]) is None:
                seen[row[0]] = None
        elif kind is CloseSteps:
            seen[op.run_id] = None  # type: ignore[union-attr]
    return list(seen)


def fuse(ops: list[Op]) -> list[Op]:
    """``ops`` with each step's ``step_started`` upsert and the ``step_succeeded`` one
    after it made one :data:`~._projection.FUSED` upsert, in the place of the second.

    A map element mostly starts and succeeds within one batch: one row written once
    instead of inserted, then updated.  Two upserts are fused only when nothing else
    changes that row, or its run's row or steps, between them; the fused one then has
    the effect of the two in turn (``STEP_RULES[FUSED]`` composes their rules).
    """
    started: dict[tuple[str, str], int] = {}  # the steps' open step_started, by position
    pairs: dict[int, int] = {}  # step_succeeded position -> its step_started position
    for i, op in enumerate(ops):
        kind = type(op)
        if kind is UpsertStep:
            row = op.row  # type: ignore[union-attr]
            key = (row[0], row[1])
            if op.kind == "step_started":  # type: ignore[union-attr]
                started[key] = i
            elif (first := started.pop(key, None)) is not None and op.kind == "step_succeeded":  # type: ignore[union-attr]
                pairs[i] = first
        elif kind is InsertRun or kind is FinishRun or kind is CloseSteps:
            started.clear()
    if not pairs:
        return ops
    gone = set(pairs.values())
    return [
        _fused(ops[pairs[i]], op) if i in pairs else op  # type: ignore[arg-type]
        for i, op in enumerate(ops)
        if i not in gone
    ]


_STARTED_AT, _CACHE_KEY, _INPUTS = (
    STEP_COLUMNS.index(c) for c in ("started_at", "cache_key", "inputs")
)


def _fused(started: UpsertStep, succeeded: UpsertStep) -> UpsertStep:
    row = list(succeeded.row)
    row[_STARTED_AT] = started.row[_STARTED_AT]
    row[_INPUTS] = started.row[_INPUTS]
    if row[_CACHE_KEY] is None:
        row[_CACHE_KEY] = started.row[_CACHE_KEY]
    return UpsertStep(FUSED, tuple(row))


def plan(ops: Sequence[Op]) -> list[tuple[Hashable, list[Op]]]:
    """Group ``ops`` into ``(statement key, ops)`` batches that give the same result in order.

    An operation joins the latest batch of its statement when nothing it conflicts with
    happened in or after that batch; otherwise it starts a new batch.  Conflicts: two
    operations on the same row; a step upsert and a write of its run's row (insert,
    finish); a step upsert and the closing of all its run's steps.  A typical batch of
    step events thus becomes one ``executemany`` per statement instead of one call per
    row.  Step upserts use their event tag as statement key.
    """
    groups: list[tuple[Hashable, list[Op]]] = []
    latest: dict[Hashable, int] = {}
    # Batch index of the last write (w) and last read (r) of each kind of row.
    step_w: dict[tuple[str, str], int] = {}
    run_w: dict[str, int] = {}
    run_r: dict[str, int] = {}
    steps_w: dict[str, int] = {}
    steps_r: dict[str, int] = {}
    row_w: dict[tuple[Any, ...], int] = {}  # artifact, lineage and cache rows
    for op in ops:
        kind = type(op)
        if kind is UpsertStep:
            key: Hashable = op.kind  # type: ignore[union-attr]
            run = op.row[0]  # type: ignore[union-attr]
            step = (run, op.row[1])  # type: ignore[union-attr]
            floor = max(step_w.get(step, -1), run_w.get(run, -1), steps_w.get(run, -1))
        elif kind is InsertRun or kind is FinishRun:
            key = "run" if kind is InsertRun else "finish"
            run = op.row[0] if kind is InsertRun else op.run_id  # type: ignore[union-attr]
            floor = max(run_w.get(run, -1), run_r.get(run, -1))
        elif kind is CloseSteps:
            key = "close"
            run = op.run_id  # type: ignore[union-attr]
            floor = max(steps_w.get(run, -1), steps_r.get(run, -1))
        else:
            key = _ROW_KEYS[kind]
            row = (key, *op.row[: _KEY_WIDTH[kind]])  # type: ignore[union-attr]
            floor = row_w.get(row, -1)
        index = latest.get(key, -1)
        if index <= floor:
            index = len(groups)
            groups.append((key, []))
            latest[key] = index
        groups[index][1].append(op)
        if kind is UpsertStep:
            step_w[step] = index
            if run_r.get(run, -1) < index:
                run_r[run] = index
            if steps_r.get(run, -1) < index:
                steps_r[run] = index
        elif kind is CloseSteps:
            steps_w[run] = index
        elif key == "run" or key == "finish":
            run_w[run] = index
        else:
            row_w[row] = index
    return groups


#: statement key and key columns of the rows only ever inserted
_ROW_KEYS: Final[Mapping[type, str]] = {
    InsertArtifact: "artifact",
    UpsertLineage: "lineage",
    InsertCache: "cache",
}
_KEY_WIDTH: Final[Mapping[type, int]] = {InsertArtifact: 1, UpsertLineage: 3, InsertCache: 3}
