"""REST routes over httpx's ASGI transport, against a real SQLite store."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

import anyio
import httpx
import pandas as pd

from flowyml import Pipeline, step
from flowyml.events import RunStarted
from flowyml.storage.metadata import open_metadata_store

from .conftest import Gates, api, chain, make_app, quick, wait_for


async def finished(c: httpx.AsyncClient, run_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """Wait until the run is no longer running; return its detail."""
    with anyio.fail_after(timeout):
        while True:
            r = await c.get(f"/api/runs/{run_id}")
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["run"]["status"] != "running":
                return body
            await anyio.sleep(0.01)


async def test_health(urls: tuple[str, str]) -> None:
    async with api(make_app(urls)) as c:
        r = await c.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["store"] == urls[0]


async def test_trigger_run_and_read_everything_back(urls: tuple[str, str]) -> None:
    async with api(make_app(urls, [quick()])) as c:
        r = await c.post("/api/pipelines/quick/runs", json={"params": {"n": 4}})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        # The run is recorded before the answer: it is found at once.
        assert (await c.get(f"/api/runs/{run_id}")).status_code == 200
        detail = await finished(c, run_id)
        assert detail["run"]["status"] == "succeeded"
        assert detail["run"]["params"] == {"n": 4}
        assert {s["step"]: s["status"] for s in detail["steps"]} == {
            "load": "succeeded",
            "total": "succeeded",
            "describe": "succeeded",
        }
        assert {n["id"] for n in detail["dag"]["nodes"]} == {"load", "total", "describe"}
        assert {(e["source"], e["target"]) for e in detail["dag"]["edges"]} == {
            ("load", "total"),
            ("load", "describe"),
        }

        step = (await c.get(f"/api/runs/{run_id}/steps/total")).json()
        assert step["step"]["status"] == "succeeded"
        assert [a["name"] for a in step["inputs"]] == ["load"]
        assert [a["name"] for a in step["outputs"]] == ["total"]
        total_id = step["outputs"][0]["id"]
        load_id = step["inputs"][0]["id"]

        art = (await c.get(f"/api/artifacts/{total_id}")).json()
        assert art["preview"] == {"kind": "json", "content": 6, "truncated": False}
        content = await c.get(f"/api/artifacts/{total_id}/content")
        assert content.status_code == 200
        assert content.headers["content-type"] == "application/octet-stream"
        assert content.content == b"6"

        lineage = (await c.get(f"/api/artifacts/{load_id}/lineage")).json()
        assert lineage["producer"]["step"] == "load"
        assert sorted(s["step"] for s in lineage["consumers"]) == ["describe", "total"]
        assert sorted(a["name"] for a in lineage["derived"]) == ["describe", "total"]
        up = (await c.get(f"/api/artifacts/{total_id}/lineage")).json()
        assert [a["id"] for a in up["inputs"]] == [load_id]

        listed = (await c.get("/api/artifacts", params={"run_id": run_id})).json()["items"]
        assert sorted(a["name"] for a in listed) == ["describe", "load", "total"]
        only = (await c.get("/api/artifacts", params={"run_id": run_id, "name": "load"})).json()
        assert [a["id"] for a in only["items"]] == [load_id]

        pipelines = (await c.get("/api/pipelines")).json()["items"]
        assert [p["name"] for p in pipelines] == ["quick"]
        assert pipelines[0]["registered"] is True
        assert pipelines[0]["params"] == {"n": 3}
        assert pipelines[0]["last_run"]["run_id"] == run_id
        one = (await c.get("/api/pipelines/quick")).json()
        assert one["registered"] is True
        assert [r["run_id"] for r in one["recent_runs"]] == [run_id]
        assert {n["id"] for n in one["dag"]["nodes"]} == {"load", "total", "describe"}


async def test_trigger_errors(urls: tuple[str, str]) -> None:
    @step
    def need(x: int) -> int:
        return x

    needy = Pipeline("needy").add_step(need)
    # A pipeline recorded in the store but not registered with the server.
    other = quick("other")
    await other.arun(store=urls[0], artifacts=urls[1])
    async with api(make_app(urls, [quick(), needy])) as c:
        r = await c.post("/api/pipelines/nope/runs", json={})
        assert r.status_code == 404
        assert "not registered" in r.json()["detail"]
        r = await c.post("/api/pipelines/other/runs", json={})
        assert r.status_code == 404
        r = await c.post("/api/pipelines/quick/runs", json={"params": {"m": 1}})
        assert r.status_code == 422
        assert "'m'" in r.json()["detail"] and "n" in r.json()["detail"]
        r = await c.post("/api/pipelines/quick/runs", json={"params": 5})
        assert r.status_code == 422
        assert isinstance(r.json()["detail"], str)
        r = await c.post("/api/pipelines/quick/runs", json={"params": {}, "extra": 1})
        assert r.status_code == 422
        r = await c.post("/api/pipelines/needy/runs", json={})
        assert r.status_code == 422
        assert "'x'" in r.json()["detail"]
        pipes = {p["name"]: p for p in (await c.get("/api/pipelines")).json()["items"]}
        assert pipes["needy"]["params"] == {"x": None}
        assert pipes["other"]["registered"] is False
        assert pipes["other"]["params"] == {"n": None}
        r = await c.post("/api/pipelines/needy/runs", json={"params": {"x": 2}})
        assert r.status_code == 202
        assert (await finished(c, r.json()["run_id"]))["run"]["status"] == "succeeded"
        # Without a body, the defaults are used.
        r = await c.post("/api/pipelines/quick/runs")
        assert r.status_code == 202
        assert (await finished(c, r.json()["run_id"]))["run"]["params"] == {"n": 3}


async def test_run_list_filters_and_pages(urls: tuple[str, str]) -> None:
    async with api(make_app(urls, [quick(), quick("second")])) as c:
        ids = []
        for name in ("quick", "quick", "second"):
            r = await c.post(f"/api/pipelines/{name}/runs", json={})
            ids.append(r.json()["run_id"])
            await finished(c, ids[-1])
        page = (await c.get("/api/runs", params={"limit": 2})).json()
        assert [r["run_id"] for r in page["items"]] == [ids[2], ids[1]]
        assert page["next_cursor"] is not None
        rest = (await c.get("/api/runs", params={"limit": 2, "cursor": page["next_cursor"]})).json()
        assert [r["run_id"] for r in rest["items"]] == [ids[0]]
        assert rest["next_cursor"] is None
        quick_runs = (await c.get("/api/runs", params={"pipeline": "quick"})).json()["items"]
        assert [r["run_id"] for r in quick_runs] == [ids[1], ids[0]]
        ok = (await c.get("/api/runs", params={"status": "succeeded"})).json()["items"]
        assert len(ok) == 3
        assert (await c.get("/api/runs", params={"status": "failed"})).json()["items"] == []
        later = (await c.get("/api/runs", params={"since": time.time() + 60})).json()
        assert later["items"] == []
        for bad in ({"status": "bogus"}, {"limit": 0}, {"limit": 10**6}, {"cursor": -1}):
            r = await c.get("/api/runs", params=bad)
            assert r.status_code == 422, bad
            assert r.json()["detail"].startswith("invalid request: query parameter")


async def test_not_found(urls: tuple[str, str]) -> None:
    async with api(make_app(urls)) as c:
        for path in (
            "/api/runs/nope",
            "/api/runs/nope/steps/x",
            "/api/runs/nope/events",
            "/api/pipelines/nope",
            "/api/artifacts/nope",
            "/api/artifacts/nope/content",
            "/api/artifacts/nope/lineage",
            "/api/nope",
        ):
            r = await c.get(path)
            assert r.status_code == 404, path
            assert isinstance(r.json()["detail"], str)
        r = await c.post("/api/runs/nope/cancel")
        assert r.status_code == 404


class Tripwire:
    """Unpickling one of these would append to ``LOADED``: previews must never do it."""

    LOADED: ClassVar[list[int]] = []

    def __setstate__(self, state: dict[str, Any]) -> None:
        Tripwire.LOADED.append(1)
        self.__dict__.update(state)


async def test_previews_are_safe_and_truncated(urls: tuple[str, str]) -> None:
    @step(outputs=["table", "text", "obj", "big", "blob"])
    def make() -> tuple[Any, ...]:
        frame = pd.DataFrame({"a": list(range(50)), "b": [f"r{i}" for i in range(50)]})
        return frame, "héllo " * 20_000, Tripwire(), list(range(5000)), os.urandom(3 << 20)

    p = Pipeline("kinds", enable_cache=False).add_step(make)
    async with api(make_app(urls, [p])) as c:
        run_id = (await c.post("/api/pipelines/kinds/runs", json={})).json()["run_id"]
        await finished(c, run_id, timeout=10)
        arts = {
            a["name"]: a for a in (await c.get(f"/api/artifacts?run_id={run_id}")).json()["items"]
        }

        async def preview(name: str) -> dict[str, Any]:
            r = await c.get(f"/api/artifacts/{arts[name]['id']}")
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()["preview"]
            return body

        table = await preview("table")
        assert table["kind"] == "table"
        assert table["content"]["columns"][:2] == ["a", "b"]
        assert table["content"]["rows"][0][:2] == [0, "r0"]
        assert len(table["content"]["rows"]) == 20
        assert table["content"]["total_rows"] == 50
        assert table["truncated"] is True

        text = await preview("text")
        assert text["kind"] == "text" and text["truncated"] is True
        assert text["content"].startswith("héllo ")
        assert len(text["content"].encode()) <= 64 * 1024

        obj = await preview("obj")
        assert obj["kind"] == "binary"
        assert obj["content"]["size"] == arts["obj"]["size"]
        assert Tripwire.LOADED == []

        big = await preview("big")
        assert big["kind"] == "json" and big["truncated"] is True
        assert big["content"] == list(range(100))

        blob = await preview("blob")
        assert blob["kind"] == "binary"
        r = await c.get(f"/api/artifacts/{arts['blob']['id']}/content")
        assert r.status_code == 200
        assert len(r.content) == 3 << 20
        assert arts["blob"]["size"] == 3 << 20


async def test_missing_bytes_answer_404(urls: tuple[str, str], tmp_path: Path) -> None:
    async with api(make_app(urls, [quick()])) as c:
        # 2,000 numbers serialise to more than the inline limit: the list is a file
        body = {"params": {"n": 2000}}
        run_id = (await c.post("/api/pipelines/quick/runs", json=body)).json()["run_id"]
        await finished(c, run_id)
        art = (await c.get(f"/api/artifacts?run_id={run_id}&name=load")).json()["items"][0]
        assert not art["uri"].startswith("data:")
        for blob in (tmp_path / "artifacts").rglob("*"):
            if blob.is_file() and blob.name == art["content_hash"]:
                blob.unlink()
        r = await c.get(f"/api/artifacts/{art['id']}/content")
        assert r.status_code == 404
        assert "missing" in r.json()["detail"]
        r = await c.get(f"/api/artifacts/{art['id']}")
        assert r.status_code == 200
        assert r.json()["preview"]["kind"] == "binary"


async def test_cancel_through_the_api(urls: tuple[str, str]) -> None:
    gates = Gates(2)
    async with api(make_app(urls, [chain("blocked", gates)])) as c:
        run_id = (await c.post("/api/pipelines/blocked/runs", json={})).json()["run_id"]
        with anyio.fail_after(5):
            await gates.entered[0].wait()
        t0 = time.perf_counter()
        r = await c.post(f"/api/runs/{run_id}/cancel")
        assert r.status_code == 202
        assert r.json() == {"run_id": run_id, "status": "cancelling"}
        detail = await finished(c, run_id, timeout=1.0)
        assert time.perf_counter() - t0 < 1.0
        assert detail["run"]["status"] == "cancelled"
        assert {s["step"]: s["status"] for s in detail["steps"]}["s0"] in ("cancelled", "skipped")
        r = await c.post(f"/api/runs/{run_id}/cancel")
        assert r.status_code == 409
        assert "already finished" in r.json()["detail"]


async def test_cancel_of_a_run_of_another_process_is_409(urls: tuple[str, str]) -> None:
    async with api(make_app(urls)) as c:
        store = open_metadata_store(urls[0])
        await store.open()
        try:
            await store.append_events(
                [RunStarted(run_id="elsewhere", ts=time.time(), pipeline="x", pid=os.getpid())]
            )
        finally:
            await store.aclose()
        r = await c.post("/api/runs/elsewhere/cancel")
        assert r.status_code == 409
        assert "another process" in r.json()["detail"]


async def test_server_state_is_reachable(urls: tuple[str, str]) -> None:
    app = make_app(urls, [quick()])
    async with api(app) as c:
        run_id = await app.state.flowyml.trigger("quick", {"n": 1})
        assert (await finished(c, run_id))["run"]["params"] == {"n": 1}
        await wait_for(lambda: not app.state.flowyml.is_running(run_id))
