"""The map benchmark runs (quick mode) so it cannot rot."""

from __future__ import annotations

import pytest

from tests.subprocesses import run_python

pytestmark = pytest.mark.slow


def test_map_benchmark_quick_mode() -> None:
    out = run_python("-m", "benchmarks.bench_map", "--quick", timeout=300)
    rows = [line for line in out.splitlines() if line.startswith("| 200 |")]
    assert len(rows) == 2  # persistence off and on, each with a map/static ratio
    assert all(line.rstrip().endswith("x |") for line in rows)
    chained = [line for line in out.splitlines() if line.startswith("| chained |")]
    assert len(chained) == 2  # persistence off and on, each against the whole-list run
    assert all(line.rstrip().endswith("x |") for line in chained)
