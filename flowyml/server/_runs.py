"""``/api/runs``: runs with filters and cursor pagination, one run, its steps, cancelling."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, HTTPException, Path, Query

from ..errors import NotFoundError
from ..events import RunStatus
from ..storage._records import ArtifactRecord
from ._errors import documented
from ._schemas import (
    CancelRunResponse,
    RunDetailResponse,
    RunListResponse,
    StepDetailResponse,
)
from ._service import FlowymlServer

__all__ = ("add_run_routes",)

MAX_PAGE = 500
RUN_ID = Path(min_length=1, max_length=200, description="The run's id")


def add_run_routes(router: APIRouter, server: FlowymlServer) -> None:
    """Register the run routes of ``server`` on ``router``."""

    @router.get("/api/runs", response_model=RunListResponse, summary="List runs, newest first")
    async def list_runs(
        pipeline: Annotated[str | None, Query(max_length=500)] = None,
        status: Annotated[RunStatus | None, Query()] = None,
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
            pipeline=pipeline, status=status, since=since, limit=limit, cursor=cursor
        )
        return {
            "items": [msgspec.to_builtins(r) for r in page.items],
            "next_cursor": page.next_cursor,
        }

    @router.get(
        "/api/runs/{run_id}",
        response_model=RunDetailResponse,
        responses=documented(e404="No such run"),
        summary="One run with its steps",
    )
    async def get_run(run_id: Annotated[str, RUN_ID]) -> dict[str, Any]:
        """The run, every step run, and its pipeline's DAG (when known)."""
        store = server.store
        run = await store.get_run(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id!r} in {server.store_url}")
        steps = await store.list_step_runs(run_id)
        dag: dict[str, Any] | None = None
        record = await store.get_pipeline(run.pipeline)
        if record is not None:
            dag = record.dag
        elif run.pipeline in server.pipelines:
            dag = server.pipelines[run.pipeline].dag_dict
        return {
            "run": msgspec.to_builtins(run),
            "steps": [msgspec.to_builtins(s) for s in steps],
            "dag": dag,
        }

    @router.post(
        "/api/runs/{run_id}/cancel",
        status_code=202,
        response_model=CancelRunResponse,
        responses=documented(e404="No such run", e409="The run is not running in this server"),
        summary="Cancel a run executing in this server",
    )
    async def cancel_run(run_id: Annotated[str, RUN_ID]) -> dict[str, Any]:
        """Cancel the run; it is recorded as ``cancelled`` within about a second."""
        if server.cancel(run_id):
            return {"run_id": run_id, "status": "cancelling"}
        run = await server.store.get_run(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id!r} in {server.store_url}")
        if run.status == "running":
            why = "it executes in another process; stop that process to cancel it"
        else:
            why = f"it already finished ({run.status})"
        raise HTTPException(409, f"run {run_id!r} cannot be cancelled here: {why}")

    @router.get(
        "/api/runs/{run_id}/steps/{step}",
        response_model=StepDetailResponse,
        responses=documented(e404="No such run or step"),
        summary="One step run with its input and output artifacts",
    )
    async def get_step(
        run_id: Annotated[str, RUN_ID],
        step: Annotated[str, Path(min_length=1, max_length=500)],
    ) -> dict[str, Any]:
        """Attempts, cache key, error and traceback, and the artifacts read and written."""
        store = server.store
        sr = await store.get_step_run(run_id, step)
        if sr is None:
            raise NotFoundError(f"run {run_id!r} has no step {step!r} in {server.store_url}")

        async def records(ids: dict[str, str]) -> list[Any]:
            found: list[ArtifactRecord] = []
            for aid in ids.values():
                rec = await store.get_artifact(aid)
                if rec is not None:
                    found.append(rec)
            return [msgspec.to_builtins(r) for r in found]

        return {
            "step": msgspec.to_builtins(sr),
            "inputs": await records(sr.inputs),
            "outputs": await records(sr.outputs),
        }
