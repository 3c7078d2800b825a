"""The server benchmarks run (small sizes) so they cannot rot; no timing is asserted."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from benchmarks import bench_server_sse, bench_server_store

pytestmark = pytest.mark.slow


def test_store_benchmark_builds_and_measures(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    bench_server_store.build(path, 300)
    assert bench_server_store._count(path) == (300, 300 * bench_server_store.EVENTS_PER_RUN)
    results = anyio.run(bench_server_store.measure, path, 300, 2)
    assert set(results) == {
        "runs page (newest)",
        "runs page (deep cursor)",
        "runs page (pipeline+status)",
        "run detail",
        "replay from cursor",
    }
    assert all(len(ms) == 2 for ms in results.values())


def test_fanout_benchmark_delivers_every_event_past_a_stalled_watcher() -> None:
    async def both() -> list[dict[str, float]]:
        return [
            await bench_server_sse.scenario(kind, 20, 50, 20) for kind in ("flowyml", "baseline")
        ]

    for result in anyio.run(both):
        assert result["complete"] == 20  # every reading watcher got all 50 events
