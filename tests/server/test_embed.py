"""The router inside someone else's FastAPI app, and the dashboard's static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from flowyml.server import FlowymlGuard, ServerOptions, flowyml_router

from . import conftest
from .conftest import FAST, api, quick

INDEX = """<!doctype html><html><head>
<!-- the server rewrites <base href="/"> below -->
<base href="/" /><script type="module" src="./assets/app.js"></script></head>
<body></body></html>"""


@pytest.fixture
def static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dashboard build with an index and one asset."""
    folder = tmp_path / "static"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "app.js").write_text("console.log('flowyml')")
    (tmp_path / "secret.txt").write_text("not for you")
    monkeypatch.setattr("flowyml.server._static.STATIC_DIR", folder)
    return folder


async def test_router_in_another_app(urls: tuple[str, str], static: Path) -> None:
    started: list[str] = []

    @asynccontextmanager
    async def own_lifespan(app: FastAPI) -> AsyncIterator[None]:
        started.append("host")
        yield
        started.append("host stopped")

    host = FastAPI(lifespan=own_lifespan)

    @host.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    router = flowyml_router(store=urls[0], artifacts=urls[1], pipelines=[quick()], options=FAST)
    host.include_router(router, prefix="/flowyml")

    async with api(host) as c:
        assert started == ["host"]
        assert (await c.get("/hello")).json() == {"hello": "world"}
        assert (await c.get("/flowyml/api/health")).json()["status"] == "ok"
        r = await c.post("/flowyml/api/pipelines/quick/runs", json={"params": {"n": 2}})
        assert r.status_code == 202
        run_id = r.json()["run_id"]
        assert (await c.get(f"/flowyml/api/runs/{run_id}")).status_code == 200
        assert router.server.store_url == urls[0]

        deep = await c.get(f"/flowyml/runs/{run_id}")
        assert deep.status_code == 200
        assert deep.headers["content-type"].startswith("text/html")
        assert '<base href="/flowyml/">' in deep.text
        assert '<base href="/" />' not in deep.text
        assert (await c.get("/flowyml/")).text == deep.text
        asset = await c.get("/flowyml/assets/app.js")
        assert asset.text == "console.log('flowyml')"
        assert "immutable" in asset.headers["cache-control"]
        assert (await c.get("/flowyml/assets/missing.js")).status_code == 404
        missing_api = await c.get("/flowyml/api/nope")
        assert missing_api.status_code == 404
        assert "detail" in missing_api.json()
        # Outside the prefix the host app answers as usual.
        assert (await c.get("/elsewhere")).status_code == 404
        bare = await c.get("/flowyml")
        assert bare.status_code in (307, 308)
        assert bare.headers["location"].endswith("/flowyml/")
    assert started == ["host", "host stopped"]


async def test_root_path_and_prefix_make_the_base(urls: tuple[str, str], static: Path) -> None:
    host = FastAPI()
    host.include_router(
        flowyml_router(store=urls[0], artifacts=urls[1], options=FAST), prefix="/ml"
    )
    async with host.router.lifespan_context(host):
        transport = httpx.ASGITransport(app=host, root_path="/proxy")
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/proxy/ml/artifacts/abc")
            assert '<base href="/proxy/ml/">' in r.text


async def test_standalone_dashboard_and_no_escape(urls: tuple[str, str], static: Path) -> None:
    async with api(conftest.make_app(urls)) as c:
        r = await c.get("/pipelines/some-name")
        assert '<base href="/">' in r.text
        for sneaky in ("/..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt", "/%2e%2e/secret.txt"):
            r = await c.get(sneaky)
            assert "not for you" not in r.text
        r = await c.head("/")
        assert r.status_code == 200


async def test_dashboard_not_built(
    urls: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flowyml.server._static.STATIC_DIR", tmp_path / "empty")
    async with api(conftest.make_app(urls)) as c:
        r = await c.get("/runs/abc")
    assert r.status_code == 200
    assert "npm --prefix web ci &amp;&amp; npm --prefix web run build" in r.text
    assert '<base href="/">' in r.text and 'href="api/health"' in r.text


async def test_embedded_router_with_the_guard(urls: tuple[str, str]) -> None:
    router = flowyml_router(
        store=urls[0],
        artifacts=urls[1],
        pipelines=[quick()],
        token="t0ken",
        options=ServerOptions(max_body_bytes=1000),
    )
    host = FastAPI()

    @host.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    host.include_router(router, prefix="/flowyml")
    host.add_middleware(FlowymlGuard, router=router, prefix="/flowyml")
    path = "/flowyml/api/pipelines/quick/runs"
    json_type = {"Content-Type": "application/json"}
    async with conftest.serve(host) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        assert (await c.post(path, content=b"{bad", headers=json_type)).status_code == 401
        bearer = {"Authorization": "Bearer t0ken", **json_type}
        big = b'{"params": {"n": "' + b"9" * 2000 + b'"}}'
        assert (await c.post(path, content=big, headers=bearer)).status_code == 413
        r = await c.post(path, json={"params": {"n": 2}}, headers=bearer)
        assert r.status_code == 202, r.text
        # The host's own routes keep their rules: no token, no flowyml body limit.
        assert (await c.post("/upload", content=b"u" * 5000)).json() == {"size": 5000}
        # Without the guard in front, the router's own dependency still refuses.
        bare = FastAPI()
        inner = flowyml_router(store=urls[0], artifacts=urls[1], token="t0ken", dashboard=False)
        bare.include_router(inner)
        async with api(bare) as local:
            assert (await local.get("/api/health")).status_code == 401
            ok = await local.get("/api/health", headers={"Authorization": "Bearer t0ken"})
            assert ok.status_code == 200
