"""``/api/artifacts``: metadata, safe previews, streamed content and lineage.

Bytes are only ever read through the artifact store, at the URI the metadata store
recorded for an artifact id: nothing in a request names a file.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from fastapi import Path, Query
from fastapi.responses import StreamingResponse

from ..errors import ArtifactError, NotFoundError
from ..storage._records import ArtifactRecord
from ._deps import ServerDep
from ._errors import api_router, documented
from ._preview import build_preview
from ._schemas import ArtifactDetailResponse, ArtifactListResponse, LineageResponse
from ._service import FlowymlServer

__all__ = ("router",)

router = api_router()

log = logging.getLogger("flowyml.server")

ARTIFACT_ID = Path(min_length=1, max_length=200, description="The artifact's id")
CHUNK = 256 * 1024


def _filename(record: ArtifactRecord) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in record.name) or "artifact"
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(record.name, safe='')}"


async def artifact(server: FlowymlServer, artifact_id: str) -> ArtifactRecord:
    record = await server.store.get_artifact(artifact_id)
    if record is None:
        raise NotFoundError(f"no artifact {artifact_id!r} in {server.store_url}")
    return record


@router.get("/api/artifacts", response_model=ArtifactListResponse, summary="List artifacts")
async def list_artifacts(
    server: ServerDep,
    run_id: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=500)] = None,
    step: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """Artifacts matching every given filter."""
    items = await server.store.list_artifacts(
        run_id=run_id, name=name, step=step, limit=limit, offset=offset
    )
    return {"items": [msgspec.to_builtins(r) for r in items]}


@router.get(
    "/api/artifacts/{artifact_id}",
    response_model=ArtifactDetailResponse,
    responses=documented(e404="No such artifact"),
    summary="One artifact with a safe preview of its value",
)
async def get_artifact(
    server: ServerDep, artifact_id: Annotated[str, ARTIFACT_ID]
) -> dict[str, Any]:
    """Metadata plus a preview: JSON/text truncated, a DataFrame's head, or ``binary``."""
    record = await artifact(server, artifact_id)
    try:
        preview = await build_preview(server.runtime.artifacts, record)
    except ArtifactError as exc:
        log.warning("preview of artifact %s failed: %s", artifact_id, exc)
        preview = {
            "kind": "binary",
            "content": {"size": record.size, "type_name": record.type_name, "error": str(exc)},
            "truncated": False,
        }
    return {"artifact": msgspec.to_builtins(record), "preview": preview}


@router.get(
    "/api/artifacts/{artifact_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The stored bytes",
        },
        **documented(e404="No such artifact, or its bytes are missing"),
    },
    summary="Download an artifact's bytes",
)
async def get_content(
    server: ServerDep, artifact_id: Annotated[str, ARTIFACT_ID]
) -> StreamingResponse:
    """The stored bytes, streamed."""
    record = await artifact(server, artifact_id)
    store = server.runtime.artifacts
    chunks = store.stream(record.uri, chunk_size=CHUNK)
    # Read the first chunk before answering, so a failing store is a 503 (or a missing
    # blob a 404), not a response cut short.
    try:
        first = await anext(chunks, b"")
    except ArtifactError as exc:
        await _close(chunks)
        if _is_missing(exc):
            raise NotFoundError(
                f"the bytes of artifact {artifact_id!r} are missing from {store.url}; "
                f"they were deleted or written to another artifact store"
            ) from exc
        raise
    except BaseException:
        await _close(chunks)
        raise

    async def body() -> AsyncIterator[bytes]:
        async with aclosing(chunks):  # type: ignore[type-var]
            if first:
                yield first
            async for chunk in chunks:
                yield chunk

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": _filename(record), "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/api/artifacts/{artifact_id}/lineage",
    response_model=LineageResponse,
    responses=documented(e404="No such artifact"),
    summary="Where an artifact came from and where it went",
)
async def get_lineage(
    server: ServerDep, artifact_id: Annotated[str, ARTIFACT_ID]
) -> dict[str, Any]:
    """The producing step run and its inputs; the consuming step runs and their outputs."""
    lineage = await server.store.lineage(artifact_id)
    if lineage is None:
        raise NotFoundError(f"no artifact {artifact_id!r} in {server.store_url}")
    data: dict[str, Any] = msgspec.to_builtins(lineage)
    return data


def _is_missing(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, FileNotFoundError):
            return True
        cause = cause.__cause__
    return False


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
