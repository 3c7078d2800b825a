"""``/api/health`` and ``/api/sse-tickets``."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from ._deps import ServerDep
from ._errors import api_router
from ._schemas import HealthResponse, SseTicketResponse

__all__ = ("router",)

router = api_router()


def _mask(url: str) -> str:
    from ..storage.metadata._base import mask_url

    return mask_url(url)


@router.get("/api/health", response_model=HealthResponse, summary="Is the server healthy?")
async def health(server: ServerDep) -> dict[str, Any]:
    """``ok`` when the metadata store answers (else 503)."""
    await server.store.last_event_id()
    return {"status": "ok", "version": __version__, "store": _mask(server.store_url)}


@router.post(
    "/api/sse-tickets",
    response_model=SseTicketResponse,
    summary="A single-use ticket that authenticates one SSE connection",
)
async def create_sse_ticket(server: ServerDep) -> dict[str, Any]:
    """For ``EventSource``, which cannot send headers: open
    ``GET /api/events?ticket=<ticket>`` (or a run's events) within ``expires_in`` seconds.
    Each ticket opens one connection; ask for a new one to reconnect."""
    return {"ticket": server.tickets.issue(), "expires_in": server.tickets.ttl}
