"""Element-wise chaining: a map over a mapped step's results follows it element by element."""

from __future__ import annotations

import random
import time
from typing import Any

import anyio
import pytest

from flowyml import Client, Pipeline, pipeline, step
from flowyml.errors import ChainError, PipelineBuildError, StepDefinitionError
from flowyml.events import Event, StepStarted, StepSucceeded


def _gated_fetch_and_parse() -> tuple[Any, Any, list[str]]:
    """``fetch[1]`` returns only once ``parse[0]`` has finished: a run that waited for the
    whole ``fetch`` map before starting ``parse`` would never end."""
    parse0_done = anyio.Event()
    order: list[str] = []

    @step
    async def fetch(url: int) -> str:
        if url == 1:
            await parse0_done.wait()
        order.append(f"fetch[{url}]")
        return f"page {url}"

    @step
    async def parse(page: str) -> int:
        order.append(f"parse {page}")
        if page == "page 0":
            parse0_done.set()
        return len(page)

    return fetch, parse, order


async def test_element_0_downstream_finishes_while_element_1_upstream_is_blocked() -> None:
    fetch, parse, order = _gated_fetch_and_parse()

    @pipeline(persist=False)
    def crawl(urls: list[int] = [0, 1, 2]):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result.success
    assert order.index("parse page 0") < order.index("fetch[1]")
    assert result["parse"] == [6, 6, 6]
    assert [result.step_results[f"parse[{i}]"].status for i in range(3)] == ["succeeded"] * 3


async def test_explicit_style_chains_a_map_over_a_mapped_step() -> None:
    fetch, parse, order = _gated_fetch_and_parse()
    fetch = fetch.with_options(inputs={"url": "urls"}, map_over="urls", outputs=["pages"])
    parse = parse.with_options(inputs={"page": "pages"}, map_over="pages", outputs=["sizes"])

    @step(outputs=["urls"])
    def urls() -> list[int]:
        return [0, 1, 2]

    crawl = Pipeline("explicit-chain", persist=False).add_step(urls).add_step(fetch)
    crawl.add_step(parse)
    assert crawl.build().nodes["parse"].chain == crawl.build().nodes["fetch"].index
    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result.success and result["sizes"] == [6, 6, 6]
    assert order.index("parse page 0") < order.index("fetch[1]")


async def test_results_stay_in_input_order_whatever_order_elements_finish() -> None:
    n = 50
    done = [anyio.Event() for _ in range(n)]

    @step
    async def first(x: int) -> int:
        if x + 1 < n:
            await done[x + 1].wait()  # upstream elements end in reverse order
        done[x].set()
        return x

    @step
    async def second(x: int) -> int:
        return x * x

    @pipeline(persist=False)
    def squares(xs: list[int] = list(range(n))):  # type: ignore[no-untyped-def]  # noqa: B006
        return second.map(first.map(xs))

    events: list[Event] = []
    with anyio.fail_after(10):
        result = await squares.arun(on_event=events.append)
    assert result["second"] == [x * x for x in range(n)]
    ends = [e.step for e in events if isinstance(e, StepSucceeded)]
    assert ends.index(f"second[{n - 1}]") < ends.index("first[0]")  # it did not wait


async def test_a_whole_list_step_waits_for_every_element() -> None:
    @step
    async def fetch(url: int) -> int:
        return url

    @step
    async def parse(page: int) -> int:
        for _ in range(page):  # later elements take more loop turns
            await anyio.lowlevel.checkpoint()
        return page + 1

    @step
    def total(parse: list[int]) -> int:
        return sum(parse)

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(10))):  # type: ignore[no-untyped-def]  # noqa: B006
        return total(parse.map(fetch.map(urls)))

    events: list[Event] = []
    result = await crawl.arun(on_event=events.append)
    assert result["total"] == sum(range(1, 11))
    steps = [e.step for e in events if isinstance(e, StepStarted | StepSucceeded)]
    first_total = steps.index("total")
    assert all(steps.index(f"parse[{i}]") < first_total for i in range(10))
    last_parse = max(
        i for i, e in enumerate(events) if isinstance(e, StepSucceeded) and e.step == "parse"
    )
    assert [e for e in events[:last_parse] if getattr(e, "step", "") == "total"] == []


def _failing_fetch(bad: int) -> tuple[Any, anyio.Event]:
    """``fetch[bad]`` fails before any other element of ``fetch`` ends."""
    failed = anyio.Event()

    @step
    async def fetch(url: int) -> int:
        if url == bad:
            failed.set()
            raise ConnectionError(f"cannot fetch {url}")
        await failed.wait()
        return url * 10

    return fetch, failed


async def test_a_failed_upstream_element_skips_only_its_element_with_allow_partial() -> None:
    fetch, _ = _failing_fetch(2)

    @step(allow_partial=True)
    async def parse(page: int) -> int:
        return page + 1

    @step
    def total(parse: list[int]) -> int:
        return sum(parse)

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(5))):  # type: ignore[no-untyped-def]  # noqa: B006
        return total(parse.map(fetch.map(urls)))

    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result.status == "failed"  # fetch failed
    assert result.step_results["fetch"].status == "failed"
    skipped = result.step_results["parse[2]"]
    assert skipped.status == "skipped" and "fetch[2]" in (skipped.skip_reason or "")
    assert result.step_results["parse"].status == "succeeded"
    assert result["parse"] == [1, 11, 31, 41]  # in input order, without element 2
    assert result["total"] == 84


async def test_a_failed_upstream_element_cuts_a_map_without_allow_partial() -> None:
    fetch, _ = _failing_fetch(1)
    ran: list[int] = []

    @step
    async def parse(page: int) -> int:
        ran.append(page)
        return page

    @step
    def total(parse: list[int]) -> int:
        return sum(parse)

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(4))):  # type: ignore[no-untyped-def]  # noqa: B006
        return total(parse.map(fetch.map(urls)))

    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result.status == "failed"
    assert result.step_results["fetch"].status == "failed"
    parse_result = result.step_results["parse"]
    assert parse_result.status == "skipped"
    assert parse_result.skip_reason == "upstream step 'fetch' failed"
    assert result.step_results["total"].status == "skipped"
    assert ran == []  # element 1 failed before any other ended: nothing started
    assert not any(name.startswith("parse[") for name in result.step_results)


async def test_skipped_elements_stay_skipped_down_a_longer_chain() -> None:
    fetch, _ = _failing_fetch(1)

    @step(allow_partial=True)
    async def parse(page: int) -> int:
        return page + 1

    @step
    async def store(row: int) -> str:
        return f"row {row}"

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(3))):  # type: ignore[no-untyped-def]  # noqa: B006
        return store.map(parse.map(fetch.map(urls)))

    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result["store"] == ["row 1", "row 21"]
    assert result.step_results["store[1]"].status == "skipped"
    assert "parse[1]" in (result.step_results["store[1]"].skip_reason or "")
    assert result.step_results["store"].status == "succeeded"


async def test_chain_false_waits_for_the_whole_upstream_map() -> None:
    order: list[str] = []

    @step
    async def fetch(url: int) -> int:
        for _ in range(url * 3):
            await anyio.lowlevel.checkpoint()
        order.append(f"fetch[{url}]")
        return url

    @step(chain=False)
    async def parse(page: int) -> int:
        order.append(f"parse[{page}]")
        return page

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(4))):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    assert crawl.build().nodes["parse"].chain is None
    result = await crawl.arun()
    assert result["parse"] == [0, 1, 2, 3]
    assert order[:4] == [f"fetch[{i}]" for i in range(4)]


async def test_a_chained_map_keeps_the_run_concurrency_bound() -> None:
    running = peak = 0

    async def busy() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        running -= 1

    @step
    async def fetch(url: int) -> int:
        await busy()
        return url

    @step
    async def parse(page: int) -> int:
        await busy()
        return page

    @pipeline(persist=False, max_concurrency=2)
    def crawl(urls: list[int] = list(range(40))):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    events: list[Event] = []
    with anyio.fail_after(10):
        result = await crawl.arun(on_event=events.append)
    assert result["parse"] == list(range(40))
    assert peak == 2
    started = [e.step for e in events if isinstance(e, StepStarted)]
    last_fetch = max(i for i, s in enumerate(started) if s.startswith("fetch["))
    assert started.index("parse[0]") < last_fetch  # chained, and bounded


async def test_persisted_lineage_links_each_element_to_its_upstream_element() -> None:
    @step
    async def fetch(url: int) -> str:
        return f"page {url}"

    @step
    async def parse(page: str) -> int:
        return len(page)

    @pipeline
    def crawl(urls: list[int] = [0, 1, 2]):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    result = await crawl.arun()
    assert result["parse"] == [6, 6, 6]
    async with Client() as client:
        run = await client.get_run(result.run_id)
        steps = {s.step: s for s in run.steps}
        for i in range(3):
            assert steps[f"parse[{i}]"].inputs == {
                "page": steps[f"fetch[{i}]"].outputs[f"fetch[{i}]"]
            }
            lineage = await client.lineage(steps[f"parse[{i}]"].outputs[f"parse[{i}]"])
            assert [a.id for a in lineage.inputs] == [steps[f"fetch[{i}]"].outputs[f"fetch[{i}]"]]
        # the map as a whole read the upstream map's list
        assert steps["parse"].inputs == {"page": steps["fetch"].outputs["fetch"]}
        assert steps["parse"].status == "succeeded"


async def test_resume_reruns_only_the_elements_that_did_not_succeed() -> None:
    broken = {3}
    calls: list[str] = []
    parsed = 0
    three_parsed = anyio.Event()
    fetch3_failed = anyio.Event()

    @step(cache=False)
    async def fetch(url: int) -> int:
        calls.append(f"fetch[{url}]")
        if url in broken:
            await three_parsed.wait()
            fetch3_failed.set()
            raise ConnectionError(f"cannot fetch {url}")
        if url == 4 and broken:
            await fetch3_failed.wait()
        return url * 10

    @step(cache=False)
    async def parse(page: int) -> int:
        nonlocal parsed
        calls.append(f"parse[{page // 10}]")
        parsed += 1
        if parsed == 3:
            three_parsed.set()
        return page + 1

    @step(cache=False)
    def total(parse: list[int]) -> int:
        return sum(parse)

    @pipeline
    def crawl(urls: list[int] = list(range(5))):  # type: ignore[no-untyped-def]  # noqa: B006
        return total(parse.map(fetch.map(urls)))

    with anyio.fail_after(10):
        first = await crawl.arun()
    assert first.status == "failed"
    assert first.step_results["parse"].status == "skipped"
    assert sorted(c for c in calls if c.startswith("parse")) == [f"parse[{i}]" for i in range(3)]
    broken.clear()
    calls.clear()
    with anyio.fail_after(10):
        resumed = await crawl.resume(first.run_id)
    assert resumed.success and resumed["total"] == sum(i * 10 + 1 for i in range(5))
    assert sorted(calls) == ["fetch[3]", "parse[3]", "parse[4]"]
    assert resumed["parse"] == [1, 11, 21, 31, 41]


async def test_chained_elements_hit_the_cache_one_by_one() -> None:
    calls: list[str] = []

    @step
    async def fetch(url: int) -> int:
        calls.append(f"fetch[{url}]")
        return url

    @step
    async def parse(page: int) -> int:
        calls.append(f"parse[{page}]")
        return -page

    @pipeline
    def crawl(urls: list[int] = [0, 1, 2]):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    assert (await crawl.arun())["parse"] == [0, -1, -2]
    calls.clear()
    again = await crawl.arun(urls=[0, 1, 2, 3])
    assert again["parse"] == [0, -1, -2, -3]
    assert sorted(calls) == ["fetch[3]", "parse[3]"]
    assert again.step_results["parse[1]"].cached


def test_chain_true_on_a_map_over_a_whole_list_names_the_step() -> None:
    @step
    def urls() -> list[int]:
        return [1]

    @step(chain=True)
    def parse(page: int) -> int:
        return page

    @pipeline
    def crawl():  # type: ignore[no-untyped-def]
        return parse.map(urls())

    with pytest.raises(ChainError, match=r"step 'parse' cannot chain.*'urls' returns whole"):
        crawl.build()


def test_bad_chains_are_all_reported_at_once() -> None:
    @step
    async def fetch(url: int) -> int:
        return url

    @step(chain=True)
    def single(page: int) -> int:
        return page

    @step(chain=True, condition=lambda page: True)
    def guarded(page: int) -> int:
        return page

    @pipeline
    def crawl(urls: list[int] = [1]):  # type: ignore[no-untyped-def]  # noqa: B006
        pages = fetch.map(urls)
        return single(pages), guarded.map(pages)

    with pytest.raises(PipelineBuildError) as info:
        crawl.build()
    messages = sorted(str(p) for p in info.value.problems)
    assert len(messages) == 2
    assert "step 'guarded'" in messages[0] and "condition" in messages[0]
    assert "step 'single'" in messages[1] and "it is not mapped" in messages[1]


def test_chain_must_be_a_bool_or_none() -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(StepDefinitionError, match="step 'f': chain must be True, False or None"):
        step(chain="yes")(f)  # type: ignore[call-overload]


async def test_each_step_of_a_chain_keeps_its_own_bounds_and_window() -> None:
    running = {"fetch": 0, "parse": 0}
    peak = {"fetch": 0, "parse": 0}
    overlapped = False
    alive = peak_alive = 0

    async def busy(name: str) -> None:
        nonlocal overlapped
        running[name] += 1
        peak[name] = max(peak[name], running[name])
        overlapped = overlapped or all(running.values())
        for _ in range(4 if name == "fetch" else 16):  # parse is slower: its elements pile up
            await anyio.lowlevel.checkpoint()
        running[name] -= 1

    @step(max_concurrency=2)
    async def fetch(url: int) -> int:
        await busy("fetch")
        return url

    @step(max_concurrency=3)
    async def parse(page: int) -> int:
        await busy("parse")
        return page

    def track(event: Event) -> None:
        nonlocal alive, peak_alive
        if event.type == "step_started" and event.step.startswith("parse["):
            alive += 1
            peak_alive = max(peak_alive, alive)
        elif event.type == "step_succeeded" and event.step.startswith("parse["):
            alive -= 1

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(60))):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    with anyio.fail_after(10):
        result = await crawl.arun(on_event=track)
    assert result["parse"] == list(range(60))
    assert peak == {"fetch": 2, "parse": 3}
    assert overlapped  # the two maps ran at the same time, each under its own bound
    assert peak_alive <= 6  # the chained map starts its elements lazily (twice its bound)


async def test_a_rate_limit_paces_the_elements_of_a_chained_map() -> None:
    @step
    async def fetch(url: int) -> int:
        return url

    calls: list[float] = []

    @step(rate_limit="50/s")
    async def parse(page: int) -> int:
        calls.append(time.monotonic())
        return page

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(6))):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    with anyio.fail_after(10):
        result = await crawl.arun()
    assert result["parse"] == list(range(6))
    assert len(calls) == 6
    assert calls[-1] - calls[0] >= 5 / 50 - 0.005  # spaced 20 ms apart, however fast


async def test_fail_fast_stops_both_maps_of_a_chain() -> None:
    fetch, _ = _failing_fetch(1)

    @step(allow_partial=True)
    async def parse(page: int) -> int:
        await anyio.sleep_forever()
        return page  # pragma: no cover

    @pipeline(persist=False, fail_fast=True)
    def crawl(urls: list[int] = list(range(4))):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result.status == "failed"
    assert result.step_results["fetch[1]"].status == "failed"
    assert result.step_results["parse"].status == "skipped"


async def test_a_map_chained_to_a_map_cut_short_is_skipped_even_with_allow_partial() -> None:
    fetch, _ = _failing_fetch(1)

    @step
    async def parse(page: int) -> int:
        return page

    @step(allow_partial=True)
    async def store(row: int) -> int:
        return row

    @pipeline(persist=False)
    def crawl(urls: list[int] = list(range(3))):  # type: ignore[no-untyped-def]  # noqa: B006
        return store.map(parse.map(fetch.map(urls)))

    with anyio.fail_after(5):
        result = await crawl.arun()
    assert result.status == "failed"
    assert result.step_results["parse"].status == "skipped"
    stored = result.step_results["store"]
    assert stored.status == "skipped"  # as when its upstream step is skipped whole
    assert stored.skip_reason == "upstream step 'fetch' failed"


@pytest.mark.parametrize("chain", [None, False])
async def test_chained_elements_leave_the_events_and_rows_of_any_map(chain: bool | None) -> None:
    @step
    async def fetch(url: int) -> int:
        return url

    @step(chain=chain)
    async def parse(page: int) -> int:
        return page * 2

    @pipeline
    def crawl(urls: list[int] = [1, 2, 3]):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    events: list[Event] = []
    result = await crawl.arun(on_event=events.append)
    assert result["parse"] == [2, 4, 6]
    kinds: dict[str, list[str]] = {}
    for e in events:
        if getattr(e, "step", "").startswith("parse["):
            kinds.setdefault(e.step, []).append(e.type)
    # the same sequence a map over a whole list gives each element
    assert kinds == {f"parse[{i}]": ["step_started", "step_succeeded"] for i in range(3)}
    async with Client() as client:
        run = await client.get_run(result.run_id)
    rows = {s.step: s for s in run.steps}
    for i in range(3):
        row = rows[f"parse[{i}]"]
        assert (row.status, row.attempts, list(row.outputs)) == ("succeeded", 1, [f"parse[{i}]"])
    assert rows["parse"].status == "succeeded" and run.run.status == "succeeded"


def test_the_dag_views_show_the_chain() -> None:
    @step
    async def fetch(url: int) -> int:
        return url

    @step
    async def parse(page: int) -> int:
        return page

    @pipeline
    def crawl(urls: list[int] = [1]):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    dag = crawl.build()
    assert "parse [async, element-wise after fetch] <- fetch" in dag.visualize()
    nodes = {n["id"]: n for n in dag.to_dict()["nodes"]}
    assert (nodes["parse"]["chained"], nodes["fetch"]["chained"]) == ("fetch", None)


@pytest.mark.parametrize("seed", range(12))
async def test_random_orders_failures_and_bounds_keep_the_chain_exact(seed: int) -> None:
    rng = random.Random(seed)  # the seed is in the test id
    n = rng.randint(0, 60)
    rate = rng.choice([0.0, 0.1, 0.3])
    failing = {i for i in range(n) if rng.random() < rate}
    tolerant = rng.random() < 0.5
    bound = rng.choice([None, 1, 3])
    delays = [rng.randint(0, 5) for _ in range(2 * n)]

    @step
    async def fetch(url: int) -> int:
        for _ in range(delays[url]):
            await anyio.lowlevel.checkpoint()
        if url in failing:
            raise ConnectionError(f"cannot fetch {url}")
        return url * 10

    @step(allow_partial=tolerant)
    async def parse(page: int) -> int:
        for _ in range(delays[n + page // 10]):
            await anyio.lowlevel.checkpoint()
        return page + 1

    @pipeline(persist=False, max_concurrency=bound)
    def crawl(urls: list[int] = list(range(n))):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    with anyio.fail_after(10):
        result = await crawl.arun()
    assert result.status == ("failed" if failing else "succeeded")
    parse_result = result.step_results["parse"]
    if failing and not tolerant:
        assert parse_result.status == "skipped"
        return
    assert parse_result.status == "succeeded"
    assert result["parse"] == [i * 10 + 1 for i in range(n) if i not in failing]
    skipped = {
        int(k[6:-1])
        for k, r in result.step_results.items()
        if k.startswith("parse[") and r.status == "skipped"
    }
    assert skipped == failing
