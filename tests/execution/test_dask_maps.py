"""DaskExecutor: a mapped step's results stay on the cluster (a fan-in step gets their
futures, a worker stores the whole list), and an earlier run's outputs that a condition or
a map reads are read by a worker, not by the driver."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Pipeline, step
from flowyml.events import Event, StepCached, StepSkipped
from flowyml.execution import DaskExecutor
from flowyml.results import PipelineResult, StoredValue
from tests.dask_cluster import cluster, peak_rss
from tests.execution.test_dask_data import SHARD, checked, never, shard_sum, shards

__all__ = ("cluster",)

distributed = pytest.importorskip("distributed")
np = pytest.importorskip("numpy")

pytestmark = pytest.mark.slow

PART = 100 * 2**20  # bytes per element of the mapped step's results
LIMIT = 50 * 2**20  # how much the driver's peak RSS may grow


@step
def worker_pid() -> int:
    return os.getpid()


@step
def seeds() -> list[int]:
    return [0, 1, 2, 3]


@step(inputs={"seed": "seeds"}, outputs=["parts"], map_over="seed")
def part(seed: int) -> Any:
    return np.full(PART // 8, float(seed))


@step
def total(parts: Any) -> tuple[float, int]:
    return float(sum(float(p.sum()) for p in parts)), len(parts)


async def _warm(executor: DaskExecutor) -> None:
    await Pipeline("warm", persist=False).add_step(worker_pid).arun(executor=executor)


async def _second_run(
    cluster: str, build: Callable[[], Pipeline]
) -> tuple[PipelineResult, list[Event], int]:
    """Run ``build()`` twice on one executor; the second run's result, its events and how
    much it grew the driver's peak RSS."""
    async with DaskExecutor(cluster) as executor:
        await _warm(executor)
        with anyio.fail_after(180):
            first = await build().arun(executor=executor)
        assert first.success, first.summary()
        events: list[Event] = []
        before = peak_rss(reset=True)
        with anyio.fail_after(180):
            second = await build().arun(executor=executor, on_event=events.append)
        return second, events, peak_rss() - before


async def test_a_step_group_reading_large_elements_gets_them_on_its_worker(
    cluster: str, tmp_path: Path
) -> None:
    """A step group whose first step reads a map's results: the elements reach the
    group's task as futures, not through the driver."""

    @step(execution_group="sum", outputs=["summed"])
    def summed(parts: Any) -> float:
        return float(sum(float(p.sum()) for p in parts))

    @step(execution_group="sum", outputs=["scaled"])
    def scaled(summed: float) -> float:
        return summed / 2

    p = Pipeline(
        "dask-group-fan-in", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a"
    )
    p.add_step(seeds).add_step(part).add_step(summed).add_step(scaled)
    events: list[Event] = []
    async with DaskExecutor(cluster) as executor:
        await _warm(executor)
        before = peak_rss(reset=True)
        with anyio.fail_after(180):
            result = await p.arun(executor=executor, on_event=events.append)
        grown = peak_rss() - before
    assert result.success, result.summary()
    assert result["scaled"] == 3.0 * (PART // 8)
    assert grown < LIMIT, f"the driver's peak RSS grew by {grown / 2**20:.0f} MiB"


async def test_a_fan_in_of_large_elements_stays_on_the_cluster(
    cluster: str, tmp_path: Path
) -> None:
    """Four 100 MiB elements reach their fan-in step and the store without the driver."""
    p = Pipeline(
        "dask-fan-in", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a"
    )
    p.add_step(seeds).add_step(part).add_step(total)
    async with DaskExecutor(cluster) as executor:
        await _warm(executor)
        before = peak_rss(reset=True)
        with anyio.fail_after(180):
            result = await p.arun(executor=executor)
        grown = peak_rss() - before
    assert result.success, result.summary()
    n = PART // 8
    assert result["total"] == (6.0 * n, 4)
    assert grown < LIMIT, f"the driver's peak RSS grew by {grown / 2**20:.0f} MiB"
    # the whole list was stored (by a worker) and is read from the store on demand
    listed = result.step_results["part"].outputs["parts"]
    assert isinstance(listed, StoredValue) and listed.ref.size > 4 * PART
    element = result.step_results["part[2]"].outputs["parts[2]"]
    assert isinstance(element, StoredValue)
    assert float(element.read()[0]) == 2.0


async def test_a_fan_in_of_small_elements_and_partial_results(cluster: str, tmp_path: Path) -> None:
    """Small elements travel by value; a partial list keeps its failures."""

    @step(inputs={"seed": "seeds"}, outputs=["tens"], map_over="seed")
    def tens(seed: int) -> int:
        if seed == 2:
            raise ValueError("no two")
        return seed * 10

    @step(inputs={"tens": "tens"}, allow_partial=True)
    def survey(tens: Any) -> tuple[list[int], list[int]]:
        return list(tens), [f.item for f in tens.failures]

    p = Pipeline("dask-small-fan-in", store=f"sqlite:///{tmp_path}/m.db")
    p.add_step(seeds).add_step(tens).add_step(survey)
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster))
    assert result.step_results["survey"].success, result.summary()
    assert result["survey"] == ([0, 10, 30], [2])


async def test_cached_outputs_read_by_a_map_and_a_condition_stay_off_the_driver(
    cluster: str, tmp_path: Path
) -> None:
    """In a second run, the cached 400 MiB list is read by workers for the map and the
    conditions; the driver's peak RSS does not grow by it."""

    def build() -> Pipeline:
        p = Pipeline(
            "dask-cached-inputs",
            store=f"sqlite:///{tmp_path}/m.db",
            artifacts=f"file://{tmp_path}/a",
        )
        checked_again = checked.with_options(name="checked_again", cache=False)
        return (
            p.add_step(shards)
            .add_step(shard_sum.with_options(cache=False))
            .add_step(checked_again)
            .add_step(never.with_options(cache=False))
        )

    second, events, grown = await _second_run(cluster, build)
    assert second.success, second.summary()
    assert [e.step for e in events if isinstance(e, StepCached)] == ["shards"]
    n = SHARD // 8
    assert second["sums"] == [0.0, float(n), 2.0 * n, 3.0 * n]
    assert second["checked_again"] == 4
    skipped = [(e.step, e.reason) for e in events if isinstance(e, StepSkipped)]
    assert skipped == [("never", "condition is false")]
    assert isinstance(second.step_results["shards"].outputs["shards"], StoredValue)
    assert grown < LIMIT, f"the driver's peak RSS grew by {grown / 2**20:.0f} MiB"


@step(inputs={"part": "parts"}, outputs=["halves"], map_over="part")
def half(part: Any) -> Any:
    return part / 2


@step
def halves_total(halves: Any) -> float:
    return float(sum(float(h.sum()) for h in halves))


async def test_a_chained_map_of_large_elements_stays_on_the_cluster(
    cluster: str, tmp_path: Path
) -> None:
    """``half[i]`` reads ``part[i]`` where it is: the driver copies no element."""
    p = Pipeline(
        "dask-chained", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a"
    )
    p.add_step(seeds).add_step(part).add_step(half).add_step(halves_total)
    async with DaskExecutor(cluster) as executor:
        await _warm(executor)
        before = peak_rss(reset=True)
        with anyio.fail_after(180):
            result = await p.arun(executor=executor)
        grown = peak_rss() - before
    assert result.success, result.summary()
    assert result["halves_total"] == 3.0 * (PART // 8)
    assert grown < LIMIT, f"the driver's peak RSS grew by {grown / 2**20:.0f} MiB"


async def test_chained_elements_hashed_on_a_worker_hit_the_cache(
    cluster: str, tmp_path: Path
) -> None:
    """Items hashed where they are get the keys an in-process run gives them, whether the
    upstream elements are fresh or (third run) read from the cache by a worker."""

    @step(inputs={"seed": "seeds"}, outputs=["blobs"], map_over="seed")
    def blob(seed: int) -> bytes:
        return bytes([seed]) * (1 << 20)  # above the inline size

    @step(inputs={"blob": "blobs"}, outputs=["firsts"], map_over="blob")
    def first(blob: bytes) -> int:
        return blob[0]

    def build() -> Pipeline:
        p = Pipeline("dask-chained-cache", store=f"sqlite:///{tmp_path}/m.db")
        return p.add_step(seeds).add_step(blob).add_step(first)

    here: list[Event] = []
    there: list[Event] = []
    with anyio.fail_after(120):
        async with DaskExecutor(cluster) as executor:
            one = await build().arun(executor=executor)
            two = await build().arun(on_event=here.append)  # in-process: hashed here
            three = await build().arun(executor=executor, on_event=there.append)
    assert all(r.success for r in (one, two, three)), [r.summary() for r in (one, two, three)]
    assert one["firsts"] == two["firsts"] == three["firsts"] == [0, 1, 2, 3]
    for events in (here, there):
        cached = {e.step for e in events if isinstance(e, StepCached)}
        assert {f"first[{i}]" for i in range(4)} <= cached, sorted(cached)


async def test_cached_elements_of_a_map_stay_off_the_driver(cluster: str, tmp_path: Path) -> None:
    """In a second run the map's four 100 MiB elements come from the cache: workers read
    them for the fan-in, the driver does not."""

    def build() -> Pipeline:
        p = Pipeline(
            "dask-cached-elements",
            store=f"sqlite:///{tmp_path}/m.db",
            artifacts=f"file://{tmp_path}/a",
        )
        return p.add_step(seeds).add_step(part).add_step(total.with_options(cache=False))

    second, events, grown = await _second_run(cluster, build)
    assert second.success, second.summary()
    cached = {e.step for e in events if isinstance(e, StepCached)}
    assert {f"part[{i}]" for i in range(4)} <= cached, sorted(cached)
    assert second["total"] == (6.0 * (PART // 8), 4)
    assert isinstance(second.step_results["part[1]"].outputs["parts[1]"], StoredValue)
    assert grown < LIMIT, f"the driver's peak RSS grew by {grown / 2**20:.0f} MiB"
