"""Step groups on Dask: one Dask task per group, its data kept on the worker, and each
step still recorded as a step of its own (events, retries, cache)."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Pipeline, ResourceRequirements, StepContext, step
from flowyml.events import (
    RunStarted,
    StepCached,
    StepFailed,
    StepLog,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from flowyml.execution import DaskExecutor
from flowyml.storage.metadata import open_metadata_store
from tests.dask_cluster import cluster

__all__ = ("cluster",)

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


def _wait_for_file(path: Path) -> None:
    """Block (a worker thread) until ``path`` exists; the test creates it, or kills us."""
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _keeps_attempt_of(step_name: str, dask_scheduler: Any) -> bool:
    """On the scheduler: whether a group task's progress names ``step_name``."""
    kept = dask_scheduler.task_metadata.values()
    return any(isinstance(v, dict) and step_name in v for v in kept)


async def _until(found: Callable[[], bool]) -> None:
    while not found():
        await anyio.sleep(0.02)


async def test_a_dask_groups_step_events_arrive_while_it_runs(
    client: CountingClient, tmp_path: Path
) -> None:
    release = tmp_path / "release"

    @step(execution_group="g", outputs=["a"])
    async def first() -> float:  # its log lines are caught on the worker's event loop
        logging.getLogger("user.first").warning("first is done")
        return time.time()

    @step(execution_group="g", outputs=["b"], retries=1)
    def second(a: float, ctx: StepContext) -> int:
        logging.getLogger("user.second").warning("attempt %d", ctx.attempt)
        if ctx.attempt == 1:
            raise ValueError("the first attempt fails")
        _wait_for_file(release)  # blocked until the test has seen the events so far
        return ctx.attempt

    url = f"sqlite:///{tmp_path}/m.db"
    p = Pipeline("dask_group_live", store=url, artifacts=f"file://{tmp_path}/a")
    p.add_step(first).add_step(second)
    events: list[Any] = []

    def seen(kind: type[Any], step: str, attempt: int = 1) -> list[Any]:
        found: list[Any] = [e for e in events if isinstance(e, kind)]
        return [e for e in found if e.step == step and e.attempt == attempt]

    def second_waits() -> bool:
        lines = [ln.message for e in seen(StepLog, "second", 2) for ln in e.lines]
        return bool(seen(StepStarted, "second", 2)) and "attempt 2" in lines

    store = open_metadata_store(url)
    result: Any = None

    async def run() -> None:
        nonlocal result
        result = await p.arun(executor=DaskExecutor(client), on_event=events.append)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await _until(second_waits)
            # step 2 is blocked on its worker: everything before it is already recorded
            assert result is None
            done = seen(StepSucceeded, "first")
            assert len(done) == 1 and done[0].outputs["a"].size > 0
            assert [ln.message for e in seen(StepLog, "first") for ln in e.lines] == [
                "first is done"
            ]
            retry = seen(StepRetrying, "second")
            assert len(retry) == 1 and retry[0].error == "ValueError: the first attempt fails"
            assert done[0].ts <= retry[0].ts <= seen(StepStarted, "second", 2)[0].ts
            # ... and committed to the metadata store, where the dashboard reads it
            run_id = next(e.run_id for e in events if isinstance(e, RunStarted))
            await store.open()
            try:

                async def stored(name: str) -> Any:
                    return await store.get_step_run(run_id, name)

                while (rec := await stored("second")) is None or rec.attempts != 2:
                    await anyio.sleep(0.02)
                assert rec.status == "running"
                first_rec = await stored("first")
                assert first_rec is not None and first_rec.status == "succeeded"
                assert first_rec.cache_key  # its cache entry, made by the worker's artifact
            finally:
                await store.aclose()
            release.touch()
    assert result.success, result.summary()
    assert result["b"] == 2  # StepContext.attempt on the worker: the real attempt
    assert result.step_results["second"].attempts == 2
    # the step's own times on the worker: first ended after it computed its value
    assert seen(StepStarted, "first")[0].ts <= result["a"] <= seen(StepSucceeded, "first")[0].ts


@pytest.mark.parametrize("stored", [True, False], ids=["stored", "persist-off"])
async def test_a_worker_lost_mid_group_costs_the_running_step_one_attempt(
    cluster: str, tmp_path: Path, stored: bool
) -> None:
    calls = tmp_path / "calls"
    pid_file = tmp_path / "pid"

    @step(execution_group="g", outputs=["a"])
    def prepare() -> int:
        with calls.open("a") as f:
            f.write("prepare\n")
        return 20

    @step(execution_group="g", outputs=["b"])
    def fragile(a: int, ctx: StepContext) -> tuple[int, int]:
        with calls.open("a") as f:
            f.write(f"fragile {ctx.attempt}\n")
        if ctx.attempt == 1:
            me = distributed.get_worker().address
            (tmp_path / "pid.tmp").write_text(f"{os.getpid()} {me}")
            (tmp_path / "pid.tmp").rename(pid_file)
            _wait_for_file(tmp_path / "never")  # killed here
        return a + 22, ctx.attempt

    url = f"sqlite:///{tmp_path}/m.db"
    if stored:
        p = Pipeline("dask_group_lost", store=url, artifacts=f"file://{tmp_path}/a")
    else:
        p = Pipeline("dask_group_lost", persist=False)
    p.add_step(prepare).add_step(fragile)
    events: list[Any] = []

    async def kill_when_started() -> None:
        await _until(pid_file.exists)
        # ... and the scheduler has the group task's record of the attempt (sent without
        # waiting; a loss before it lands is recorded from the next run's start instead)
        async with distributed.Client(cluster, asynchronous=True) as c:
            while not await c.run_on_scheduler(_keeps_attempt_of, "fragile"):
                await anyio.sleep(0.02)
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_started)
            # both workers: one killed by an earlier test may still be restarting
            dask = DaskExecutor(cluster, n_workers=2)
            result = await p.arun(executor=dask, on_event=events.append)
    killed = pid_file.read_text().split()[1]
    assert result.success, result.summary()
    assert result["b"] == (42, 2)
    # A stored output is read back by the task's second run; one held only in the lost
    # worker's memory is made again (the step keeps its one recorded attempt).
    again = [] if stored else ["prepare"]
    assert calls.read_text().split("\n")[:-1] == ["prepare", "fragile 1", *again, "fragile 2"]
    sr = result.step_results
    assert (sr["prepare"].attempts, sr["fragile"].attempts) == (1, 2)
    story = [
        (type(e).__name__, e.attempt)
        for e in events
        if e.__class__ in (StepStarted, StepRetrying, StepSucceeded) and e.step == "fragile"
    ]
    assert story == [
        ("StepStarted", 1),
        ("StepRetrying", 1),
        ("StepStarted", 2),
        ("StepSucceeded", 2),
    ]
    (lost,) = [e for e in events if isinstance(e, StepRetrying)]
    assert lost.error.startswith(f"WorkerLost: Dask worker {killed} was lost while running")
    assert [e.step for e in events if isinstance(e, StepStarted)].count("prepare") == 1
    assert [e.step for e in events if isinstance(e, StepSucceeded)].count("prepare") == 1
    if not stored:
        return
    store = open_metadata_store(url)
    await store.open()
    try:
        rec = await store.get_step_run(result.run_id, "fragile")
    finally:
        await store.aclose()
    assert rec is not None and rec.status == "succeeded" and rec.attempts == 2


async def test_with_a_store_the_workers_do_not_share_a_step_succeeds_once_stored_here(
    client: CountingClient, tmp_path: Path
) -> None:
    release = tmp_path / "release"

    @step(execution_group="g", outputs=["a"])
    def first() -> int:
        return 20

    @step(execution_group="g", outputs=["b"])
    def second(a: int) -> int:
        _wait_for_file(release)
        return a + 22

    p = Pipeline(
        "dask_group_unshared", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a"
    )
    p.add_step(first).add_step(second)
    events: list[Any] = []

    def of(kind: type[Any]) -> list[str]:
        return [e.step for e in events if isinstance(e, kind)]

    async with DaskExecutor(client, shared_store=False) as dask:
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: p.arun(executor=dask, on_event=events.append))
                await _until(lambda: "second" in of(StepStarted))
                # `first` ran, but its output exists only on the worker until the task ends
                assert of(StepStarted) == ["first", "second"] and of(StepSucceeded) == []
                release.touch()
            assert of(StepSucceeded) == ["first", "second"]
            done = {e.step: e for e in events if isinstance(e, StepSucceeded)}
            assert done["first"].outputs["a"].size > 0  # copied here and stored by the driver
            assert done["first"].cache_key and done["second"].cache_key
            events.clear()
            again = await p.arun(executor=dask, on_event=events.append)
    assert again["b"] == 42 and of(StepCached) == ["first", "second"]


async def test_a_loss_the_scheduler_kept_no_record_of_is_still_one_attempt() -> None:
    """A worker killed before its record of an attempt reached the scheduler: the task's
    next run starts that attempt again, and the driver records the loss from that."""
    from flowyml.compile import build_dag
    from flowyml.events import Event
    from flowyml.execution._group_events import GroupRecorder
    from flowyml.execution._group_remote import MemberEvent, _Planned
    from flowyml.execution._runner import Runner
    from flowyml.results import StepResult

    @step(execution_group="g", outputs=["x"])
    def only() -> int:
        return 1

    p = Pipeline("unrecorded_loss", persist=False).add_step(only)
    dag = build_dag(p, {})
    runner = Runner(
        dag=dag,
        params={},
        run_id="r1",
        runtime=None,
        enable_cache=False,
        cache_expiry=None,
        max_concurrency=None,
        max_threads=None,
        fail_fast=False,
    )
    events: list[Event] = []
    emit = runner._emit

    def record(ev: Event, r: StepResult | None = None) -> None:
        events.append(ev)
        emit(ev, r)

    runner._emit = record
    recorder = GroupRecorder(runner, [_Planned(dag.order[0], {}, None, {})])
    recorder(MemberEvent("only", "started", 1, 10.0, message="tcp://10.0.0.1:1"))
    recorder(MemberEvent("only", "started", 1, 12.0, message="tcp://10.0.0.2:2"))  # again
    recorder(MemberEvent("only", "log", 1, 12.5))
    recorder(MemberEvent("only", "succeeded", 1, 13.0, started=12.0))
    story = [(type(e).__name__, getattr(e, "attempt", 0), e.ts) for e in events]
    assert story == [
        ("StepStarted", 1, 10.0),
        ("StepRetrying", 1, 12.0),
        ("StepStarted", 2, 12.0),
        ("StepLog", 2, 12.5),
        ("StepSucceeded", 2, 13.0),
    ]
    retry = events[1]
    assert isinstance(retry, StepRetrying) and retry.error == (
        "WorkerLost: Dask worker tcp://10.0.0.1:1 was lost while running the step; "
        "Dask runs it again on tcp://10.0.0.2:2"
    )
    assert runner.state.results["only"].attempts == 2
