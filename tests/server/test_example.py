"""examples/fastapi_service.py: POST /jobs answers at once; the run is followed live."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from httpx_sse import aconnect_sse

from .conftest import serve

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_service.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_service_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_example_service_triggers_and_streams() -> None:
    example = load_example()
    async with serve(example.app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.post("/jobs", json={"text": "b a b c b a"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["events"] == f"/flowyml/api/runs/{job['run_id']}/events"
        async with aconnect_sse(c, "GET", job["events"]) as source:
            kinds = [e.event async for e in source.aiter_sse() if e.event != "message"]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
        assert kinds.count("step_succeeded") == 3
        run = (await c.get(f"/flowyml/api/runs/{job['run_id']}")).json()
        assert run["run"]["status"] == "succeeded"
        arts = (await c.get("/flowyml/api/artifacts", params={"name": "summarize"})).json()
        preview = (await c.get(f"/flowyml/api/artifacts/{arts['items'][0]['id']}")).json()
        assert preview["preview"] == {
            "kind": "text",
            "content": "b x3, a x2, c x1",
            "truncated": False,
        }
        page = await c.get(job["dashboard"])
        assert page.status_code == 200 and '<base href="/flowyml/">' in page.text
