"""What a mapped step's elements leave in the run's result, and what they keep alive."""

from __future__ import annotations

import gc

import anyio
import anyio.lowlevel
import pytest

from flowyml import StepResult, pipeline, step
from flowyml.errors import StepError


def _step_results_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is StepResult)


async def test_succeeded_elements_hold_no_step_result_objects_yet_answer_for_each() -> None:
    n = 3000

    @step
    async def numbers(n: int) -> list[int]:
        return list(range(n))

    @step
    async def double(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return 2 * x

    @pipeline(persist=False, max_concurrency=50)
    def doubles(n: int = n):  # type: ignore[no-untyped-def]
        return double.map(numbers(n))

    before = _step_results_alive()
    with anyio.fail_after(20):
        result = await doubles.arun()
    assert result.success
    # Only the two steps' results: the elements' are made when asked for.
    assert _step_results_alive() - before == 2
    results = result.step_results
    assert len(results) == n + 2
    assert list(results)[:4] == ["numbers", "double", "double[0]", "double[1]"]
    r = results["double[1234]"]
    assert (r.name, r.status, r.attempts, r.cached) == ("double[1234]", "succeeded", 1, False)
    assert r.outputs == {"double[1234]": 2468} and r.output == 2468
    assert r.started_at is not None and r.finished_at is not None
    assert r.started_at <= r.finished_at and r.duration_seconds >= 0
    assert r.error is None and r.artifact_ids == {} and r.success
    assert "double[2999]" in results and "double[3000]" not in results
    with pytest.raises(KeyError):
        results["double[3000]"]
    assert sum(1 for r in results.values() if r.status == "succeeded") == n + 2


async def test_failed_and_retried_elements_keep_what_they_went_through() -> None:
    tries: dict[int, int] = {}

    @step
    async def numbers() -> list[int]:
        return list(range(6))

    @step(retries=1)
    async def check(x: int) -> int:
        tries[x] = tries.get(x, 0) + 1
        if x == 4 or (x == 2 and tries[x] == 1):
            raise ValueError(f"bad {x}")
        return x

    @pipeline(persist=False)
    def checks():  # type: ignore[no-untyped-def]
        return check.map(numbers())

    result = await checks.arun()
    assert result.status == "failed"
    failed = result.step_results["check[4]"]
    assert failed.status == "failed" and failed.attempts == 2
    assert isinstance(failed.error, ValueError) and "bad 4" in (failed.traceback or "")
    retried = result.step_results["check[2]"]
    assert (retried.status, retried.attempts, retried.output) == ("succeeded", 2, 2)
    assert result.failed_steps == ["check", "check[4]"]
    assert isinstance(result.step_results["check"].error, StepError)


async def test_persisted_elements_keep_their_artifact_and_cache_state() -> None:
    @step
    async def words() -> list[str]:
        return ["a", "bb", "ccc"]

    @step
    async def size(w: str) -> int:
        return len(w)

    @pipeline
    def sizes():  # type: ignore[no-untyped-def]
        return size.map(words())

    first = await sizes.arun()
    r = first.step_results["size[2]"]
    assert r.status == "succeeded" and r.output == 3
    assert set(r.artifact_ids) == {"size[2]"} and r.artifact_ids["size[2]"]
    again = await sizes.arun()
    hit = again.step_results["size[2]"]
    assert hit.cached and hit.status == "cached" and hit.output == 3
    assert hit.artifact_ids == r.artifact_ids
