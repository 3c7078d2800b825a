"""Compression: JSON answers when the client accepts it, pre-compressed dashboard assets,
and never an event stream."""

from __future__ import annotations

import gzip
from pathlib import Path

import anyio
import httpx
from fastapi import APIRouter, FastAPI

from flowyml.server import ServerOptions
from flowyml.server._static import add_static_routes

from .conftest import make_app, quick, serve


async def test_json_is_gzipped_when_accepted_and_streams_never(urls: tuple[str, str]) -> None:
    app = make_app(urls, options=ServerOptions(ping_interval=0.2))
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        zipped = await c.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.num_bytes_downloaded < len(zipped.content) / 3
        plain = await c.get("/openapi.json", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.json() == zipped.json()
        headers = {"Accept-Encoding": "gzip, br"}
        await quick().arun(store=urls[0], artifacts=urls[1], n=2000)
        artifacts = (await c.get("/api/artifacts", params={"name": "load"})).json()["items"]
        content = await c.get(f"/api/artifacts/{artifacts[0]['id']}/content", headers=headers)
        assert content.status_code == 200 and len(content.content) > 1024
        assert "content-encoding" not in content.headers  # artifact bytes go as they are
        async with c.stream("GET", "/api/events", headers=headers) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in r.headers
            with anyio.fail_after(5):
                async for line in r.aiter_lines():
                    if line.startswith(":"):  # a ping arrives as it is sent
                        break


async def test_dashboard_assets_are_served_precompressed(tmp_path: Path) -> None:
    script = b"console.log('flowyml');\n" * 200
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "app.js").write_bytes(script)
    (assets / "app.js.gz").write_bytes(gzip.compress(script))
    (assets / "app.js.br").write_bytes(b"brotli bytes stand-in")
    (assets / "plain.css").write_bytes(b"body { color: red }")
    (tmp_path / "index.html").write_text("<html><head></head></html>")
    pages = APIRouter()
    add_static_routes(pages, tmp_path)
    app = FastAPI()
    app.include_router(pages)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        br = await c.get("/assets/app.js", headers={"Accept-Encoding": "gzip, br"})
        assert br.headers["content-encoding"] == "br"
        assert br.headers["content-type"].startswith("text/javascript")
        assert br.headers["vary"] == "Accept-Encoding"
        async with c.stream("GET", "/assets/app.js", headers={"Accept-Encoding": "gzip"}) as gz:
            assert gz.headers["content-encoding"] == "gzip"
            raw = b"".join([chunk async for chunk in gz.aiter_raw()])
        assert raw == (assets / "app.js.gz").read_bytes()
        assert gzip.decompress(raw) == script
        no_br = await c.get("/assets/app.js", headers={"Accept-Encoding": "br;q=0, gzip"})
        assert no_br.headers["content-encoding"] == "gzip" and no_br.content == script
        plain = await c.get("/assets/app.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == script
        css = await c.get("/assets/plain.css", headers={"Accept-Encoding": "gzip, br"})
        assert "content-encoding" not in css.headers and css.content == b"body { color: red }"
