"""With a token, every API route (SSE included) answers 401 without it."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from .conftest import make_app, quick, serve

TOKEN = "s3cret-token"


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI schema, path parameters filled in."""
    paths = app.openapi()["paths"].items()
    return [(m.upper(), re.sub(r"\{[^}]+\}", "x", path)) for path, item in paths for m in item]


async def status_of(c: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> int:
    """The status code, without reading a (possibly endless) body."""
    async with c.stream(method, url, **kwargs) as r:  # type: ignore[arg-type]
        return r.status_code


@pytest.mark.parametrize("from_env", [False, True])
async def test_every_route_needs_the_token(
    urls: tuple[str, str], monkeypatch: pytest.MonkeyPatch, from_env: bool
) -> None:
    if from_env:
        monkeypatch.setenv("FLOWYML_API_TOKEN", TOKEN)
        app = make_app(urls, [quick()])
    else:
        app = make_app(urls, [quick()], token=TOKEN)
    routes = api_routes(app)
    assert len(routes) == 18
    assert ("GET", "/api/events") in routes
    assert ("GET", "/api/runs/x/events") in routes
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        for method, path in routes:
            assert await status_of(c, method, path) == 401, (method, path)
            wrong = {"Authorization": "Bearer nope"}
            assert await status_of(c, method, path, headers=wrong) == 401, (method, path)
            basic = {"Authorization": f"Basic {TOKEN}"}
            assert await status_of(c, method, path, headers=basic) == 401, (method, path)
            good = {"Authorization": f"Bearer {TOKEN}"}
            assert await status_of(c, method, path, headers=good) != 401, (method, path)
            query = await status_of(c, method, path, params={"token": TOKEN})
            if path.endswith("/events"):
                assert query != 401, path  # EventSource cannot send headers
            else:
                assert query == 401, path
        r = await c.get("/api/health")
        assert r.headers["www-authenticate"] == "Bearer"
        assert "FLOWYML_API_TOKEN" in r.json()["detail"]
        assert (await c.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})).json()[
            "status"
        ] == "ok"
        assert await status_of(c, "GET", "/api/events", params={"token": TOKEN}) == 200
        # The dashboard itself needs no token.
        assert (await c.get("/")).status_code == 200
        assert (await c.get("/runs/abc")).status_code == 200


async def test_no_token_no_auth_and_cors_off_by_default(urls: tuple[str, str]) -> None:
    app = make_app(urls)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.get("/api/health", headers={"Origin": "http://evil.example"})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers


async def test_cors_when_configured(urls: tuple[str, str]) -> None:
    app = make_app(urls, cors_origins=["http://ui.example"])
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.get("/api/health", headers={"Origin": "http://ui.example"})
        assert r.headers["access-control-allow-origin"] == "http://ui.example"
        r = await c.get("/api/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
