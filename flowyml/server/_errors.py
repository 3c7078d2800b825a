"""Errors become ``{"detail": "<sentence>"}`` with the right status, on every route.

The mapping lives in a route class rather than in app exception handlers, so it also holds
when the router is included in someone else's FastAPI app (routers cannot register
exception handlers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from ..errors import ArtifactError, NotFoundError, PipelineBuildError, StoreError
from ._schemas import ErrorResponse

__all__ = (
    "ERROR_RESPONSES",
    "FlowymlRoute",
    "InvalidRequestError",
    "TooManyRunsError",
    "api_router",
    "documented",
    "error_response",
    "validation_message",
)

log = logging.getLogger("flowyml.server")

_ERROR = {"model": ErrorResponse}
#: Documented on every API route: what ``FlowymlRoute`` may answer besides success.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_ERROR, "description": "Missing or wrong bearer token"},
    422: {**_ERROR, "description": "Invalid request"},
    503: {**_ERROR, "description": "The metadata or artifact store is unavailable"},
}


def documented(**codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error codes: ``documented(e404="No such run")``."""
    return {int(k[1:]): {**_ERROR, "description": v} for k, v in codes.items()}


def error_response(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON error answer."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _where(loc: Sequence[Any]) -> str:
    if not loc:
        return "request"
    kind, *rest = [str(x) for x in loc]
    name = ".".join(rest)
    if kind == "body":
        return f"body field {name!r}" if name else "request body"
    if kind in ("query", "path", "header", "cookie"):
        return f"{kind} parameter {name!r}" if name else f"{kind} parameters"
    return ".".join([kind, *rest])


def validation_message(errors: Sequence[Any]) -> str:
    """One readable sentence from pydantic/FastAPI validation errors."""
    parts = []
    for err in errors[:5]:
        if isinstance(err, dict):
            parts.append(f"{_where(err.get('loc', ()))}: {err.get('msg', 'invalid')}")
        else:
            parts.append(str(err))
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more


class InvalidRequestError(ValueError):
    """A request the server understood but refuses (answered 422 with the message)."""


class TooManyRunsError(RuntimeError):
    """The server already executes ``limit`` runs (answered 429 with ``Retry-After``)."""

    def __init__(self, limit: int, retry_after: int = 5) -> None:
        self.limit, self.retry_after = limit, retry_after
        super().__init__(
            f"this server already executes {limit} runs (ServerOptions.max_active_runs); "
            f"retry in {retry_after} s or cancel a run"
        )


class FlowymlRoute(APIRoute):
    """An ``APIRoute`` that turns flowyml and validation errors into JSON answers.

    ``NotFoundError`` -> 404, ``PipelineBuildError`` and invalid input -> 422,
    any other ``StoreError``/``ArtifactError`` (a store that is down) -> 503.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler with the error mapping."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                detail = str(exc.detail)
                if exc.status_code == 400 and "parsing the body" in detail:
                    detail = 'the request body is not valid JSON; send {"params": {...}}'
                return error_response(exc.status_code, detail, exc.headers)
            except RequestValidationError as exc:
                return error_response(422, validation_message(exc.errors()))
            except NotFoundError as exc:
                return error_response(404, str(exc))
            except (PipelineBuildError, InvalidRequestError) as exc:
                return error_response(422, str(exc))
            except TooManyRunsError as exc:
                return error_response(429, str(exc), {"Retry-After": str(exc.retry_after)})
            except (StoreError, ArtifactError) as exc:
                log.warning("%s %s: store unavailable: %s", request.method, request.url.path, exc)
                return error_response(503, f"store unavailable: {exc}")

        return guarded


def _operation_id(route: APIRoute) -> str:
    # The endpoint's name ("list_runs"): stable and readable in generated clients.
    return route.name


def api_router() -> APIRouter:
    """A module's router of API routes: flowyml error mapping, documented error answers."""
    return APIRouter(
        route_class=FlowymlRoute,
        generate_unique_id_function=_operation_id,
        responses=ERROR_RESPONSES,
    )
