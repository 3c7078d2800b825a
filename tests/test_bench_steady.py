"""The steady-state benchmark runs (quick mode) so it cannot rot."""

from __future__ import annotations

import os

import pytest

from tests.subprocesses import ROOT, run_python

pytestmark = pytest.mark.slow


def test_steady_benchmark_quick_mode() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "COVERAGE_"))}
    before = sorted(ROOT.glob("benchmarks/results/steady-*"))
    out = run_python("-m", "benchmarks.bench_steady", "--quick", env=env)
    rows = {line.split("|")[1].strip(): line for line in out.splitlines()[2:4]}
    assert set(rows) == {"script", "service"}
    assert all(row.count(" ms") == 3 for row in rows.values())  # median, min, max
    assert sorted(ROOT.glob("benchmarks/results/steady-*")) == before  # quick: no record
