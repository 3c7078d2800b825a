"""The step-group benchmark runs (quick mode) so it cannot rot."""

from __future__ import annotations

import json

import pytest

from tests.subprocesses import run_python

pytestmark = pytest.mark.slow


def test_groups_benchmark_quick_mode() -> None:
    pytest.importorskip("distributed")
    out = run_python("-m", "benchmarks.bench_groups", "--quick", timeout=300)
    figures = json.loads(out[out.index("{") :])
    assert (figures["dask"]["steps"], figures["local"]["steps"]) == (5, 20)
    assert all(figures[k]["ratio"] > 0 for k in ("dask", "local"))
