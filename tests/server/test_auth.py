"""With a token, every API route (SSE included) answers 401 without it; SSE tickets."""

from __future__ import annotations

import re

import anyio
import httpx
import pytest
from fastapi import FastAPI

from flowyml.server import ServerOptions

from .conftest import make_app, quick, raw_http, serve

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
    assert len(routes) == 20  # a new route must be added here knowingly
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


async def test_401_before_the_body_is_read(urls: tuple[str, str]) -> None:
    app = make_app(urls, [quick()], token=TOKEN)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        path = "/api/pipelines/quick/runs"
        for body in (b"{not json", b'{"params": {"n": "three"}}', b"x" * 5000):
            r = await c.post(path, content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 401, body
        # A body announced as 100 MB but never sent: answered at once.
        head = f"POST {path} HTTP/1.1\nHost: x\nContent-Length: {100 << 20}\n"
        status, answer = await raw_http(base, head, timeout=5)
        assert status == 401 and b"FLOWYML_API_TOKEN" in answer
        good = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        r = await c.post(path, content=b"{not json", headers=good)
        assert r.status_code in (400, 422)
        # Unknown API paths need the token too (nothing about the API leaks without it).
        assert (await c.get("/api/nothing-here")).status_code == 401


async def test_sse_tickets_are_single_use_and_expire(urls: tuple[str, str]) -> None:
    options = ServerOptions(ping_interval=1.0, ticket_ttl=0.5)
    app = make_app(urls, token=TOKEN, options=options)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        assert (await c.post("/api/sse-tickets")).status_code == 401
        r = await c.post("/api/sse-tickets", headers=bearer)
        ticket = r.json()["ticket"]
        assert r.json()["expires_in"] == 0.5
        assert await status_of(c, "GET", "/api/events", params={"ticket": ticket}) == 200
        assert await status_of(c, "GET", "/api/events", params={"ticket": ticket}) == 401
        # Tickets open event streams only.
        other = (await c.post("/api/sse-tickets", headers=bearer)).json()["ticket"]
        assert (await c.get("/api/health", params={"ticket": other})).status_code == 401
        # ... not the detail of a run that happens to be called "events"
        assert (await c.get("/api/runs/events", params={"ticket": other})).status_code == 401
        late = (await c.post("/api/sse-tickets", headers=bearer)).json()["ticket"]
        await anyio.sleep(0.6)
        assert await status_of(c, "GET", "/api/events", params={"ticket": late}) == 401
        assert await status_of(c, "GET", "/api/events", params={"ticket": "made-up"}) == 401


async def test_cors_preflight_needs_no_token(urls: tuple[str, str]) -> None:
    app = make_app(urls, token=TOKEN, cors_origins=["http://ui.example"])
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.options(
            "/api/pipelines/quick/runs",
            headers={
                "Origin": "http://ui.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "http://ui.example"
        r = await c.get("/api/health", headers={"Origin": "http://ui.example"})
        assert r.status_code == 401
        assert r.headers["access-control-allow-origin"] == "http://ui.example"
