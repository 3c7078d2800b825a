"""DaskExecutor against a real Dask scheduler and two worker processes on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from flowyml import Pipeline, StepContext, pipeline, step
from flowyml.errors import StepTimeoutError
from flowyml.execution import DaskExecutor

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    scheduler = subprocess.Popen(
        [
            str(bindir / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [
            str(bindir / "dask"),
            "worker",
            address,
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
        for proc in (worker, scheduler):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@step(outputs=["numbers"])
async def numbers(n: int) -> tuple[int, list[int]]:
    return os.getpid(), list(range(n))


@step(inputs=["numbers"], outputs=["total"])
def total(numbers: tuple[int, list[int]]) -> tuple[int, int]:
    return os.getpid(), sum(numbers[1])


async def test_sync_and_async_steps_run_on_dask_workers(dask_address: str) -> None:
    p = Pipeline("dask", context={"n": 10}).add_step(numbers).add_step(total)
    result = await p.arun(executor=DaskExecutor(dask_address))
    assert result.success, result.summary()
    (pid_a, values), (pid_b, s) = result["numbers"], result["total"]
    assert values == list(range(10)) and s == 45
    assert os.getpid() not in (pid_a, pid_b)  # ran in worker processes
    # persistence and cache stay in the driver
    again = await p.arun(executor=DaskExecutor(dask_address))
    assert again.step_results["total"].cached


async def test_independent_steps_overlap_on_two_workers(dask_address: str, tmp_path: Path) -> None:
    a_flag, b_flag = tmp_path / "a", tmp_path / "b"

    def waits_for(mine: Path, other: Path) -> str:
        mine.write_text("x")
        deadline = time.monotonic() + 30
        while not other.exists():  # only finishes if the other step runs at the same time
            if time.monotonic() > deadline:
                raise TimeoutError("the other step never started")
            time.sleep(0.01)
        return mine.name

    p = Pipeline("dask-overlap", persist=False)
    p.add_step(step(name="a")(lambda: waits_for(a_flag, b_flag)))
    p.add_step(step(name="b")(lambda: waits_for(b_flag, a_flag)))
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(dask_address))
    assert result.success and (result["a"], result["b"]) == ("a", "b")


async def test_retries_and_timeouts_through_dask(dask_address: str, tmp_path: Path) -> None:
    marker = tmp_path / "tries"

    @step(retries=2)
    def flaky(ctx: StepContext) -> int:
        with marker.open("a") as f:
            f.write("x")
        if ctx.attempt < 2:
            raise ConnectionError("first try fails")
        return ctx.attempt

    @step(timeout=0.5)
    async def slow() -> None:
        await anyio.sleep(30)

    p = Pipeline("dask-retry", persist=False).add_step(flaky).add_step(slow)
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(dask_address))
    assert result["flaky"] == 2 and marker.read_text() == "xx"
    assert isinstance(result.step_results["slow"].error, StepTimeoutError)


@step
async def fetch_page(url: int) -> str:
    return f"page {url}"


@step
def page_size(page: str) -> int:
    return len(page)


async def test_chained_maps_run_on_dask_workers(dask_address: str) -> None:
    @pipeline
    def crawl(urls: list[int] = [1, 22, 333]):  # type: ignore[no-untyped-def]  # noqa: B006
        return page_size.map(fetch_page.map(urls))

    assert crawl.build().nodes["page_size"].chain is not None
    result = await crawl.arun(executor=DaskExecutor(dask_address))
    assert result.success, result.summary()
    assert result["page_size"] == [6, 7, 8]
    assert result.step_results["page_size[2]"].outputs == {"page_size[2]": 8}
