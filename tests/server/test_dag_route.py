"""``GET /api/runs/{id}/dag``: encoded once, sent gzipped, revalidated, frozen once a run ends."""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

from fastapi import FastAPI

from flowyml.events import Event, RunFinished, RunStarted
from flowyml.server import FlowymlServer, flowyml_router
from flowyml.storage._records import PipelineRecord

from .conftest import api, make_app


def chain(n: int, prefix: str = "s") -> dict[str, Any]:
    names = [f"{prefix}{i}" for i in range(n)]
    return {
        "pipeline": "p",
        "nodes": [{"id": x, "name": x, "inputs": [], "outputs": [x]} for x in names],
        "edges": [{"source": a, "target": b, "name": a} for a, b in pairwise(names)],
    }


def nodes(dag: dict[str, Any]) -> list[str]:
    return [n["id"] for n in dag["nodes"]]


async def record(
    server: FlowymlServer, dag: dict[str, Any], version: str, *runs: tuple[str, bool]
) -> None:
    """Save ``dag`` as pipeline ``p`` at ``version``; start (and maybe finish) ``runs``."""
    now = time.time()
    await server.store.save_pipeline(
        PipelineRecord(name="p", dag=dag, code_version=version, created_at=now, updated_at=now)
    )
    events: list[Event] = []
    for run_id, finished in runs:
        events.append(RunStarted(run_id=run_id, ts=now, pipeline="p"))
        if finished:
            events.append(RunFinished(run_id=run_id, ts=now, status="succeeded"))
    if events:
        await server.store.append_events(events)


async def test_the_dag_goes_gzipped_or_plain_and_revalidates(urls: tuple[str, str]) -> None:
    app = make_app(urls)
    async with api(app) as c:
        dag = chain(3000)
        await record(app.state.flowyml, dag, "v1", ("r1", True))
        zipped = await c.get("/api/runs/r1/dag", headers={"Accept-Encoding": "gzip"})
        assert zipped.status_code == 200
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["content-type"] == "application/json"
        assert zipped.num_bytes_downloaded < len(zipped.content) / 5
        assert zipped.json() == dag
        plain = await c.get("/api/runs/r1/dag", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.json() == dag
        etag = zipped.headers["etag"]
        assert plain.headers["etag"] == etag and zipped.headers["vary"] == "Accept-Encoding"
        again = await c.get("/api/runs/r1/dag", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        # the graph alone: what drawing needs, a fraction of the bytes, its own entity tag
        graph = await c.get("/api/runs/r1/dag", params={"graph": "true"})
        assert graph.json()["edges"] == dag["edges"]
        assert graph.json()["nodes"][5] == {"id": "s5", "name": "s5", "outputs": ["s5"]}
        assert len(graph.content) < len(plain.content)
        assert graph.headers["etag"] != etag
        # the run's answer says how big the DAG is and leaves it out
        detail = (await c.get("/api/runs/r1")).json()
        assert detail["dag"] is None and detail["dag_size"] == 3000


async def test_a_finished_run_keeps_its_dag_and_a_running_one_follows(
    urls: tuple[str, str],
) -> None:
    app = make_app(urls)
    async with api(app) as c:
        server = app.state.flowyml
        first, second = chain(3, "a"), chain(4, "b")
        await record(server, first, "v1", ("done", True), ("live", False))
        assert (await c.get("/api/runs/done/dag")).json() == first
        assert nodes((await c.get("/api/runs/live")).json()["dag"]) == ["a0", "a1", "a2"]
        # the pipeline is recorded again with other steps (a new version of its code)
        await record(server, second, "v2", ("later", True))
        assert (await c.get("/api/runs/done/dag")).json() == first
        assert nodes((await c.get("/api/runs/done")).json()["dag"]) == ["a0", "a1", "a2"]
        assert (await c.get("/api/runs/live/dag")).json() == second
        assert nodes((await c.get("/api/runs/later")).json()["dag"]) == ["b0", "b1", "b2", "b3"]
        missing = await c.get("/api/runs/nope/dag")
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_an_embedded_router_gzips_the_dag_itself(urls: tuple[str, str]) -> None:
    router = flowyml_router(store=urls[0], artifacts=urls[1], dashboard=False)
    app = FastAPI()  # no GZipMiddleware: the host application did not add one
    app.include_router(router, prefix="/flowyml")
    async with api(app) as c:
        await record(router.server, chain(2000), "v1", ("r", True))
        r = await c.get("/flowyml/api/runs/r/dag", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert len(r.json()["nodes"]) == 2000
