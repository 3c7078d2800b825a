"""Run tags over the API: the trigger accepts them, runs list them, ``?tag=`` filters."""

from __future__ import annotations

import anyio
import httpx

from flowyml import Pipeline, step

from .conftest import make_app, serve


def labelled() -> Pipeline:
    @step
    def one() -> int:
        return 1

    return Pipeline("labelled", tags=["nightly"], enable_cache=False).add_step(one)


async def finished(c: httpx.AsyncClient, run_id: str) -> dict[str, object]:
    with anyio.fail_after(10):
        while True:
            run: dict[str, object] = (await c.get(f"/api/runs/{run_id}")).json()["run"]
            if run["status"] != "running":
                return run
            await anyio.sleep(0.02)


async def test_triggered_runs_carry_tags_and_the_list_filters_by_tag(
    urls: tuple[str, str],
) -> None:
    app = make_app(urls, [labelled()])
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        body = {"tags": ["candidate", "nightly"]}
        tagged = (await c.post("/api/pipelines/labelled/runs", json=body)).json()["run_id"]
        plain = (await c.post("/api/pipelines/labelled/runs", json={})).json()["run_id"]
        assert (await finished(c, tagged))["tags"] == ["nightly", "candidate"]
        assert (await finished(c, plain))["tags"] == ["nightly"]
        page = (await c.get("/api/runs", params={"tag": "candidate"})).json()
        assert [r["run_id"] for r in page["items"]] == [tagged]
        assert page["items"][0]["tags"] == ["nightly", "candidate"]
        both = (await c.get("/api/runs", params={"tag": "nightly"})).json()["items"]
        assert [r["run_id"] for r in both] == [plain, tagged]
        assert (await c.get("/api/runs", params={"tag": "other"})).json()["items"] == []
        # the pipeline page's recent runs show them too
        recent = (await c.get("/api/pipelines/labelled")).json()["recent_runs"]
        assert {tuple(r["tags"]) for r in recent} == {("nightly", "candidate"), ("nightly",)}

        bad = await c.post("/api/pipelines/labelled/runs", json={"tags": ["a,b"]})
        assert bad.status_code == 422
        assert "body field 'tags'" in bad.json()["detail"]
        assert "holds a comma" in bad.json()["detail"]
        wrong = await c.post("/api/pipelines/labelled/runs", json={"tags": "nightly"})
        assert wrong.status_code == 422 and "'tags'" in wrong.json()["detail"]
        empty = await c.get("/api/runs", params={"tag": ""})
        assert empty.status_code == 422 and "query parameter 'tag'" in empty.json()["detail"]
