"""The ``flowyml`` command: ``runs``, ``cache clear`` and ``ui`` (uvicorn replaced)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from flowyml.cli import _main
from flowyml.cli._main import app, is_loopback, load_pipeline

from .conftest import quick

runner = CliRunner()


def test_runs_and_cache_clear(urls: tuple[str, str]) -> None:
    store, artifacts = urls
    p = quick()
    p.enable_cache = True
    first = p.run(store=store, artifacts=artifacts)
    second = p.run(store=store, artifacts=artifacts)
    assert second.step_results["load"].cached

    result = runner.invoke(app, ["runs", "--store", store], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert first.run_id in result.output and second.run_id in result.output
    assert "succeeded" in result.output

    result = runner.invoke(app, ["runs", "--store", store, "--status", "failed"])
    assert result.exit_code == 0
    assert "no runs" in result.output
    result = runner.invoke(app, ["runs", "--store", store, "--pipeline", "other"])
    assert "no runs" in result.output
    result = runner.invoke(app, ["runs", "--store", store, "--limit", "1"], env={"COLUMNS": "200"})
    assert second.run_id in result.output and first.run_id not in result.output
    result = runner.invoke(app, ["runs", "--store", store, "--status", "bogus"])
    assert result.exit_code != 0

    result = runner.invoke(app, ["cache", "clear", "--store", store, "--step", "total"])
    assert result.exit_code == 0, result.output
    assert "cleared 1 cache entry" in result.output
    result = runner.invoke(app, ["cache", "clear", "--store", store])
    assert "cleared 2 cache entries" in result.output
    third = p.run(store=store, artifacts=artifacts)
    assert not third.step_results["load"].cached


def test_runs_uses_the_configured_default(flowyml_home: Path) -> None:
    quick().run()
    result = runner.invoke(app, ["runs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "quick" in result.output
    assert (flowyml_home / "metadata.db").exists()


def test_runs_reports_a_bad_store() -> None:
    result = runner.invoke(app, ["runs", "--store", "nosuch://x"])
    assert result.exit_code == 1
    assert "nosuch" in result.output


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what ``flowyml ui`` would serve instead of serving it."""
    calls: list[dict[str, Any]] = []

    def fake_run(self: uvicorn.Server, sockets: Any = None) -> None:
        config = self.config
        calls.append({"app": config.app, "host": config.host, "port": config.port})

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    return calls


def test_ui_defaults_to_loopback(served: list[dict[str, Any]], urls: tuple[str, str]) -> None:
    result = runner.invoke(app, ["ui", "--store", urls[0]])
    assert result.exit_code == 0, result.output
    assert served[0]["host"] == "127.0.0.1" and served[0]["port"] == 8080
    assert "WARNING" not in result.output
    assert served[0]["app"].state.flowyml.pipelines == {}


def test_ui_warns_loudly_on_a_public_address(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["ui", "--host", "0.0.0.0", "--port", "9000"])
    assert result.exit_code == 0
    assert "WARNING" in result.output and "FLOWYML_API_TOKEN" in result.output
    assert served[0]["host"] == "0.0.0.0" and served[0]["port"] == 9000
    monkeypatch.setenv("FLOWYML_API_TOKEN", "t")
    result = runner.invoke(app, ["ui", "--host", "0.0.0.0"])
    assert "WARNING" not in result.output


def test_ui_registers_pipelines(
    served: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_jobs.py").write_text(
        "from flowyml import pipeline, step\n"
        "@step\n"
        "def one() -> int:\n"
        "    return 1\n"
        "@pipeline\n"
        "def job():\n"
        "    return one()\n"
        "not_a_pipeline = 3\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    result = runner.invoke(app, ["ui", "--pipeline", "my_jobs:job"])
    assert result.exit_code == 0, result.output
    assert list(served[0]["app"].state.flowyml.pipelines) == ["job"]
    for bad, message in [
        ("my_jobs", "module:attribute"),
        ("no_such_module:job", "cannot import"),
        ("my_jobs:nope", "no attribute"),
        ("my_jobs:not_a_pipeline", "not a flowyml Pipeline"),
    ]:
        result = runner.invoke(app, ["ui", "-p", bad])
        assert result.exit_code != 0, bad
        assert message in result.output, (bad, result.output)


def test_helpers() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    with pytest.raises(Exception, match="module:attribute"):
        load_pipeline("x")
    assert _main.main.__doc__
