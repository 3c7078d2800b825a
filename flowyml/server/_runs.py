"""``/api/runs``: runs with filters and cursor pagination, one run, cancelling, resuming."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import HTTPException, Path, Query, Request
from fastapi.responses import Response

from ..errors import NotFoundError
from ..events import RunStatus
from ..storage._records import RunRecord
from ._dagcache import Encoded
from ._deps import DagsDep, ServerDep
from ._errors import api_router, documented
from ._schemas import (
    CancelRunResponse,
    Dag,
    RunDetailResponse,
    RunListResponse,
    TriggerRunResponse,
)
from ._service import FlowymlServer
from ._steps import step_page

__all__ = ("router",)

router = api_router()

MAX_PAGE = 500
#: The largest DAG (in steps) ``GET /api/runs/{run_id}`` includes: a 10,000-step DAG is
#: about 200 KB gzipped, too much to wait for before the first steps can be drawn.
DAG_INLINE = 2000
RUN_ID = Path(min_length=1, max_length=200, description="The run's id")


async def _run(server: FlowymlServer, run_id: str) -> RunRecord:
    run = await server.store.get_run(run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id!r} in {server.store_url}")
    return run


@router.get("/api/runs", response_model=RunListResponse, summary="List runs, newest first")
async def list_runs(
    server: ServerDep,
    pipeline: Annotated[str | None, Query(max_length=500)] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    tag: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Only runs with this tag")
    ] = None,
    since: Annotated[
        float | None,
        Query(ge=0, le=1e12, description="Only runs started at or after (Unix seconds)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        int | None, Query(ge=0, le=2**62, description="``next_cursor`` of the previous page")
    ] = None,
) -> dict[str, Any]:
    """Runs matching every given filter; pass ``next_cursor`` back to page on."""
    page = await server.store.list_runs(
        pipeline=pipeline, status=status, since=since, limit=limit, cursor=cursor, tag=tag
    )
    return {
        "items": [msgspec.to_builtins(r) for r in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/api/runs/{run_id}",
    response_model=RunDetailResponse,
    responses=documented(e404="No such run"),
    summary="One run: its DAG and the first page of its steps",
)
async def get_run(
    server: ServerDep, dags: DagsDep, run_id: Annotated[str, RUN_ID]
) -> dict[str, Any]:
    """The run, its pipeline's DAG (when known and at most ``DAG_INLINE`` steps) and its
    first steps; page on with ``GET /api/runs/{run_id}/steps?cursor=<steps_next_cursor>``.
    A larger DAG is left out (``dag_size`` says how big it is): load it from
    ``GET /api/runs/{run_id}/dag``."""
    run = await _run(server, run_id)
    page = await step_page(server, run_id)
    dag = await dags.of_run(server, run)
    size = dag.size if dag is not None else 0
    return {
        "run": msgspec.to_builtins(run),
        "steps": page["items"],
        "steps_next_cursor": page["next_cursor"],
        "dag": dag.dag if dag is not None and size <= DAG_INLINE else None,
        "dag_size": size,
        "can_cancel": server.is_running(run_id),
    }


@router.get(
    "/api/runs/{run_id}/dag",
    response_model=Dag,
    responses=documented(e404="No such run, or its pipeline's DAG is unknown"),
    summary="The DAG of a run's pipeline, however large",
)
async def get_run_dag(
    request: Request,
    server: ServerDep,
    dags: DagsDep,
    run_id: Annotated[str, RUN_ID],
    graph: Annotated[
        bool,
        Query(
            description="Only what drawing the graph needs: each step's id, name, outputs "
            "and is_async (a quarter of the bytes)"
        ),
    ] = False,
) -> Response:
    """The DAG ``GET /api/runs/{run_id}`` leaves out when it has over ``DAG_INLINE`` steps.

    Encoded once per pipeline version and sent gzipped to clients that accept it; the
    ``ETag`` lets a client revalidate with ``If-None-Match`` (304, no body).
    """
    run = await _run(server, run_id)
    dag = await dags.of_run(server, run)
    if dag is None:
        raise NotFoundError(
            f"the DAG of pipeline {run.pipeline!r} (run {run_id!r}) is not recorded in "
            f"{server.store_url}"
        )
    return _send_dag(request, dag.graph if graph else dag.full)


def _send_dag(request: Request, dag: Encoded) -> Response:
    headers = {"ETag": dag.etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
    if dag.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(dag.gzipped, media_type="application/json", headers=headers)
    return Response(dag.body, media_type="application/json", headers=headers)


@router.post(
    "/api/runs/{run_id}/cancel",
    status_code=202,
    response_model=CancelRunResponse,
    responses=documented(e404="No such run", e409="The run is not running in this server"),
    summary="Cancel a run executing in this server",
)
async def cancel_run(server: ServerDep, run_id: Annotated[str, RUN_ID]) -> dict[str, Any]:
    """Cancel the run; it is recorded as ``cancelled`` within about a second."""
    if server.cancel(run_id):
        return {"run_id": run_id, "status": "cancelling"}
    run = await _run(server, run_id)
    if run.status == "running":
        why = "it executes in another process; stop that process to cancel it"
    else:
        why = f"it already finished ({run.status})"
    raise HTTPException(409, f"run {run_id!r} cannot be cancelled here: {why}")


@router.post(
    "/api/runs/{run_id}/resume",
    status_code=202,
    response_model=TriggerRunResponse,
    responses=documented(
        e404="No such run",
        e409="The run cannot be resumed here (still running, succeeded, or its pipeline is "
        "not registered with this server)",
        e429="This server executes its maximum of runs",
    ),
    summary="Resume a run: re-run the steps that did not succeed",
)
async def resume_run(server: ServerDep, run_id: Annotated[str, RUN_ID]) -> dict[str, Any]:
    """Start a new run that reuses the outputs of ``run_id``'s succeeded steps."""
    run = await _run(server, run_id)
    why: str | None = None
    if run.pipeline not in server.pipelines:
        why = (
            f"its pipeline {run.pipeline!r} is not registered with this server; start the "
            f"server with it (flowyml ui -p module:{run.pipeline})"
        )
    elif run.status == "running":
        why = "it is still running"
    elif run.status == "succeeded":
        why = "it succeeded: nothing to resume (run the pipeline again instead)"
    if why is not None:
        raise HTTPException(409, f"run {run_id!r} cannot be resumed: {why}")
    new_id = await server.trigger(run.pipeline, {}, resume_from=run_id)
    return {"run_id": new_id}
