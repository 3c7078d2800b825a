"""How steps are called and started: values reach the right parameters, wide DAGs start
in bounded batches, and compiling never leaves the cycle collector switched off."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from flowyml import Pipeline, StepContext, step
from flowyml.execution._spawn import Starter


def mem(name: str) -> Pipeline:
    return Pipeline(name, persist=False)


def _wide_sink(n: int) -> Any:
    """``async def sink(v0, ..., v<n-1>)`` returning its arguments by name."""
    params = ", ".join(f"v{i}" for i in range(n))
    names = ", ".join(f"'v{i}': v{i}" for i in range(n))
    namespace: dict[str, Any] = {}
    exec(f"async def sink({params}):\n    return {{{names}}}\n", namespace)  # noqa: S102
    return namespace["sink"]


async def test_a_step_with_thousands_of_inputs_gets_each_value_on_its_own_parameter() -> None:
    n = 3000
    p = mem("wide")

    def make(i: int) -> Any:
        async def produce() -> int:
            return i * 7

        return produce

    for i in range(n):
        p.add_step(step(name=f"v{i}")(make(i)))
    # Declared out of order on purpose: binding is by name, not by position.
    p.add_step(
        step(name="sink", inputs={f"v{i}": f"v{i}" for i in reversed(range(n))})(_wide_sink(n))
    )
    result = await p.arun()
    assert result.success
    assert result["sink"] == {f"v{i}": i * 7 for i in range(n)}


async def test_values_skip_defaults_and_reach_keyword_only_and_variadic_parameters() -> None:
    @step(outputs=["a"])
    def source() -> int:
        return 1

    @step(outputs=["c"])
    def other() -> int:
        return 3

    @step(inputs=["a", "c"])
    async def middle(a: int, b: int = 20, c: int = 30, *, d: int = 40) -> tuple[int, ...]:
        return a, b, c, d

    @step(inputs={"a": "a", "rest": "c"})
    def variadic(a: int, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return a, args, kwargs

    p = mem("shapes")
    p.add_step(source).add_step(other).add_step(middle).add_step(variadic)
    result = await p.arun(d=4)
    # b keeps its default although c, after it, is bound; d is keyword-only.
    assert result["middle"] == (1, 20, 3, 4)
    assert result["variadic"] == (1, (), {"rest": 3})


async def test_the_step_context_goes_to_its_parameter_wherever_it_is() -> None:
    @step(outputs=["x"])
    def source() -> int:
        return 5

    @step(inputs=["x"])
    def uses(x: int, ctx: StepContext, y: int = 2) -> str:
        return f"{x}:{ctx.step}:{ctx.attempt}:{y}"

    p = mem("ctx")
    p.add_step(source).add_step(uses)
    assert (await p.arun())["uses"] == "5:uses:1:2"
    assert (await p.arun(y=9))["uses"] == "5:uses:1:9"


async def test_mapped_elements_get_their_item_and_the_shared_inputs() -> None:
    @step(outputs=["items"])
    def items() -> list[int]:
        return list(range(300))

    @step(outputs=["k"])
    def factor() -> int:
        return 3

    @step(inputs={"k": "k", "item": "items"}, map_over="item")
    async def scale(k: int, item: int) -> int:
        await checkpoint()
        return k * item

    p = mem("mapped")
    p.add_step(items).add_step(factor).add_step(scale)
    result = await p.arun()
    assert result["scale"] == [3 * i for i in range(300)]


# --------------------------------------------------------------------------- starting


async def test_starter_holds_at_most_a_batch_of_unstarted_tasks_and_keeps_order() -> None:
    created: list[int] = []
    ran: list[int] = []
    backlog: list[int] = []  # tasks created but not yet running, seen by each task

    async def body(i: int) -> None:
        ran.append(i)
        backlog.append(len(created) - len(ran))

    def make(i: int) -> Any:  # start_soon calls this right away: count creations
        created.append(i)
        return body(i)

    async with anyio.create_task_group() as tg:
        starter = Starter(tg, batch=8)
        starter.start(make, range(100))
        starter.start(make, range(100, 150))  # arrives while the first is still feeding
    assert ran == list(range(150))  # first ready, first started
    assert max(backlog) < 8
    assert len(created) == 150


@pytest.mark.parametrize(("items", "new_tasks"), [(8, 8), (9, 9), (20, 9)])
async def test_starter_starts_one_batch_now_and_a_feeder_only_when_more_wait(
    items: int, new_tasks: int
) -> None:
    started: list[int] = []

    async def body(i: int) -> None:
        started.append(i)

    async with anyio.create_task_group() as tg:
        before = len(anyio.get_running_tasks())
        Starter(tg, batch=8).start(body, range(items))
        # A batch of 8 steps, plus one feeder task when more are waiting.
        assert len(anyio.get_running_tasks()) - before == new_tasks
    assert started == list(range(items))


async def test_a_wide_fan_out_runs_every_step_and_cancels_promptly() -> None:
    gate = anyio.Event()
    seen: list[int] = []

    @step(outputs=["seed"])
    def seed() -> int:
        return 1

    p = mem("fan")
    p.add_step(seed)

    def make(i: int) -> Any:
        async def leaf(seed: int) -> int:
            seen.append(i)
            await gate.wait()
            return seed + i

        return leaf

    for i in range(2000):
        p.add_step(step(name=f"leaf{i}", inputs=["seed"], outputs=[f"o{i}"])(make(i)))
    with anyio.move_on_after(30) as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(p.arun)
            while len(seen) < 2000:  # every leaf starts although none can finish yet
                await checkpoint()
            assert sorted(seen) == list(range(2000))
            tg.cancel_scope.cancel()
    assert not scope.cancelled_caught


async def test_fail_fast_in_a_wide_fan_out_skips_the_steps_not_started_yet() -> None:
    """The first leaf fails while most of the 1,000 leaves are still queued to start: the
    run fails promptly, and every leaf ends succeeded, failed or skipped (none left
    pending or running)."""

    @step(outputs=["seed"])
    def seed() -> int:
        return 1

    p = Pipeline("fan-ff", persist=False, fail_fast=True)
    p.add_step(seed)

    def make(i: int) -> Any:
        async def leaf(seed: int) -> int:
            if i == 0:
                raise RuntimeError("leaf 0 fails")
            await anyio.sleep(0.05)
            return i

        return leaf

    for i in range(1000):
        p.add_step(step(name=f"leaf{i}", inputs=["seed"], outputs=[f"o{i}"])(make(i)))
    with anyio.fail_after(10):
        result = await p.arun()
    assert result.status == "failed"
    statuses = {r.status for name, r in result.step_results.items() if name.startswith("leaf")}
    assert result.step_results["leaf0"].status == "failed"
    assert statuses <= {"failed", "skipped", "cancelled"}
    skipped = [r for r in result.step_results.values() if r.status == "skipped"]
    assert len(skipped) >= 900  # most leaves never got to run
    assert all("fail_fast" in (r.skip_reason or "") for r in skipped)
