"""``flowyml --version``, ``--help``, ``runs`` in 80 columns, ``logs`` and ``-p`` parsing."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from flowyml import Client, Pipeline, StepContext, __version__, context, step
from flowyml._ids import new_run_id
from flowyml.cli._main import app
from flowyml.cli._params import ParamError, parse_params
from flowyml.errors import NotFoundError

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"flowyml {__version__}\n"


@pytest.mark.parametrize(
    "args", [["--help"], ["run", "--help"], ["logs", "--help"], ["runs", "--help"]]
)
def test_help_has_no_type_noise(args: list[str]) -> None:
    result = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert args == ["--help"] or "--store URL" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


@step
def numbers(n: int, ctx: StepContext) -> list[int]:
    ctx.logger.info("making %d numbers", n)
    ctx.logger.warning("second line")
    return list(range(n))


def test_runs_fit_80_columns_with_whole_run_ids(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'm.db'}"
    p = Pipeline("a-pipeline-with-a-long-name", context=context(n=3)).add_step(numbers)
    ids = [p.run(store=store, artifacts=str(tmp_path / "a")).run_id for _ in range(2)]
    result = runner.invoke(app, ["runs", "--store", store], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    for run_id in ids:
        assert any(run_id in line for line in lines)
    assert "a-pipeline-with-a-long-name" in result.output


def test_runs_filter_by_tag_and_show_tags(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'm.db'}"
    p = Pipeline("tagged", context=context(n=1), tags=["nightly"]).add_step(numbers)
    marked = p.run(store=store, artifacts=str(tmp_path / "a"), tags=["candidate"]).run_id
    other = p.run(store=store, artifacts=str(tmp_path / "a")).run_id
    wide = runner.invoke(
        app, ["runs", "--store", store, "--tag", "candidate"], env={"COLUMNS": "120"}
    )
    assert wide.exit_code == 0, wide.output
    assert marked in wide.output and other not in wide.output
    assert "tagged [nightly, candidate]" in wide.output
    both = runner.invoke(app, ["runs", "--store", store, "--tag", "nightly"], env={"COLUMNS": "80"})
    assert marked in both.output and other in both.output
    none = runner.invoke(app, ["runs", "--store", store, "--tag", "missing"])
    assert none.exit_code == 0 and none.output == "no runs\n"


def test_logs_of_a_run(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'm.db'}"
    p = Pipeline("logs", context=context(n=3)).add_step(numbers)
    run_id = p.run(store=store, artifacts=str(tmp_path / "a")).run_id
    result = runner.invoke(app, ["logs", run_id, "--store", store])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("numbers INFO    flowyml.step.numbers: making 3 numbers")
    assert "WARNING" in lines[1] and lines[1].endswith("second line")
    assert runner.invoke(app, ["logs", run_id, "other", "--store", store]).output == ""
    missing = runner.invoke(app, ["logs", "nope", "--store", store])
    assert missing.exit_code == 1 and "no run 'nope'" in missing.output


def test_logs_follow_until_the_run_ends(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'm.db'}"
    started, release = threading.Event(), threading.Event()

    @step
    def slow(ctx: StepContext) -> int:
        ctx.logger.info("first")
        started.set()
        release.wait(10)
        ctx.logger.info("last")
        return 1

    p = Pipeline("follow").add_step(slow)
    rid = new_run_id()
    box: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: box.update(
            result=p.run(run_id=rid, store=store, artifacts=str(tmp_path / "a"))
        )
    )
    worker.start()
    try:
        assert started.wait(10)
        anyio.run(_stored, store, rid)
        threading.Timer(0.3, release.set).start()
        result = runner.invoke(app, ["logs", rid, "--follow", "--store", store])
    finally:
        release.set()
        worker.join(10)
    assert result.exit_code == 0, result.output
    assert [line.rsplit(": ", 1)[1] for line in result.output.splitlines()] == ["first", "last"]


async def _stored(store: str, run_id: str) -> None:
    """Wait until the run's first line is committed (the writer commits in batches)."""
    async with Client(store=store) as client:
        with anyio.fail_after(10):
            while not await _has_lines(client, run_id):
                await anyio.sleep(0.02)


async def _has_lines(client: Client, run_id: str) -> bool:
    try:
        await client.get_run(run_id)
    except NotFoundError:
        return False
    return bool(await client.logs(run_id))


@step
def typed(
    n: int, rate: float, flag: bool, day: dt.date, tags: list[str], opt: int | None, name: str
) -> str:
    return ""


def test_params_by_annotation() -> None:
    p = Pipeline("typed").add_step(typed)
    got = parse_params(
        p,
        [
            "n=3",
            "rate=0.5",
            "flag=yes",
            "day=2026-02-03",
            'tags=["a", "b"]',
            "opt=none",
            "name=x=y",
        ],
    )
    assert got == {
        "n": 3,
        "rate": 0.5,
        "flag": True,
        "day": dt.date(2026, 2, 3),
        "tags": ["a", "b"],
        "opt": None,
        "name": "x=y",
    }


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("n=three", "parameter 'n' expects int, got 'three'"),
        ("flag=maybe", "parameter 'flag' expects bool, got 'maybe'"),
        ("day=03/02/2026", "parameter 'day' expects a date (YYYY-MM-DD)"),
        ('tags={"a": 1}', "parameter 'tags' expects list[str] (as JSON)"),
        ("tags=[1, 2]", "parameter 'tags' expects list[str] (as JSON)"),
        ("nope=1", "pipeline 'typed' has no parameter 'nope'"),
        ("n", "-p 'n': expected name=value"),
    ],
)
def test_bad_params_name_the_parameter(pair: str, message: str) -> None:
    with pytest.raises(
        ParamError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        parse_params(Pipeline("typed").add_step(typed), [pair])


PLAIN_DEMO = """
from flowyml import Pipeline, StepContext, step


@step
def first(ctx: StepContext) -> int:
    ctx.logger.info("hello")
    return 1


@step
def second(first: int, fail: bool = False) -> int:
    if fail:
        raise RuntimeError("second broke")
    return first + 1


demo = Pipeline("plain-demo", enable_cache=False).add_step(first).add_step(second)
"""


def test_run_without_a_terminal_prints_plain_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plain_demo_mod.py").write_text(PLAIN_DEMO)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOWYML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLOWYML_STORE", raising=False)
    monkeypatch.delenv("FLOWYML_SERVER_URL", raising=False)
    ok = runner.invoke(app, ["run", "plain_demo_mod:demo"])
    assert ok.exit_code == 0, ok.output
    lines = ok.output.splitlines()
    assert lines[0].startswith("first succeeded in ") and lines[1].startswith("second succeeded")
    assert "succeeded" in lines[-1] and "dashboard" not in ok.output
    failed = runner.invoke(app, ["run", "plain_demo_mod:demo", "-p", "fail=1"])
    assert failed.exit_code == 1, failed.output
    assert "second failed in" in failed.output and "RuntimeError: second broke" in failed.output
