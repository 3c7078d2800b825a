"""``/api/runs/{run_id}/steps``: a run's steps page by page, and one step in detail."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import Path, Query

from ..errors import NotFoundError
from ..events import Event, StepStatus
from ..storage._records import ArtifactRecord
from ._attempts import step_history
from ._deps import ServerDep
from ._errors import InvalidRequestError, api_router, documented
from ._schemas import StepDetailResponse, StepPageResponse
from ._service import FlowymlServer

__all__ = ("STEP_PAGE", "router")

router = api_router()

#: Steps in the first page of ``GET /api/runs/{run_id}`` and the default page size.
STEP_PAGE = 200
MAX_STEP_PAGE = 1000
LOG_PAGE = 1000
RUN_ID = Path(min_length=1, max_length=200, description="The run's id")


async def step_page(
    server: FlowymlServer,
    run_id: str,
    *,
    cursor: str | None = None,
    limit: int = STEP_PAGE,
    status: StepStatus | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    """A page of the run's step runs as JSON data."""
    try:
        page = await server.store.list_step_runs_page(
            run_id, cursor=cursor, limit=limit, status=status, parent=parent
        )
    except ValueError as exc:
        raise InvalidRequestError(f"query parameter 'cursor': {exc}") from None
    return {
        "items": [msgspec.to_builtins(s) for s in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/api/runs/{run_id}/steps",
    response_model=StepPageResponse,
    responses=documented(e404="No such run"),
    summary="A page of a run's steps, in run order",
)
async def list_steps(
    server: ServerDep,
    run_id: Annotated[str, RUN_ID],
    cursor: Annotated[
        str | None, Query(max_length=1000, description="``next_cursor`` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_STEP_PAGE)] = STEP_PAGE,
    status: Annotated[StepStatus | None, Query()] = None,
    parent: Annotated[
        str | None,
        Query(min_length=1, max_length=500, description="Only the elements of this mapped step"),
    ] = None,
) -> dict[str, Any]:
    """Step runs after ``cursor``; ``parent=fetch`` keeps ``fetch[0]``, ``fetch[1]``, ..."""
    if await server.store.get_run(run_id) is None:
        raise NotFoundError(f"no run {run_id!r} in {server.store_url}")
    return await step_page(server, run_id, cursor=cursor, limit=limit, status=status, parent=parent)


async def _run_events(server: FlowymlServer, run_id: str) -> list[Event]:
    events: list[Event] = []
    cursor = 0
    while True:
        records = await server.store.events_after(cursor, run_id=run_id, limit=LOG_PAGE)
        events += [r.event for r in records]
        if len(records) < LOG_PAGE:
            return events
        cursor = records[-1].id


@router.get(
    "/api/runs/{run_id}/steps/{step}",
    response_model=StepDetailResponse,
    responses=documented(e404="No such run or step"),
    summary="One step run: attempts, artifacts, and why it was cached or skipped",
)
async def get_step(
    server: ServerDep,
    run_id: Annotated[str, RUN_ID],
    step: Annotated[str, Path(min_length=1, max_length=500)],
) -> dict[str, Any]:
    """Each attempt (error and traceback), the cache key, and the artifacts read and written."""
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

    history = step_history(await _run_events(server, run_id), step)
    return {
        "step": msgspec.to_builtins(sr),
        "inputs": await records(sr.inputs),
        "outputs": await records(sr.outputs),
        "attempts": history.attempts,
        "cached_from": sr.cached_from if sr.status == "cached" else None,
        "skip_reason": history.skip_reason if sr.status == "skipped" else None,
    }
