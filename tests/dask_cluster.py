"""A real Dask cluster for tests: ``dask scheduler`` and two ``dask worker`` processes
(``one_worker_cluster``: one).

Import the fixture into a test module: ``from tests.dask_cluster import cluster``.  It
starts once per module, on 127.0.0.1, each worker with one thread and ``CPU=2``, under a
nanny that restarts it if it dies.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ("cluster", "one_worker_cluster", "peak_rss")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes (each declaring CPU=2)."""
    yield from _cluster(tmp_path_factory, 2)


@pytest.fixture(scope="module")
def one_worker_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and one ``dask worker`` process (declaring CPU=2)."""
    yield from _cluster(tmp_path_factory, 1)


def _cluster(tmp_path_factory: pytest.TempPathFactory, workers: int) -> Iterator[str]:
    """The scheduler picks its own port and writes its address to a file, which the
    workers read: no port is chosen here that another process could take first."""
    distributed = pytest.importorskip("distributed")
    info = tmp_path_factory.mktemp("dask") / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    where = ["--scheduler-file", str(info)]
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", *where],
            **quiet,
        )
    ]
    worker = [dask, "worker", *where, "--nthreads", "1", "--no-dashboard", "--host"]
    worker += ["127.0.0.1", "--resources", "CPU=2"]
    procs.extend(subprocess.Popen(worker, **quiet) for _ in range(workers))
    try:
        with distributed.Client(scheduler_file=str(info), timeout=60) as client:
            client.wait_for_workers(workers, timeout=60)
            address: str = client.scheduler.address
        yield address
    finally:
        _stop(procs[::-1])


def peak_rss(reset: bool = False) -> int:
    """This process's peak RSS since the last reset (Linux)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
