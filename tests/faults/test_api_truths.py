"""The public API does what it says: bad calls are refused with a message naming the
fault, and nothing is silently merged, ignored or reused."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from flowyml import Client, Dataset, Model, Pipeline, Runtime, context, pipeline, step
from flowyml.errors import (
    MissingInputError,
    PipelineBuildError,
    RunExistsError,
    StepDefinitionError,
)


@step
def a() -> int:
    return 1


@step
def b(a: int) -> int:
    return a + 1


@step
def archive(value: int, store: str = "none") -> str:
    return f"{value}@{store}"


@step
def value() -> int:
    return 7


# ---------------------------------------------------------------- run options


def test_a_mistyped_run_option_is_refused_with_a_suggestion() -> None:
    p = Pipeline("typo", persist=False).add_step(a).add_step(b)
    with pytest.raises(TypeError, match=r"'enable_cahce'.*did you mean 'enable_cache'"):
        p.run(enable_cahce=False)


def test_an_unknown_parameter_is_refused_naming_it() -> None:
    p = Pipeline("unknown", persist=False).add_step(a).add_step(b)
    with pytest.raises(TypeError, match=r"unexpected keyword 'colour'"):
        p.run(colour="red")


async def test_arun_refuses_unknown_keywords_too() -> None:
    p = Pipeline("unknown-async", persist=False).add_step(a)
    with pytest.raises(TypeError, match=r"'persits'.*did you mean 'persist'"):
        await p.arun(persits=False)


@pytest.mark.parametrize(
    ("option", "bad", "kind"),
    [
        ("store", 5, TypeError),
        ("artifacts", ["file:///x"], TypeError),
        ("run_id", "", ValueError),
        ("persist", "no", TypeError),
        ("enable_cache", 0, TypeError),
        ("on_event", "print", TypeError),
        ("params", ["n"], TypeError),
        ("runtime", object(), TypeError),
        ("executor", object(), TypeError),
    ],
)
def test_a_run_option_of_the_wrong_type_is_refused_naming_it(
    option: str, bad: Any, kind: type[Exception]
) -> None:
    p = Pipeline("types", persist=False).add_step(a)
    with pytest.raises(kind, match=rf"run option {option}="):
        p.run(**{option: bad})


def test_an_option_clashing_with_a_step_parameter_points_at_params() -> None:
    p = Pipeline("clash", persist=False).add_step(value).add_step(archive)
    with pytest.raises(TypeError, match=r"step 'archive' has a parameter 'store'.*params="):
        p.run(store=5)
    result = p.run(params={"store": "shelf"})
    assert result.outputs["archive"] == "7@shelf"


def test_context_values_and_step_parameters_are_accepted() -> None:
    @step
    def label(value: int, suffix: str = "") -> str:
        return f"{value}{suffix}"

    p = Pipeline("known", context=context(extra=1), persist=False)
    p.add_step(value).add_step(label)
    assert p.run(extra=2, suffix="!").outputs["label"] == "7!"


def test_resume_and_stream_refuse_unknown_keywords() -> None:
    p = Pipeline("resume-typo").add_step(a)
    run_id = p.run().run_id
    with pytest.raises(TypeError, match=r"did you mean 'enable_cache'"):
        p.resume(run_id, enable_cahe=False)
    with pytest.raises(TypeError, match=r"unexpected keyword 'colour'"):
        p.stream(colour="red")
    with pytest.raises(TypeError, match=r"run option store="):
        p.stream(store=3)


# ---------------------------------------------------------------- explicit style


def test_explicit_style_binds_a_parameter_to_the_output_of_its_name() -> None:
    result = Pipeline("by-name", persist=False).add_step(a).add_step(b).run()
    assert result.success, result.summary()
    assert result.outputs == {"a": 1, "b": 2}
    assert result.pipeline_name == "by-name"


def test_an_upstream_output_wins_over_a_run_parameter_of_the_same_name() -> None:
    p = Pipeline("precedence", persist=False).add_step(a).add_step(b)
    assert p.run(a=100).outputs["b"] == 2  # README: upstream outputs, then run parameters


def test_a_missing_binding_says_how_to_declare_one() -> None:
    @step(outputs=["raw"])
    def load() -> bytes:
        return b"x"

    @step
    def parse(load: bytes) -> int:
        return len(load)

    @step
    def count(rwa: bytes) -> int:
        return len(rwa)

    with pytest.raises(MissingInputError) as caught:
        Pipeline("hint", persist=False).add_step(load).add_step(parse).build()
    message = str(caught.value)
    assert "step 'load' outputs ['raw']" in message
    assert "inputs={'load': 'raw'}" in message
    with pytest.raises(MissingInputError, match=r"did you mean the output 'raw'.*inputs="):
        Pipeline("hint2", persist=False).add_step(load).add_step(count).build()


def test_the_readme_explicit_style_example_runs_as_documented() -> None:
    @step(outputs=["raw"], retries=3, retry_delay=0.5, timeout=10)
    async def fetch(url: str) -> bytes:
        return url.encode()

    @step(inputs=["raw"], outputs=["rows", "errors"])
    def parse(raw: bytes) -> tuple[list[str], int]:
        return raw.decode().split("/"), 0

    p = Pipeline("etl", context=context(url="http://127.0.0.1:8000/data"), max_concurrency=20)
    p.add_step(fetch).add_step(parse)
    result = p.run(url="http://127.0.0.1:8000/other")
    assert result.success, result.summary()
    assert result.outputs["rows"][-1] == "other"
    assert result.outputs["errors"] == 0


# ---------------------------------------------------------------- run ids


def test_reusing_a_run_id_is_refused_and_the_first_record_is_kept(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    p = Pipeline("ids", store=store, artifacts=f"file://{tmp_path / 'art'}").add_step(a)
    first = p.run(run_id="nightly-1")
    assert first.success
    q = Pipeline("other-ids", store=store, artifacts=f"file://{tmp_path / 'art'}").add_step(b)
    with pytest.raises(RunExistsError, match=r"run 'nightly-1' already exists in .*runs\.db"):
        q.run(run_id="nightly-1", a=5)
    with pytest.raises(RunExistsError):
        p.run(run_id="nightly-1")

    async def read() -> tuple[Any, list[Any]]:
        async with Client(store=store, artifacts=f"file://{tmp_path / 'art'}") as client:
            run = await client.get_run("nightly-1")
            return run, [s.step for s in run.steps]

    run, steps = anyio.run(read)
    assert run.run.pipeline == "ids"
    assert run.run.params == {}
    assert steps == ["a"]
    assert p.run(run_id="nightly-2").success


@pytest.mark.parametrize("shared", [True, False], ids=["one-runtime", "own-runtimes"])
async def test_two_runs_started_together_with_one_id_cannot_both_run(
    tmp_path: Path, shared: bool
) -> None:
    store, art = f"sqlite:///{tmp_path / 'runs.db'}", f"file://{tmp_path / 'art'}"
    refused = anyio.Event()
    calls = []

    @step
    async def slow() -> int:
        calls.append(1)
        await refused.wait()  # still running when the second run checks the id
        return 1

    p = Pipeline("same-id", store=store, artifacts=art).add_step(slow)
    outcomes: list[Any] = []

    async def start() -> None:
        try:
            outcomes.append(await p.arun(run_id="once"))
        except RunExistsError as exc:
            outcomes.append(exc)
            refused.set()

    async with contextlib.AsyncExitStack() as stack:
        if shared:
            await stack.enter_async_context(Runtime(store=store, artifacts=art))
        with anyio.fail_after(30):  # both runs passing the check would wait forever
            async with anyio.create_task_group() as tg:
                tg.start_soon(start)
                tg.start_soon(start)
    errors = [o for o in outcomes if isinstance(o, RunExistsError)]
    results = [o for o in outcomes if not isinstance(o, RunExistsError)]
    assert len(errors) == 1 and len(results) == 1 and results[0].success
    assert calls == [1]
    async with Client(store=store, artifacts=art) as client:
        run = await client.get_run("once")
        assert run.run.status == "succeeded" and [s.step for s in run.steps] == ["slow"]
        assert len(await client.list_runs()) == 1


async def test_a_run_ending_does_not_close_the_stores_under_a_concurrent_run(
    tmp_path: Path,
) -> None:
    """Two ``arun()`` calls of one service, no ``Runtime`` of its own: the second run
    uses the stores the first opened, and the first ending must not close them."""
    from flowyml.execution._runtime import active_runtime

    store, art = f"sqlite:///{tmp_path / 'runs.db'}", f"file://{tmp_path / 'art'}"
    first_running, second_running = anyio.Event(), anyio.Event()
    first_done = anyio.Event()

    @step
    async def work(who: str) -> str:
        if who == "first":
            first_running.set()
            await second_running.wait()  # ends while the second run is mid-step
        else:
            second_running.set()
            await first_done.wait()
        return who

    p = Pipeline("service", store=store, artifacts=art).add_step(work)
    results: dict[str, Any] = {}

    async def serve(who: str) -> None:
        results[who] = await p.arun(who=who)
        if who == "first":
            first_done.set()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve, "first")
            await first_running.wait()
            tg.start_soon(serve, "second")
    assert results["first"].success and results["second"].success
    assert results["second"]["work"] == "second"
    assert active_runtime(store, art) is None  # the last run closed the stores
    async with Client(store=store, artifacts=art) as client:
        for who in ("first", "second"):
            run = await client.get_run(results[who].run_id)
            assert run.run.status == "succeeded"
            assert [(s.step, s.status) for s in run.steps] == [("work", "succeeded")]


# ---------------------------------------------------------------- definitions


def test_a_pipeline_decorator_keeps_its_options_for_every_use() -> None:
    shared = pipeline(name="nightly", context={"n": 3}, persist=False)

    @shared
    def first(n: int) -> None:
        archive(n)

    @shared
    def second(n: int) -> None:
        archive(n, store="x")

    for p in (first, second):
        assert p.name == "nightly"
        assert dict(p.context) == {"n": 3}
        assert p.persist is False
    assert second.run().outputs["archive"] == "3@x"


def test_assets_obey_the_eq_hash_contract() -> None:
    one, same = Dataset([1, 2], metadata={"k": 1}), Dataset([1, 2], metadata={"k": 1})
    assert one == same
    with pytest.raises(TypeError, match="unhashable"):
        hash(one)
    assert one != Dataset([1, 2], metadata={"k": 2})
    assert one != Dataset([1, 2], name="other", metadata={"k": 1})
    assert one != Model([1, 2], metadata={"k": 1})  # another kind of asset
    array = np.arange(3)
    assert Dataset(array) == Dataset(array)  # reflexive even where == is elementwise
    assert Dataset(array) != Dataset(np.arange(3) + 1)


@pytest.mark.parametrize("bad", ["yes", 1, None, "false"])
def test_cache_accepts_only_known_strategies(bad: Any) -> None:
    refused = r"step 'value': (unknown cache strategy|cache must be True, False, 'code_hash')"
    with pytest.raises(StepDefinitionError, match=refused):
        step(cache=bad)(value.fn)
    assert step(cache=False)(value.fn).cache is False


def test_an_empty_pipeline_is_a_build_error() -> None:
    with pytest.raises(PipelineBuildError, match=r"pipeline 'empty' has no steps"):
        Pipeline("empty", persist=False).run()

    @pipeline
    def nothing() -> None:
        return None

    with pytest.raises(PipelineBuildError, match=r"pipeline 'nothing' has no steps"):
        nothing.build()


# ---------------------------------------------------------------- resume


def test_resume_with_changed_params_reruns_what_reads_them(tmp_path: Path) -> None:
    calls: list[str] = []
    broken = {"report": True}

    @step
    def load(n: int) -> list[int]:
        calls.append(f"load({n})")
        return list(range(n))

    @step
    def total(load: list[int]) -> int:
        calls.append("total")
        return sum(load)

    @step
    def unit(label: str = "units") -> str:
        calls.append("unit")
        return label

    @step
    def report(total: int, unit: str) -> str:
        calls.append("report")
        if broken["report"]:
            raise RuntimeError("report is broken")
        return f"{total} {unit}"

    p = Pipeline(
        "resume-params",
        store=f"sqlite:///{tmp_path / 'runs.db'}",
        artifacts=f"file://{tmp_path / 'art'}",
        enable_cache=False,
    )
    for s in (load, total, unit, report):
        p.add_step(s)
    first = p.run(n=3)
    assert first.status == "failed"
    assert first.outputs["total"] == 3
    broken["report"] = False
    calls.clear()

    second = p.resume(first.run_id, n=5)
    assert second.success, second.summary()
    assert second.outputs["load"] == [0, 1, 2, 3, 4]
    assert second.outputs["report"] == "10 units"  # not 3 (the sum for the old n)
    assert sorted(calls) == ["load(5)", "report", "total"]  # `unit` reads no changed param

    async def recorded() -> dict[str, Any]:
        async with Client(store=p.store, artifacts=p.artifacts) as client:
            detail = await client.get_run(second.run_id)
            return dict(detail.run.params)

    assert anyio.run(recorded)["n"] == 5

    calls.clear()
    third = p.resume(first.run_id)  # unchanged parameters: reuse everything that succeeded
    assert third.outputs["report"] == "3 units"
    assert calls == ["report"]


# ---------------------------------------------------------------- the runs command

_SLOW_RUN = """
import sys, time
from pathlib import Path
from flowyml import Pipeline, step

@step
def hang() -> int:
    Path(sys.argv[3]).write_text("started")
    time.sleep(600)
    return 1

Pipeline("doomed", store=sys.argv[1], artifacts=sys.argv[2]).add_step(hang).run()
"""


def _flowyml(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from flowyml.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**(env or os.environ), "COLUMNS": "250"},  # wide enough for rich's table
    )


def _running_runs(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as con:
        try:
            row = con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()
        except sqlite3.OperationalError:  # the schema is not created yet
            return 0
    return int(row[0])


def test_runs_marks_the_run_of_a_killed_process_interrupted(tmp_path: Path) -> None:
    db, marker = tmp_path / "runs.db", tmp_path / "started"
    store, artifacts = f"sqlite:///{db}", f"file://{tmp_path / 'art'}"
    child = subprocess.Popen([sys.executable, "-c", _SLOW_RUN, store, artifacts, str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and _running_runs(db)):
            assert child.poll() is None, "the run's process ended early"
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait(timeout=30)
    listed = _flowyml("runs", "--store", store, "--artifacts", artifacts)
    assert listed.returncode == 0, listed.stderr
    assert "doomed" in listed.stdout
    assert "interrupted" in listed.stdout
    assert "running" not in listed.stdout
    assert _running_runs(db) == 0
    assert "warning" not in listed.stderr


@step
def big() -> str:
    return "x" * 10_000  # above the inline limit: a file in the artifact folder


def test_runs_warns_when_the_metadata_is_empty_but_artifacts_exist(tmp_path: Path) -> None:
    store, art = f"sqlite:///{tmp_path / 'runs.db'}", tmp_path / "art"
    p = Pipeline("kept", store=store, artifacts=f"file://{art}").add_step(big)
    assert p.run().success
    (tmp_path / "runs.db").unlink()  # the metadata is lost; the artifacts remain
    listed = _flowyml("runs", "--store", store, "--artifacts", f"file://{art}")
    assert listed.returncode == 0, listed.stderr
    assert "no runs" in listed.stdout
    assert "holds no runs, but the artifact folder" in listed.stderr
    assert str(art) in listed.stderr
    # the default artifact folder (FLOWYML_HOME) is checked too, and filters do not hide it
    env = {**os.environ, "FLOWYML_ARTIFACTS": f"file://{art}"}
    filtered = _flowyml("runs", "--store", store, "--pipeline", "kept", env=env)
    assert "holds no runs" in filtered.stderr


def test_runs_does_not_warn_when_a_filter_matches_nothing(tmp_path: Path) -> None:
    store, art = f"sqlite:///{tmp_path / 'runs.db'}", f"file://{tmp_path / 'art'}"
    assert Pipeline("kept", store=store, artifacts=art).add_step(a).run().success
    listed = _flowyml("runs", "--store", store, "--artifacts", art, "--pipeline", "other")
    assert listed.returncode == 0, listed.stderr
    assert "no runs" in listed.stdout
    assert listed.stderr == ""


def test_resume_with_changed_params_reruns_mapped_elements(tmp_path: Path) -> None:
    calls: list[str] = []
    broken = {"total": True}

    @step
    def items(n: int) -> list[int]:
        return list(range(n))

    @step
    def square(x: int, power: int = 2) -> int:
        calls.append(f"square({x})")
        return int(x**power)

    @step
    def total(square: list[int]) -> int:
        if broken["total"]:
            raise RuntimeError("total is broken")
        return sum(square)

    @pipeline(store=f"sqlite:///{tmp_path / 'runs.db'}", artifacts=f"file://{tmp_path / 'a'}")
    def squares(n: int = 3, power: int = 2) -> None:
        total(square.map(items(n), power=power))

    first = squares.run(enable_cache=False)
    assert first.status == "failed"
    broken["total"] = False
    calls.clear()
    second = squares.resume(first.run_id, power=3, enable_cache=False)
    assert second.success, second.summary()
    assert second.outputs["total"] == 0 + 1 + 8
    assert sorted(calls) == ["square(0)", "square(1)", "square(2)"]
