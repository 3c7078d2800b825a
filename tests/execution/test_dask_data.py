"""DaskExecutor: the inputs the driver reads (a condition's, a mapped step's list) stay on
the cluster; what steps log on the workers reaches the run's logs; async steps run on the
worker's own event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Client, Pipeline, StepContext, step
from flowyml.errors import StepError
from flowyml.events import Event, StepCached, StepLog, StepSkipped
from flowyml.execution import DaskExecutor
from tests.dask_cluster import cluster, peak_rss

__all__ = ("cluster",)

distributed = pytest.importorskip("distributed")
np = pytest.importorskip("numpy")

pytestmark = pytest.mark.slow

SHARD = 100 * 2**20  # bytes per element of the mapped list


@step
def worker_pid() -> int:
    return os.getpid()


@step
def shards() -> list[Any]:
    return [np.full(SHARD // 8, i, dtype=np.float64) for i in range(4)]


@step(inputs={"shard": "shards"}, outputs=["sums"], map_over="shard")
def shard_sum(shard: Any) -> float:
    return float(shard.sum())


@step(condition=lambda shards: sum(float(s[0]) for s in shards) == 6.0)
def checked(shards: Any) -> int:
    return len(shards)


@step(condition=lambda shards: len(shards) > 10)
def never(shards: Any) -> int:
    return len(shards)


async def test_map_list_and_condition_stay_on_the_cluster(cluster: str, tmp_path: Path) -> None:
    """A 400 MiB list is mapped over and read by two conditions without reaching the driver."""
    p = Pipeline(
        "dask-inputs", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a"
    )
    p.add_step(shards).add_step(shard_sum).add_step(checked).add_step(never)
    events: list[Event] = []
    async with DaskExecutor(cluster) as executor:
        await Pipeline("warm", persist=False).add_step(worker_pid).arun(executor=executor)
        before = peak_rss(reset=True)
        with anyio.fail_after(180):
            result = await p.arun(executor=executor, on_event=events.append)
        grown = peak_rss() - before
    assert result.success, result.summary()
    n = SHARD // 8
    assert result["sums"] == [0.0, float(n), 2.0 * n, 3.0 * n]
    assert result["checked"] == 4
    skipped = [e for e in events if isinstance(e, StepSkipped)]
    assert [(e.step, e.reason) for e in skipped] == [("never", "condition is false")]
    assert grown < 50 * 2**20, f"the driver's peak RSS grew by {grown / 2**20:.0f} MiB"


async def test_mapped_elements_split_on_a_worker_hit_the_cache(
    cluster: str, tmp_path: Path
) -> None:
    """Elements keyed on the worker get the same cache keys as values keyed here."""

    @step
    def blobs() -> list[bytes]:
        return [bytes([i]) * (1 << 20) for i in range(3)]  # above the inline size

    @step(inputs={"blob": "blobs"}, outputs=["firsts"], map_over="blob")
    def first(blob: bytes) -> int:
        return blob[0]

    def build() -> Pipeline:
        p = Pipeline("dask-elements", store=f"sqlite:///{tmp_path}/m.db")
        return p.add_step(blobs).add_step(first)

    first_run: list[Event] = []
    second: list[Event] = []
    with anyio.fail_after(120):
        async with DaskExecutor(cluster) as executor:
            one = await build().arun(executor=executor, on_event=first_run.append)
            # blobs is cached now: its list is read here, its elements hashed here
            two = await build().arun(executor=executor, on_event=second.append)
    assert one.success and two.success, (one.summary(), two.summary())
    assert one["firsts"] == two["firsts"] == [0, 1, 2]
    cached = sorted(e.step for e in second if isinstance(e, StepCached))
    assert cached == ["blobs", "first[0]", "first[1]", "first[2]"]


async def test_a_mapped_step_with_a_condition_on_its_list(cluster: str) -> None:
    @step
    def blobs() -> list[bytes]:
        return [bytes([i]) * (1 << 20) for i in range(3)]

    @step(
        inputs={"blob": "blobs"},
        outputs=["sizes"],
        map_over="blob",
        condition=lambda blob: sum(len(b) for b in blob) == 3 << 20,
    )
    def size(blob: bytes) -> int:
        return len(blob)

    p = Pipeline("dask-map-condition", persist=False).add_step(blobs).add_step(size)
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster))
    assert result.success, result.summary()
    assert result["sizes"] == [1 << 20] * 3


async def test_partial_results_of_a_split_list_reach_a_fan_in(cluster: str) -> None:
    @step
    def blobs() -> list[bytes]:
        return [bytes([i]) * (1 << 20) for i in range(3)]

    @step(inputs={"blob": "blobs"}, outputs=["sizes"], map_over="blob")
    def size(blob: bytes) -> int:
        if blob[0] == 1:
            raise ValueError("bad blob")
        return len(blob)

    @step(inputs={"sizes": "sizes"}, allow_partial=True)
    def survey(sizes: Any) -> tuple[list[int], list[int]]:
        return list(sizes), [len(f.item) for f in sizes.failures]

    p = Pipeline("dask-partial", persist=False).add_step(blobs).add_step(size).add_step(survey)
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster))
    assert result.step_results["survey"].success, result.summary()
    assert result["survey"] == ([1 << 20, 1 << 20], [1 << 20])


async def test_a_raising_condition_on_a_worker_fails_its_step(cluster: str) -> None:
    @step
    def big() -> Any:
        return np.ones(1 << 20)

    @step(condition=lambda big: big["no such field"])
    def gated(big: Any) -> float:
        return float(big.sum())

    p = Pipeline("dask-bad-condition", persist=False).add_step(big).add_step(gated)
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster))
    error = result.step_results["gated"].error
    assert isinstance(error, StepError) and "its condition raised" in str(error)


user_log = logging.getLogger("tests.dask.user")


@step(capture_output=True)
def chatty(ctx: StepContext) -> int:
    user_log.warning("loss is %s", 0.25)
    ctx.logger.info("epoch %d done", 3)
    print("printed on the worker")
    return os.getpid()


@step
def fails_loudly() -> None:
    user_log.error("about to fail")
    raise ValueError("boom")


async def test_worker_logs_reach_the_run_logs(cluster: str, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    p = Pipeline("dask-logs", store=store).add_step(chatty).add_step(fails_loudly)
    events: list[Event] = []
    t0 = time.time()
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster), on_event=events.append)
    t1 = time.time()
    assert not result.success and result.step_results["chatty"].success
    assert result["chatty"] != os.getpid()  # it ran on a worker
    lines = [(e.step, ln) for e in events if isinstance(e, StepLog) for ln in e.lines]
    got: dict[str, list[tuple[str, str, str]]] = {}
    for s, ln in lines:  # the two steps run at once: their lines interleave
        got.setdefault(s, []).append((ln.level, ln.logger, ln.message))
    assert got == {
        "chatty": [
            ("WARNING", "tests.dask.user", "loss is 0.25"),
            ("INFO", "flowyml.step.chatty", "epoch 3 done"),
            ("INFO", "stdout", "printed on the worker"),
        ],
        "fails_loudly": [("ERROR", "tests.dask.user", "about to fail")],
    }
    assert all(t0 <= ln.created_at <= t1 for _, ln in lines)  # the worker's own times
    async with Client(store) as client:
        stored = await client.logs(result.run_id, "chatty")
    assert [r.message for r in stored] == ["loss is 0.25", "epoch 3 done", "printed on the worker"]


@step
async def on_worker_loop() -> tuple[int, int, bool]:
    from distributed import get_worker

    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    return os.getpid(), id(loop), loop is get_worker().loop.asyncio_loop  # type: ignore[attr-defined]


async def test_async_steps_run_on_the_workers_event_loop(cluster: str) -> None:
    p = Pipeline("dask-async", persist=False)
    for i in range(4):
        p.add_step(on_worker_loop.with_options(name=f"a{i}"))
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster))
    assert result.success, result.summary()
    seen = [result[f"a{i}"] for i in range(4)]
    assert all(on_loop for _, _, on_loop in seen)
    loops: dict[int, set[int]] = {}
    for pid, loop, _ in seen:
        loops.setdefault(pid, set()).add(loop)
    assert os.getpid() not in loops
    assert all(len(ids) == 1 for ids in loops.values())  # one loop per worker, not one per call
