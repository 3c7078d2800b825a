"""``/api/pipelines``: registered and recorded pipelines, their DAGs, and triggering runs."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from fastapi import Body, Path

from ..errors import NotFoundError
from ..storage._records import PipelineRecord
from ._deps import ServerDep
from ._errors import api_router, documented
from ._schemas import (
    PipelineDetailResponse,
    PipelineListResponse,
    TriggerRunRequest,
    TriggerRunResponse,
)

__all__ = ("router",)

router = api_router()

RECENT_RUNS = 20
NAME = Path(min_length=1, max_length=500, description="The pipeline's name")


def _params_from_dag(dag: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for node in dag.get("nodes", ()):
        if isinstance(node, dict):
            for name in node.get("params", ()):
                params.setdefault(str(name), None)
    return params


@router.get("/api/pipelines", response_model=PipelineListResponse, summary="List pipelines")
async def list_pipelines(server: ServerDep) -> dict[str, Any]:
    """Pipelines recorded in the store and those registered with this server."""
    store = server.store
    records = {r.name: r for r in await store.list_pipelines()}
    names = sorted(set(records) | set(server.pipelines))
    items: dict[str, dict[str, Any]] = {}
    limiter = anyio.CapacityLimiter(8)

    async def summarise(name: str) -> None:
        async with limiter:
            page = await store.list_runs(pipeline=name, limit=1)
        rec = records.get(name)
        info = server.pipelines.get(name)
        if info is not None:
            params = dict(info.params)
            version = info.code_version
        elif rec is not None:
            params, version = _params_from_dag(rec.dag), rec.code_version
        else:  # pragma: no cover - every name comes from one of the two
            return
        items[name] = {
            "name": name,
            "code_version": version,
            "updated_at": rec.updated_at if rec else 0.0,
            "registered": info is not None,
            "params": params,
            "last_run": msgspec.to_builtins(page.items[0]) if page.items else None,
        }

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(summarise, name)
    return {"items": [items[n] for n in names if n in items]}


@router.get(
    "/api/pipelines/{name}",
    response_model=PipelineDetailResponse,
    responses=documented(e404="No such pipeline"),
    summary="One pipeline with its DAG and recent runs",
)
async def get_pipeline(server: ServerDep, name: Annotated[str, NAME]) -> dict[str, Any]:
    """The pipeline's DAG (``Dag.to_dict()``), parameters and newest runs."""
    store = server.store
    rec: PipelineRecord | None = await store.get_pipeline(name)
    info = server.pipelines.get(name)
    if info is not None:
        dag, params = info.dag_dict, dict(info.params)
        version = info.code_version
    elif rec is not None:
        dag, params, version = rec.dag, _params_from_dag(rec.dag), rec.code_version
    else:
        raise NotFoundError(f"no pipeline named {name!r} in {server.store_url} or this server")
    page = await store.list_runs(pipeline=name, limit=RECENT_RUNS)
    return {
        "name": name,
        "code_version": version,
        "registered": info is not None,
        "params": params,
        "dag": dag,
        "recent_runs": [msgspec.to_builtins(r) for r in page.items],
    }


@router.post(
    "/api/pipelines/{name}/runs",
    status_code=202,
    response_model=TriggerRunResponse,
    responses=documented(
        e400="The body is not JSON",
        e404="Not registered with this server",
        e413="The body is too large",
        e429="This server executes its maximum of runs",
    ),
    summary="Start a run",
)
async def trigger_run(
    server: ServerDep,
    name: Annotated[str, NAME],
    body: Annotated[TriggerRunRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Start a run of a registered pipeline; answers once the run is recorded.

    Parameters are checked against ``GET /api/pipelines/{name}/schema`` first (422 naming
    the parameter at fault)."""
    body = body or TriggerRunRequest()
    run_id = await server.trigger(name, body.params, enable_cache=body.enable_cache, tags=body.tags)
    return {"run_id": run_id}


@router.get(
    "/api/pipelines/{name}/schema",
    response_model=dict[str, Any],
    responses=documented(e404="Not registered with this server"),
    summary="JSON Schema of a pipeline's run parameters",
)
async def get_params_schema(server: ServerDep, name: Annotated[str, NAME]) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the ``params`` a run of this pipeline accepts."""
    return server.registered(name).schema
