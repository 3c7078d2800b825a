"""The Dask benchmark runs (quick mode) so it cannot rot."""

from __future__ import annotations

import json

import pytest

from tests.subprocesses import run_python

pytestmark = pytest.mark.slow


def test_dask_benchmark_quick_mode() -> None:
    pytest.importorskip("distributed")
    out = run_python("-m", "benchmarks.bench_dask", "--quick", timeout=300)
    figures = json.loads(out[out.index("{") :])
    assert figures["big"]["bytes"] == 64 * 2**20 and figures["noop"]["steps"] == 50
    assert all(figures[k]["ratio"] > 0 for k in ("big", "noop"))
