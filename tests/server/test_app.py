"""Building apps and routers: exports, configuration errors, lifecycle."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

import flowyml.server
from flowyml import Pipeline, step
from flowyml.errors import ConfigError, PipelineBuildError
from flowyml.server import FlowymlServer, flowyml_router

from .conftest import FAST, api, make_app, quick


def test_exports() -> None:
    names = flowyml.server.__all__
    assert list(names) == sorted(names)
    assert {"create_app", "flowyml_router"} <= set(names)
    for name in names:
        assert getattr(flowyml.server, name).__doc__, name


def test_pipelines_are_checked_when_the_router_is_built(urls: tuple[str, str]) -> None:
    with pytest.raises(ConfigError, match="'quick'"):
        make_app(urls, [quick(), quick()])

    @step
    def a(b: int) -> int:
        return b

    @step
    def b(a: int) -> int:
        return a

    cyclic = Pipeline("cyclic").add_step(a, inputs={"b": "b"}).add_step(b, inputs={"a": "a"})
    with pytest.raises(PipelineBuildError, match="cycle"):
        make_app(urls, [cyclic])


async def test_without_its_lifespan_the_api_answers_503(urls: tuple[str, str]) -> None:
    app = make_app(urls)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/api/runs")
    assert r.status_code == 503
    assert "lifespan" in r.json()["detail"]


async def test_a_server_runs_once_at_a_time(urls: tuple[str, str]) -> None:
    app = make_app(urls)
    server: FlowymlServer = app.state.flowyml
    async with api(app):
        with pytest.raises(RuntimeError, match="already running"):
            async with server.running():
                pass  # pragma: no cover
    # ... and can be started again after it stopped.
    async with api(app) as c:
        assert (await c.get("/api/health")).status_code == 200


async def test_router_without_prefix_and_without_dashboard(urls: tuple[str, str]) -> None:
    host = FastAPI()
    host.include_router(
        flowyml_router(store=urls[0], artifacts=urls[1], dashboard=False, options=FAST)
    )

    @host.get("/")
    async def home() -> dict[str, str]:
        return {"home": "mine"}

    async with api(host) as c:
        assert (await c.get("/api/health")).json()["status"] == "ok"
        assert (await c.get("/")).json() == {"home": "mine"}
        assert (await c.get("/runs/x")).status_code == 404
