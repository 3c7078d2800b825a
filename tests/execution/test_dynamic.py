"""Dynamic workflows: map, conditions, sub-pipelines."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from flowyml import (
    PartialResults,
    Pipeline,
    context,
    pipeline,
    step,
    when,
)
from flowyml.errors import MapError, StepDefinitionError
from flowyml.events import Event


def mem(name: str, **kw: Any) -> Pipeline:
    return Pipeline(name, persist=False, **kw)


async def test_map_returns_results_in_input_order_whatever_order_they_finish() -> None:
    n = 1000
    done = [anyio.Event() for _ in range(n)]
    finished: list[int] = []

    @step
    async def numbers(n: int) -> list[int]:
        return list(range(n))

    @step
    async def square(x: int) -> int:
        if x + 1 < n:
            await done[x + 1].wait()  # element x can only finish after element x+1
        finished.append(x)
        done[x].set()
        return x * x

    @pipeline(persist=False)
    def squares(n: int = n):  # type: ignore[no-untyped-def]
        return square.map(numbers(n))

    with anyio.fail_after(10):
        result = await squares.arun()
    assert finished == list(range(n - 1, -1, -1))  # completed in reverse order...
    assert result["square"] == [x * x for x in range(n)]  # ...returned in input order
    assert result.step_results["square[17]"].status == "succeeded"
    assert result.step_results["square[17]"].outputs == {"square[17]": 289}
    assert sum(1 for k in result.step_results if k.startswith("square[")) == n


async def test_map_with_fixed_arguments_and_element_events() -> None:
    @step
    async def scale(x: int, factor: int) -> int:
        return x * factor

    @pipeline(persist=False)
    def scaled(xs: list[int] = [1, 2, 3]):  # type: ignore[no-untyped-def]  # noqa: B006
        return scale.map(xs, factor=10)

    events: list[Event] = []
    result = await scaled.arun(on_event=events.append)
    assert result["scale"] == [10, 20, 30]
    started = [e.step for e in events if e.type == "step_started"]
    assert started[0] == "scale" and set(started[1:]) == {"scale[0]", "scale[1]", "scale[2]"}


async def test_explicit_map_over() -> None:
    @step(outputs=["urls"])
    def urls() -> list[str]:
        return ["a", "bb", "ccc"]

    @step(inputs={"url": "urls"}, outputs=["sizes"], map_over="urls")
    async def size(url: str) -> int:
        return len(url)

    result = await mem("explicit-map").add_step(urls).add_step(size).arun()
    assert result["sizes"] == [1, 2, 3]
    assert result.step_results["size[2]"].outputs == {"sizes[2]": 3}


def test_map_over_must_name_a_parameter() -> None:
    with pytest.raises(StepDefinitionError, match="map_over='nope'"):

        @step(map_over="nope")
        def f(x: int) -> int:
            return x


async def test_partial_failures_reach_allow_partial_consumers_only() -> None:
    @step
    async def check(x: int) -> int:
        if x % 3 == 0:
            raise ValueError(f"bad {x}")
        return x

    @step(allow_partial=True)
    def collect(check: PartialResults) -> tuple[list[int], list[int]]:
        return list(check), [f.index for f in check.failures]

    @step
    def strict(check: list[int]) -> int:
        return len(check)

    @pipeline(persist=False)
    def partial(xs: list[int] = list(range(7))):  # type: ignore[no-untyped-def]  # noqa: B006
        c = check.map(xs)
        return collect(c), strict(c)

    result = await partial.arun()
    assert result.status == "failed"
    assert isinstance(result.step_results["check"].error, MapError)
    assert "3 of 7 elements failed" in str(result.step_results["check"].error)
    assert result["collect"] == ([1, 2, 4, 5], [0, 3, 6])
    assert result.step_results["strict"].status == "skipped"
    assert result.step_results["check[3]"].status == "failed"


async def test_cached_elements_are_skipped_individually_and_resume_reruns_failed() -> None:
    broken = {2, 5}
    calls: list[int] = []

    @step(cache=True)
    async def fetch(i: int) -> str:
        calls.append(i)
        if i in broken:
            raise ConnectionError(f"flaky {i}")
        return f"page {i}"

    @step
    def pages(fetch: list[str]) -> int:
        return len(fetch)

    @step
    def ids(n: int) -> list[int]:
        return list(range(n))

    @pipeline
    def crawl(n: int = 8):  # type: ignore[no-untyped-def]
        return pages(fetch.map(ids(n)))

    first = await crawl.arun()
    assert first.status == "failed" and sorted(calls) == list(range(8))
    broken.clear()
    calls.clear()
    resumed = await crawl.resume(first.run_id)
    assert resumed.success and resumed["pages"] == 8
    assert sorted(calls) == [2, 5]  # only the failed elements ran again
    calls.clear()
    again = await crawl.arun()  # a fresh run: every element is a cache hit
    assert again.success and calls == []
    assert again.step_results["fetch[4]"].cached


async def test_false_condition_skips_branch_and_dependents_others_complete() -> None:
    @step(outputs=["report"])
    def evaluate() -> dict[str, float]:
        return {"quality": 0.5}

    @step(inputs=["report"], outputs=["deployed"], condition=lambda report: report["quality"] > 0.9)
    def deploy(report: dict[str, float]) -> str:
        return "deployed"

    @step(inputs=["deployed"], outputs=["notified"])
    def notify(deployed: str) -> str:
        return f"notified {deployed}"

    @step(inputs=["deployed"], outputs=["summary"])
    def summarize(deployed: str | None = None) -> str:
        return f"deployed={deployed}"

    @step(inputs=["report"], outputs=["archived"])
    async def archive(report: dict[str, float]) -> bool:
        return True

    p = mem("cond").add_step(evaluate).add_step(deploy).add_step(notify)
    p.add_step(summarize).add_step(archive)
    events: list[Event] = []
    result = await p.arun(on_event=events.append)
    assert result.success
    sr = result.step_results
    assert sr["deploy"].status == "skipped" and sr["deploy"].skip_reason == "condition is false"
    assert sr["notify"].status == "skipped" and "condition is false" in (
        sr["notify"].skip_reason or ""
    )
    assert result["summary"] == "deployed=None"  # optional input: runs with None
    assert result["archived"] is True
    skip = next(e for e in events if e.type == "step_skipped" and e.step == "deploy")
    assert skip.reason == "condition is false"

    p2 = (
        mem("cond2", context=context())
        .add_step(evaluate.with_options(condition=lambda: True))
        .add_step(deploy.with_options(condition=lambda report: report["quality"] > 0.1))
    )
    assert (await p2.arun())["deployed"] == "deployed"


async def test_when_helper_and_failing_condition() -> None:
    @step
    def score() -> float:
        return 0.95

    @step
    def ship(score: float) -> str:
        return "shipped"

    @pipeline(persist=False)
    def release():  # type: ignore[no-untyped-def]
        return when(lambda score: score > 0.9)(ship)(score())

    assert (await release.arun())["ship"] == "shipped"

    @pipeline(persist=False)
    def broken():  # type: ignore[no-untyped-def]
        return when(lambda score: score["x"])(ship)(score())

    result = await broken.arun()
    assert result.step_results["ship"].status == "failed"
    assert "condition raised TypeError" in str(result.step_results["ship"].error)


async def test_sub_pipeline_explicit_inlines_with_qualified_names() -> None:
    @step(outputs=["clean"])
    def clean(raw: list[int]) -> list[int]:
        return [x for x in raw if x >= 0]

    @step(inputs=["clean"], outputs=["stats"])
    def stats(clean: list[int], offset: int) -> dict[str, int]:
        return {"n": len(clean), "sum": sum(clean) + offset}

    child = Pipeline("prep", context=context(offset=100)).add_step(clean).add_step(stats)

    @step(outputs=["numbers"])
    async def load() -> list[int]:
        return [3, -1, 4]

    @step(inputs=["stats"], outputs=["report"])
    def report(stats: dict[str, int]) -> str:
        return f"{stats['n']} values, sum {stats['sum']}"

    parent = mem("parent").add_step(load)
    parent.add_step(child.as_step(inputs={"raw": "numbers"}, outputs=["stats"])).add_step(report)
    dag = parent.build()
    assert set(dag.nodes) == {"load", "prep.clean", "prep.stats", "report"}
    assert dag.to_dict()["nodes"][1]["group"] == "prep"
    result = await parent.arun()
    assert result["report"] == "2 values, sum 107"
    assert result["prep.clean"] == [3, 4]
    assert result.step_results["prep.stats"].status == "succeeded"


async def test_sub_pipeline_functional_call_and_shared_cancellation() -> None:
    started = anyio.Event()
    cancelled = anyio.Event()

    @step
    async def inner(x: int) -> int:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        return x

    @pipeline
    def child(x: int = 1):  # type: ignore[no-untyped-def]
        return inner(x)

    @step
    def produce() -> int:
        return 5

    @pipeline(persist=False)
    def parent():  # type: ignore[no-untyped-def]
        return child(produce())

    assert set(parent.build().nodes) == {"produce", "child.inner"}
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(parent.arun)
            await started.wait()
            tg.cancel_scope.cancel()
    assert cancelled.is_set()


async def test_sub_pipeline_steps_share_the_parents_concurrency_limit() -> None:
    running = 0
    peak = 0
    release = anyio.Event()

    def waiter(i: int) -> Any:
        @step(name=f"w{i}")
        async def w() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

        return w

    child = Pipeline("child")
    for i in range(3):
        child.add_step(waiter(i))
    parent = mem("limited", max_concurrency=2).add_step(waiter(9)).add_step(child.as_step())
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(parent.arun)
            await anyio.wait_all_tasks_blocked()
            assert running == 2
            release.set()
    assert peak == 2


async def test_a_map_stopped_by_fail_fast_after_an_element_failed_fails_the_run() -> None:
    @step
    async def fetch(url: int) -> int:
        if url == 1:
            raise ConnectionError(f"cannot fetch {url}")
        await anyio.sleep_forever()
        return url  # pragma: no cover

    @pipeline(persist=False, fail_fast=True)
    def crawl(urls: list[int] = list(range(4))):  # type: ignore[no-untyped-def]  # noqa: B006
        return fetch.map(urls)

    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result.status == "failed"
    assert result.step_results["fetch[1]"].status == "failed"
    assert result.step_results["fetch[0]"].status == "skipped"
