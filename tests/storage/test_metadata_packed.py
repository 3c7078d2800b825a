"""Map elements' events packed many to an ``events`` row (SQL stores)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio

from flowyml.events import Event, StepStarted, encode_event
from flowyml.storage.metadata import SqliteMetadataStore
from flowyml.storage.metadata._migrations import LATEST_VERSION
from flowyml.storage.metadata._packed import PACKED_TYPE, event_rows
from flowyml.testing._events import artifact_ref, ok_event, started_event


def _map_events(run_id: str, n: int) -> list[Event]:
    events: list[Event] = [started_event(run_id, ["work"], 1.0)]
    events += [StepStarted(run_id=run_id, step=f"work[{i}]", ts=2.0 + i) for i in range(n)]
    events += [
        ok_event(run_id, f"work[{i}]", 3.0 + i, artifact_ref(f"{run_id}-{i}", f"work[{i}]"))
        for i in range(n)
    ]
    return events


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_map_s_element_events_share_a_row_and_few_bytes() -> None:
    rows = event_rows(_map_events("r", 1000))
    assert [r[2] for r in rows] == ["run_started", PACKED_TYPE]
    assert rows[-1][0] == 2000  # the row carries its last event's offset
    per_event = len(rows[-1][4]) / 2000
    plain = sum(len(encode_event(e)) for e in _map_events("r", 1000)[1:]) / 2000
    assert per_event < plain / 2.5, (per_event, plain)


def test_a_lone_element_event_keeps_a_plain_row() -> None:
    events: list[Event] = [
        StepStarted(run_id="r", step="work[0]", ts=1.0),
        StepStarted(run_id="r", step="load", ts=1.0),
        StepStarted(run_id="r", step="work[1]", ts=1.0),
        StepStarted(run_id="r", step="other[2]", ts=1.0),
    ]
    assert [r[2] for r in event_rows(events)] == ["step_started"] * 4


async def test_a_store_written_before_packing_still_reads(tmp_path: Path) -> None:
    # Write element events one to a row, as schema version 3 did, then open the file:
    # the migration to the current version keeps them, and reads mix both kinds of rows.
    path = tmp_path / "m.db"
    old = _map_events("old", 3)
    async with SqliteMetadataStore(f"sqlite:///{path}") as store:
        await store.append_events(old[:1])

    def downgrade() -> None:
        conn = sqlite3.connect(path)
        with conn:
            rows = [
                (i, e.run_id, e.type, e.ts, encode_event(e).decode())
                for i, e in enumerate(old[1:], 2)
            ]
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("UPDATE event_seq SET last_id = ?", (len(old),))
            conn.execute("DELETE FROM schema_version WHERE version > 3")
        conn.close()

    await anyio.to_thread.run_sync(downgrade)
    new = _map_events("new", 3)
    async with SqliteMetadataStore(f"sqlite:///{path}") as store:
        await store.append_events(new)
        log = await store.events_after(0)
    assert [e.event for e in log] == old + new
    assert [e.id for e in log] == list(range(1, len(old) + len(new) + 1))
    types = _query(path, "SELECT type FROM events ORDER BY id")
    assert types.count((PACKED_TYPE,)) == 1 and len(types) == len(old) + 2
    assert _query(path, "SELECT MAX(version) FROM schema_version") == [(LATEST_VERSION,)]
