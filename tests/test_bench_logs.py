"""The step-log benchmark runs (quick mode) so it cannot rot."""

from __future__ import annotations

import pytest

from tests.subprocesses import run_python


@pytest.mark.slow
def test_logs_benchmark_quick_mode() -> None:
    out = run_python("-m", "benchmarks.bench_logs", "--quick", timeout=300)
    rows = [line for line in out.splitlines() if line.startswith("| 2000 |")]
    assert len(rows) == 1 and rows[0].rstrip().endswith("x |")
