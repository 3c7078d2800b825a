"""Runs persisted to the default SQLite store and local artifacts: durability, cache,
resume, Client, lineage — across real processes where it matters."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Client, Pipeline, Runtime, context, step
from flowyml.errors import (
    NotFoundError,
    SerializationError,
    StoreConnectionError,
    StoreError,
    UnsupportedURLError,
)

pytestmark = pytest.mark.slow

PY = sys.executable


def run_script(
    tmp_path: Path, code: str, home: Path, *args: str, store: str | None = None
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "FLOWYML_HOME": str(home), "PYTHONPATH": str(tmp_path)}
    if store is not None:
        env["FLOWYML_STORE"] = store
    return subprocess.run(
        [PY, str(script), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


PIPELINE_MODULE = """
from flowyml import Pipeline, step, context

@step(outputs=["numbers"])
async def numbers(n: int) -> list[int]:
    return list(range(n))

@step(inputs=["numbers"], outputs=["total"])
def total(numbers: list[int], scale: int = 1) -> int:
    return sum(numbers) * scale

@step(inputs=["total"], outputs=["report"])
def report(total: int) -> str:
    return f"total={total}"

def build():
    return Pipeline("cached", context=context(n=10)).add_step(numbers).add_step(total).add_step(report)
"""


def test_run_is_durable_when_the_process_exits_right_after(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = run_script(
        tmp_path,
        """
        from flowyml import Pipeline, step
        p = Pipeline("durable")
        @step(name="s0")
        async def s0() -> int:
            return 0
        p.add_step(s0)
        def make(i):
            @step(name=f"s{i}", inputs={"x": f"s{i-1}"})
            async def s(x: int) -> int:
                return x + 1
            return s
        for i in range(1, 300):
            p.add_step(make(i))
        r = p.run()
        print(r.run_id, r["s299"])
        """,
        home,
    )
    assert out.returncode == 0, out.stderr
    run_id, last = out.stdout.split()
    assert last == "299"
    db = sqlite3.connect(home / "metadata.db")
    status, done = db.execute(
        "select status, steps_done from runs where run_id=?", (run_id,)
    ).fetchone()
    assert (status, done) == ("succeeded", 300)
    n_events = db.execute("select count(*) from events where run_id=?", (run_id,)).fetchone()[0]
    assert n_events == 2 + 2 * 300
    n_steps = db.execute(
        "select count(*) from step_runs where run_id=? and status='succeeded'", (run_id,)
    ).fetchone()[0]
    assert n_steps == 300


def test_cache_hits_and_misses_across_processes(tmp_path: Path, metadata_url: str) -> None:
    if metadata_url == "memory://":
        pytest.skip("an in-memory store dies with its process")
    home = tmp_path / "home"
    (tmp_path / "mypipe.py").write_text(PIPELINE_MODULE)
    driver = """
    import sys, json
    import mypipe
    kw = json.loads(sys.argv[1])
    r = mypipe.build().run(**kw)
    print(json.dumps({n: s.status for n, s in r.step_results.items()}), r["report"])
    """
    first = run_script(tmp_path, driver, home, "{}", store=metadata_url)
    assert first.returncode == 0, first.stderr
    assert '"numbers": "succeeded"' in first.stdout and "total=45" in first.stdout

    again = run_script(tmp_path, driver, home, "{}", store=metadata_url)
    assert '"numbers": "cached", "total": "cached", "report": "cached"' in again.stdout
    assert "total=45" in again.stdout

    # a parameter of `total` changed: `numbers` stays cached, `total` and `report` rerun
    scaled = run_script(tmp_path, driver, home, '{"scale": 2}', store=metadata_url)
    assert '"numbers": "cached", "total": "succeeded", "report": "succeeded"' in scaled.stdout
    assert "total=90" in scaled.stdout

    # the source of `report` changed: only `report` reruns
    (tmp_path / "mypipe.py").write_text(
        PIPELINE_MODULE.replace('f"total={total}"', 'f"sum={total}"')
    )
    edited = run_script(tmp_path, driver, home, "{}", store=metadata_url)
    assert '"numbers": "cached", "total": "cached", "report": "succeeded"' in edited.stdout
    assert "sum=45" in edited.stdout

    # an upstream input changed (n): everything downstream misses
    more = run_script(tmp_path, driver, home, '{"n": 11}', store=metadata_url)
    assert '"numbers": "succeeded", "total": "succeeded", "report": "succeeded"' in more.stdout


def test_steps_without_readable_source_still_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = (
        "from flowyml import Pipeline, step\n"
        "ns = {}\n"
        "exec('def f(k: int = 3):\\n    return k * 7', ns)\n"
        "r = Pipeline('exec').add_step(step(ns['f'])).run()\n"
        "print(r.step_results['f'].status, r['f'])\n"
    )
    env = {**os.environ, "FLOWYML_HOME": str(home)}
    a = subprocess.run(
        [PY, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert a.stdout.split() == ["succeeded", "21"], a.stderr
    b = subprocess.run(
        [PY, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert b.stdout.split() == ["cached", "21"], b.stderr
    c = subprocess.run(
        [PY, "-c", code.replace("k * 7", "k * 8")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert c.stdout.split() == ["succeeded", "24"], c.stderr


async def test_client_reads_runs_steps_artifacts_and_lineage(metadata_url: str) -> None:
    @step(outputs=["raw"])
    async def fetch(url: str) -> bytes:
        return url.encode()

    @step(inputs=["raw"], outputs=["rows", "errors"])
    def parse(raw: bytes) -> tuple[list[str], int]:
        return raw.decode().split("/"), 0

    p = Pipeline("client", context=context(url="a/b/c")).add_step(fetch).add_step(parse)
    async with Runtime(store=metadata_url) as rt, Client(runtime=rt) as client:
        result = await p.arun(runtime=rt)
        ids = result.step_results["parse"].artifact_ids
        assert set(ids) == {"rows", "errors"}
        runs = await client.list_runs(pipeline="client")
        assert [r.run_id for r in runs] == [result.run_id]
        detail = await client.get_run(result.run_id)
        assert detail.status == "succeeded"
        assert [s.step for s in detail.steps] == ["fetch", "parse"]
        assert detail.step("parse").outputs == ids
        assert await client.load_artifact(ids["rows"]) == ["a", "b", "c"]
        raw_id = result.step_results["fetch"].artifact_ids["raw"]
        assert await client.load_artifact(raw_id) == b"a/b/c"
        lin = await client.lineage(raw_id)
        assert lin.producer is not None and lin.producer.step == "fetch"
        assert [c.step for c in lin.consumers] == ["parse"]
        assert {a.name for a in lin.derived} == {"rows", "errors"}
        back = await client.lineage(ids["rows"])
        assert [a.name for a in back.inputs] == ["raw"]
        events = await client.events(result.run_id)
        assert events[0].event.type == "run_started" and events[-1].event.type == "run_finished"
        assert [e.id for e in events] == sorted(e.id for e in events)
        with pytest.raises(NotFoundError):
            await client.get_run("nope")


async def test_resume_reruns_only_what_did_not_succeed(tmp_path: Path, metadata_url: str) -> None:
    calls: list[str] = []
    flag = tmp_path / "broken"
    flag.write_text("x")

    @step(outputs=["a"], cache=False)
    async def first() -> int:
        calls.append("first")
        return 1

    @step(inputs=["a"], outputs=["b"], cache=False)
    def flaky(a: int) -> int:
        calls.append("flaky")
        if flag.exists():
            raise RuntimeError("not yet")
        return a + 1

    @step(inputs=["b"], outputs=["c"], cache=False)
    def last(b: int) -> int:
        calls.append("last")
        return b * 10

    p = Pipeline("resume").add_step(first).add_step(flaky).add_step(last)
    async with Runtime(store=metadata_url) as rt:
        failed = await p.arun(runtime=rt)
        assert failed.status == "failed" and calls == ["first", "flaky"]
        flag.unlink()
        calls.clear()
        resumed = await p.aresume(failed.run_id, runtime=rt)
        assert resumed.success and resumed["c"] == 20
        assert calls == ["flaky", "last"]  # `first` was reused although its cache is off
        assert resumed.resumed_from == failed.run_id
        assert resumed.step_results["first"].status == "cached"
        async with Client(runtime=rt) as client:
            run = (await client.get_run(resumed.run_id)).run
            assert run.resumed_from == failed.run_id
        with pytest.raises(NotFoundError):
            await p.aresume("no-such-run", runtime=rt)


def test_resume_blocks_in_plain_code() -> None:
    @step
    def one() -> int:
        return 1

    p = Pipeline("resume-sync").add_step(one)
    first = p.run()
    again = p.resume(first.run_id)
    assert again.resumed_from == first.run_id and again["one"] == 1


async def test_cache_expiry_and_clear(metadata_url: str) -> None:
    calls = 0

    @step
    def work() -> int:
        nonlocal calls
        calls += 1
        return calls

    p = Pipeline("expiry").add_step(work)
    async with Runtime(store=metadata_url) as rt, Client(runtime=rt) as client:
        await p.arun(runtime=rt)
        assert (await p.arun(runtime=rt)).step_results["work"].cached
        assert await client.clear_cache(pipeline="expiry") >= 1
        assert not (await p.arun(runtime=rt)).step_results["work"].cached
        assert calls == 2
        short = Pipeline("expiry2", cache_expiry=1e-9).add_step(work)
        await short.arun(runtime=rt)
        assert not (await short.arun(runtime=rt)).step_results["work"].cached
        assert not (await p.arun(runtime=rt, enable_cache=False)).step_results["work"].cached


async def test_a_long_lived_runtime_keeps_neither_dags_nor_old_steps(metadata_url: str) -> None:
    # A service runs pipelines for hours in one Runtime: it must not hold every DAG it
    # ran, and a run reads the cache entries of its own steps only, not of every step
    # the pipeline had before (its steps changed: that read grew with each run).
    import gc

    def made(i: int) -> Pipeline:
        @step(name=f"s{i}")
        def work() -> int:
            return i

        return Pipeline("growing").add_step(work)

    async with Runtime(store=metadata_url) as rt:
        for i in range(5):
            assert (await made(i).arun(runtime=rt))[f"s{i}"] == i
        gc.collect()
        assert len(rt.versions) == 0  # the pipelines are gone, so are their DAGs
        snap = rt.metadata.cache_snapshot  # type: ignore[attr-defined]
        assert set(await snap("growing")) == {f"s{i}" for i in range(5)}
        p = made(2)
        reads: list[set[str]] = []

        async def recording(pipeline: str, **kw: object) -> object:
            reads.append(set(kw["steps"]))  # type: ignore[call-overload]
            return await snap(pipeline, **kw)

        rt.metadata.cache_snapshot = recording  # type: ignore[attr-defined]
        assert (await p.arun(runtime=rt)).step_results["s2"].cached
        assert reads == [{"s2"}]


@pytest.mark.parametrize("shared_runtime", [False, True])
async def test_keys_of_input_less_steps_are_ready_before_any_step_starts(
    tmp_path: Path, shared_runtime: bool
) -> None:
    # A key that depends on nothing but the step's code is computed in a worker thread
    # before the run starts, not on the event loop between the starts of the steps.
    from flowyml.events import StepSucceeded

    @step
    async def first() -> int:
        return 1

    @step
    async def second() -> int:
        return 2

    @step
    async def scaled(factor: int) -> int:
        return factor

    @step(inputs=["first"])
    async def after(first: int) -> int:
        return first + 1

    p = Pipeline("keys", context=context(factor=3))
    for s in (first, second, scaled, after):
        p.add_step(s)
    before = {s.name: dict(vars(s)) for s in (first, second, scaled, after)}
    keys: dict[str, str | None] = {}

    def on_event(ev: object) -> None:
        if isinstance(ev, StepSucceeded):
            keys[ev.step] = ev.cache_key

    store = f"sqlite:///{tmp_path / 'm.db'}"
    artifacts = str(tmp_path / "artifacts")
    if shared_runtime:
        async with Runtime(store=store, artifacts=artifacts) as rt:
            result = await p.arun(runtime=rt, on_event=on_event)
    else:
        result = await p.arun(store=store, artifacts=artifacts, on_event=on_event)
    assert result.success
    assert all(keys.values()) and len(set(keys.values())) == 4
    # The engine keeps its memos to itself: the users' step objects are unchanged.
    assert {s.name: dict(vars(s)) for s in (first, second, scaled, after)} == before
    # ... and a rerun is served from the cache with those keys.
    rerun = await p.arun(store=store, artifacts=artifacts)
    assert all(r.cached for r in rerun.step_results.values())


async def test_no_keys_are_computed_for_a_run_without_cache(tmp_path: Path) -> None:
    @step
    async def alone() -> int:
        return 1

    p = Pipeline("nokeys", enable_cache=False).add_step(alone)
    result = await p.arun(store=f"sqlite:///{tmp_path / 'm.db'}", artifacts=str(tmp_path / "a"))
    assert result.success
    async with Client(store=f"sqlite:///{tmp_path / 'm.db'}") as client:
        detail = await client.get_run(result.run_id)
    assert all(s.cache_key is None for s in detail.steps)


async def test_step_can_opt_out_of_artifacts() -> None:
    import threading

    @step(persist=False)
    def lock() -> threading.Lock:
        return threading.Lock()

    @step(inputs=["lock"])
    def use(lock: threading.Lock) -> bool:
        with lock:
            return True

    result = await Pipeline("optout").add_step(lock).add_step(use).arun()
    assert result.success and result["use"] is True
    assert result.step_results["lock"].artifact_ids == {}
    assert set(result.step_results["use"].artifact_ids) == {"use"}


async def test_unserialisable_output_fails_naming_step_and_output() -> None:
    import threading

    @step
    def lock() -> threading.Lock:
        return threading.Lock()

    result = await Pipeline("unser").add_step(lock).arun()
    err = result.step_results["lock"].error
    assert isinstance(err, SerializationError)
    assert "'lock'" in str(err) and "output" in str(err) and "persist=False" in str(err)


async def test_bad_store_urls_fail_before_the_run_starts() -> None:
    ran = False

    @step
    def never() -> None:
        nonlocal ran
        ran = True

    p = Pipeline("bad").add_step(never)
    with pytest.raises(UnsupportedURLError, match="redis"):
        await p.arun(store="redis://127.0.0.1/0")
    with pytest.raises(StoreConnectionError, match="127.0.0.1:1"):
        await p.arun(store="postgresql://u:secret@127.0.0.1:1/db")
    assert not ran


async def test_compile_error_while_the_stores_open(tmp_path: Path) -> None:
    # The DAG compiles while the stores open (their connections are made in threads): a
    # compile error comes out as itself, and the stores opened so far are closed again.
    import threading

    from flowyml.errors import MissingInputError

    def readers() -> list[str]:
        return [t.name for t in threading.enumerate() if "_connection_worker" in t.name]

    @step(inputs={"x": "nowhere"})
    def needs(x: int) -> int:
        return x

    before = readers()
    p = Pipeline("broken", store=f"sqlite:///{tmp_path / 'm.db'}").add_step(needs)
    for _ in range(3):
        with pytest.raises(MissingInputError, match="nowhere"):
            await p.arun()
    with anyio.fail_after(5):
        while readers() != before:
            await anyio.sleep(0.01)


async def test_store_error_before_the_steps_comes_out_as_itself(tmp_path: Path) -> None:
    # The cache snapshot is read while the code version is computed: a store that fails
    # there gives its own error (injected: a real store fails this way when it goes away).
    from flowyml.storage.metadata import SqliteMetadataStore

    class Failing(SqliteMetadataStore):
        async def cache_snapshot(self, pipeline: str, **kw: Any) -> Any:
            raise StoreError("the database went away")

    ran = False

    @step
    def work() -> int:
        nonlocal ran
        ran = True
        return 1

    async with Failing(f"sqlite:///{tmp_path / 'm.db'}") as store, Runtime(store=store) as rt:
        with pytest.raises(StoreError, match="went away"):
            await Pipeline("p").add_step(work).arun(runtime=rt)
    assert not ran


async def test_memory_backends() -> None:
    @step
    def one() -> int:
        return 1

    p = Pipeline("mem", store="memory://", artifacts="memory://mem-test").add_step(one)
    assert (await p.arun())["one"] == 1


def test_two_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = """
    import sys
    from flowyml import Pipeline, step
    def make(i):
        @step(name=f"s{i}", cache=False)
        async def s() -> int:
            return i
        return s
    p = Pipeline("shared-" + sys.argv[1])
    for i in range(100):
        p.add_step(make(i))
    for _ in range(3):
        assert p.run().success
    print("ok")
    """
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "FLOWYML_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [PY, str(script), str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err
    db = sqlite3.connect(home / "metadata.db")
    assert db.execute("select count(*) from runs where status='succeeded'").fetchone()[0] == 6
    assert (
        db.execute("select count(*) from step_runs where status='succeeded'").fetchone()[0] == 600
    )
    assert db.execute("select count(*) from events").fetchone()[0] == 6 * (2 + 200)


async def test_killed_process_leaves_a_consistent_store(tmp_path: Path, metadata_url: str) -> None:
    if metadata_url == "memory://":
        pytest.skip("an in-memory store dies with its process")
    home = tmp_path / "home"
    marker = tmp_path / "started"
    code = f"""
    import time, pathlib
    from flowyml import Pipeline, step

    @step(outputs=["done"])
    def finished_first() -> str:
        return "kept"

    @step(inputs=["done"])
    def hangs(done: str) -> None:
        pathlib.Path({str(marker)!r}).write_text("x")
        time.sleep(600)

    Pipeline("killed").add_step(finished_first).add_step(hangs).run()
    """
    script = tmp_path / "victim.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "FLOWYML_HOME": str(home), "FLOWYML_STORE": metadata_url}
    proc = subprocess.Popen([PY, str(script)], env=env)  # noqa: ASYNC220 (killed below)
    try:
        with anyio.fail_after(30):
            while not marker.exists():
                await anyio.sleep(0.02)
        await anyio.sleep(0.2)  # let the writer commit the step_started event
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    async with Client(store=metadata_url, artifacts=f"file://{home / 'artifacts'}") as client:
        (run,) = await client.list_runs(pipeline="killed")
        assert run.status == "interrupted"  # the Client detected the dead pid
        detail = await client.get_run(run.run_id)
        states = {s.step: s.status for s in detail.steps}
        assert states == {"finished_first": "succeeded", "hangs": "interrupted"}
        kept = detail.step("finished_first").outputs["done"]
        assert await client.load_artifact(kept) == "kept"
        last = (await client.events(run.run_id))[-1].event
        assert last.type == "run_finished" and last.status == "interrupted"
