"""``/api/runs/{run_id}/logs``: the lines a run's steps logged, a page at a time.

Live lines also arrive on the event streams as ``step_log`` events; this route serves the
lines already stored (a step panel opening on a running or finished run) and pages on with
a cursor.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict

from ..errors import NotFoundError
from ._deps import ServerDep
from ._errors import api_router, documented

__all__ = ("LogLineRecord", "LogPageResponse", "router")

router = api_router()

MAX_LINES = 5000


class LogLineRecord(BaseModel):
    """One stored log line (``Client.logs`` returns the same fields)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    seq: int
    run_id: str
    step: str
    attempt: int
    line: int
    created_at: float
    level: str
    logger: str
    message: str


class LogPageResponse(BaseModel):
    """``GET /api/runs/{run_id}/logs``: lines in storage order, and the cursor to go on."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    items: list[LogLineRecord]
    #: pass back as ``cursor`` for the lines stored after these (the same when none were)
    next_cursor: int


@router.get(
    "/api/runs/{run_id}/logs",
    response_model=LogPageResponse,
    responses=documented(e404="No such run"),
    summary="Log lines of a run's steps",
)
async def run_logs(
    server: ServerDep,
    run_id: Annotated[str, Path(min_length=1, max_length=200, description="The run's id")],
    step: Annotated[str | None, Query(max_length=500, description="Only this step")] = None,
    cursor: Annotated[
        int, Query(ge=0, le=2**62, description="``next_cursor`` of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LINES)] = 1000,
) -> dict[str, Any]:
    """Lines stored after ``cursor`` (of one step, if given), oldest first."""
    store = server.store
    if await store.get_run(run_id) is None:
        raise NotFoundError(f"no run {run_id!r} in {server.store_url}")
    lines = await store.list_logs(run_id, step=step, since=cursor, limit=limit)
    return {
        "items": [msgspec.to_builtins(r) for r in lines],
        "next_cursor": lines[-1].seq if lines else cursor,
    }
