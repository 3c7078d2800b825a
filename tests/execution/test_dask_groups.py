"""Step groups on Dask: one Dask task per group, its data kept on the worker, and each
step still recorded as a step of its own (events, retries, cache)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Pipeline, ResourceRequirements, step
from flowyml.events import (
    StepCached,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from flowyml.execution import DaskExecutor

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


class CountingClient:
    """A ``distributed.Client`` that records the name of every function submitted."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.submitted: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.submitted.append(fn.__name__)
        return self._client.submit(fn, *args, **kwargs)


@pytest.fixture
async def client() -> AsyncIterator[CountingClient]:
    cluster = await distributed.LocalCluster(
        asynchronous=True,
        processes=True,
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=":0",
        resources={"CPU": 4},
    )
    try:
        async with distributed.Client(cluster, asynchronous=True) as real:
            yield CountingClient(real)
    finally:
        await cluster.close()


@step(execution_group="fit", outputs=["data/raw"], resources=ResourceRequirements(cpu=1))
def load() -> bytes:
    return os.urandom(1 << 20)  # above the inline limit: it never travels with metadata


@step(
    execution_group="fit",
    inputs=["data/raw"],
    outputs=["model/trained"],
    resources=ResourceRequirements(cpu=2),
)
def train(raw: bytes) -> tuple[int, int]:
    return len(raw), os.getpid()


@step(inputs=["model/trained"], outputs=["metrics/eval"])
def evaluate(model: tuple[int, int]) -> tuple[int, int]:
    return model[0], os.getpid()


async def test_a_group_is_one_dask_task_and_its_data_stays_on_the_worker(
    client: CountingClient, tmp_path: Path
) -> None:
    p = Pipeline("dask_group", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a")
    for s in (load, train, evaluate):
        p.add_step(s)
    events: list[Any] = []
    with anyio.fail_after(120):
        result = await p.arun(executor=DaskExecutor(client), on_event=events.append)
    assert result.success, result.summary()
    assert client.submitted == ["run_group", "run_sync"]  # the group, then `evaluate`
    size, group_pid = result["model/trained"]
    assert size == 1 << 20 and group_pid != os.getpid()
    started = [e.step for e in events if isinstance(e, StepStarted)]
    succeeded = [e.step for e in events if isinstance(e, StepSucceeded)]
    assert started == succeeded == ["load", "train", "evaluate"]
    for e in events:
        if isinstance(e, StepSucceeded) and e.step in ("load", "train"):
            assert e.outputs and e.cache_key  # stored by the worker, cached per step

    client.submitted.clear()
    events.clear()
    with anyio.fail_after(120):
        again = await p.arun(executor=DaskExecutor(client), on_event=events.append)
    assert again.success and again["model/trained"] == (size, group_pid)
    assert [e.step for e in events if isinstance(e, StepCached)] == ["load", "train", "evaluate"]
    assert client.submitted == []


async def test_retries_and_failures_inside_a_dask_group_are_per_step(
    client: CountingClient, tmp_path: Path
) -> None:
    marker = tmp_path / "tried"

    @step(execution_group="g", outputs=["a"], retries=2)
    def flaky() -> int:
        if not marker.exists():
            marker.touch()
            raise ValueError("first attempt fails")
        return 1

    @step(execution_group="g", outputs=["b"])
    def broken(a: int) -> int:
        raise KeyError("always")

    @step(execution_group="g", outputs=["c"])
    def after_broken(b: int) -> int:
        return b

    @step(execution_group="g", outputs=["d"])
    def beside(a: int) -> int:
        return a + 41

    @step(execution_group="g", outputs=["e"], timeout=0.5)
    async def stuck(d: int) -> int:
        await anyio.sleep(60)
        return d

    p = Pipeline("dask_group_failures", persist=False)
    for s in (flaky, broken, after_broken, beside, stuck):
        p.add_step(s)
    events: list[Any] = []
    with anyio.fail_after(120):
        result = await p.arun(executor=DaskExecutor(client), on_event=events.append)
    assert client.submitted.count("run_group") == 1
    sr = result.step_results
    assert result.status == "failed"
    assert sr["flaky"].attempts == 2 and sr["flaky"].status == "succeeded"
    assert [e.step for e in events if isinstance(e, StepRetrying)] == ["flaky"]
    assert sr["broken"].status == "failed" and "KeyError" in (sr["broken"].traceback or "")
    assert [e.step for e in events if isinstance(e, StepSkipped)] == ["after_broken"]
    assert result["d"] == 42
    failed = {e.step: e for e in events if isinstance(e, StepFailed)}
    assert failed["broken"].error_type == "KeyError"
    assert failed["stuck"].error_type == "StepTimeoutError"
    assert "timed out after 0.5 s" in failed["stuck"].error


async def test_a_cached_step_feeds_the_group_task_from_the_store(
    client: CountingClient, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"

    @step(execution_group="g", outputs=["rows"])
    def read(n: int) -> list[int]:
        with calls.open("a") as f:
            f.write("read\n")
        return list(range(n))

    @step(execution_group="g", outputs=["total"])
    def weigh(rows: list[int], weight: int) -> int:
        with calls.open("a") as f:
            f.write("weigh\n")
        return sum(rows) * weight

    p = Pipeline(
        "dask_group_cache", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a"
    )
    p.add_step(read)
    p.add_step(weigh)
    events: list[Any] = []
    with anyio.fail_after(120):
        first = await p.arun(n=4, weight=1, executor=DaskExecutor(client))
        again = await p.arun(n=4, weight=10, executor=DaskExecutor(client), on_event=events.append)
    assert (first["total"], again["total"]) == (6, 60)
    assert calls.read_text().split() == ["read", "weigh", "weigh"]
    assert [e.step for e in events if isinstance(e, StepCached)] == ["read"]
    assert client.submitted == ["run_group", "run_group"]


async def test_resuming_a_dask_group_runs_only_its_failed_steps(
    client: CountingClient, tmp_path: Path
) -> None:
    fail = tmp_path / "fail"
    fail.touch()
    log = tmp_path / "log"

    @step(execution_group="g", outputs=["base"])
    def base() -> int:
        with log.open("a") as f:
            f.write("base\n")
        return 20

    @step(execution_group="g", outputs=["top"])
    def top(base: int) -> int:
        with log.open("a") as f:
            f.write("top\n")
        if fail.exists():
            raise RuntimeError("asked to fail")
        return base + 22

    p = Pipeline(
        "dask_group_resume", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a"
    )
    p.add_step(base)
    p.add_step(top)
    with anyio.fail_after(120):
        failed = await p.arun(executor=DaskExecutor(client), enable_cache=False)
        assert failed.status == "failed"
        fail.unlink()
        resumed = await p.aresume(failed.run_id, executor=DaskExecutor(client))
    assert resumed.success and resumed["top"] == 42
    assert log.read_text().split() == ["base", "top", "top"]
    assert resumed.step_results["base"].cached
    assert client.submitted == ["run_group", "run_group"]
