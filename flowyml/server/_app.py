"""``create_app()`` for a standalone server and ``flowyml_router()`` to embed one.

The router carries its own lifespan (opening the stores, starting the event tailer and the
task group runs execute in); FastAPI merges an included router's lifespan into the app's,
so ``app.include_router(flowyml_router(pipelines=[p]), prefix="/flowyml")`` is all an
application writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import msgspec
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from .._version import __version__
from ..events import Event
from ._artifacts import add_artifact_routes
from ._auth import require_token, resolve_token
from ._errors import ERROR_RESPONSES, FlowymlRoute
from ._pipelines import add_pipeline_routes
from ._runs import add_run_routes
from ._schemas import HealthResponse
from ._service import FlowymlServer, ServerOptions
from ._sse import add_event_routes
from ._static import add_static_routes

if TYPE_CHECKING:
    from .._api import Pipeline
    from ..config import FlowymlConfig
    from ..storage._protocols import ArtifactStore, MetadataStore

__all__ = ("FlowymlRouter", "create_app", "flowyml_router")


def _mask(url: str) -> str:
    from ..storage.metadata._base import mask_url

    return mask_url(url)


def _operation_id(route: APIRoute) -> str:
    # The endpoint's name ("list_runs"): stable and readable in generated clients.
    return route.name


class FlowymlRouter(APIRouter):
    """The router :func:`flowyml_router` returns; :attr:`server` triggers and cancels runs."""

    server: FlowymlServer


def _add_health(router: APIRouter, server: FlowymlServer) -> None:
    @router.get("/api/health", response_model=HealthResponse, summary="Is the server healthy?")
    async def health() -> dict[str, Any]:
        """``ok`` when the metadata store answers (else 503)."""
        await server.store.last_event_id()
        return {"status": "ok", "version": __version__, "store": _mask(server.store_url)}


def flowyml_router(
    *,
    store: str | MetadataStore | None = None,
    artifacts: str | ArtifactStore | None = None,
    pipelines: Sequence[Pipeline] = (),
    config: FlowymlConfig | None = None,
    token: str | None = None,
    dashboard: bool = True,
    options: ServerOptions | None = None,
) -> FlowymlRouter:
    """The flowyml API, live event streams and dashboard as a router with its lifespan.

    ::

        app = FastAPI()
        app.include_router(flowyml_router(pipelines=[train]), prefix="/flowyml")

    Routes are relative to the prefix (``/flowyml/api/runs``, ``/flowyml/`` for the
    dashboard).  CORS is the host application's business (add ``CORSMiddleware`` to it).

    :param store: metadata store URL (default: ``FLOWYML_STORE`` or the SQLite file in
        ``FLOWYML_HOME``), or an open ``MetadataStore`` you open and close yourself
    :param artifacts: artifact store URL, or an open ``ArtifactStore`` (same)
    :param pipelines: pipelines clients may run with ``POST /api/pipelines/{name}/runs``
    :param config: defaults (default: :func:`~flowyml.load_config` at startup)
    :param token: API token required on every ``/api`` route (default:
        ``FLOWYML_API_TOKEN``; none when neither is set)
    :param dashboard: serve the dashboard on every other GET path (turn off when the router
        is included without a prefix in an app that has its own pages)
    :param options: timings and bounds (:class:`ServerOptions`)
    :raises ConfigError: when two pipelines share a name
    :raises PipelineBuildError: when a pipeline does not compile
    """
    server = FlowymlServer(
        store=store, artifacts=artifacts, pipelines=pipelines, config=config, options=options
    )

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with server.running():
            yield

    router = FlowymlRouter(lifespan=lifespan, route_class=FlowymlRoute)
    router.server = server
    secret = resolve_token(token)
    rest = APIRouter(
        route_class=FlowymlRoute,
        generate_unique_id_function=_operation_id,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(require_token(secret, allow_query=False))] if secret else [],
    )
    _add_health(rest, server)
    add_pipeline_routes(rest, server)
    add_run_routes(rest, server)
    add_artifact_routes(rest, server)
    streams = APIRouter(
        route_class=FlowymlRoute,
        generate_unique_id_function=_operation_id,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(require_token(secret, allow_query=True))] if secret else [],
    )
    add_event_routes(streams, server)
    router.include_router(rest)
    router.include_router(streams)
    if dashboard:
        pages = APIRouter()
        add_static_routes(pages)
        router.include_router(pages)
    return router


def _document_events(app: FastAPI) -> None:
    """Add the SSE ``data:`` payloads (``flowyml.events``) to the app's OpenAPI schema.

    They become components (``Event``, ``RunStarted``, ...), and each SSE route's 200
    answer points at ``Event`` with ``x-sse-data``, so clients can generate their types.
    """
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = base()
        (event,), components = msgspec.json.schema_components(
            [Event], ref_template="#/components/schemas/{name}"
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, component in {**components, "Event": event}.items():
            schemas.setdefault(name, component)
        for item in schema.get("paths", {}).values():
            ok = item.get("get", {}).get("responses", {}).get("200", {})
            if "text/event-stream" in ok.get("content", {}):
                ok["x-sse-data"] = {"$ref": "#/components/schemas/Event"}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    *,
    store: str | MetadataStore | None = None,
    artifacts: str | ArtifactStore | None = None,
    pipelines: Sequence[Pipeline] = (),
    config: FlowymlConfig | None = None,
    token: str | None = None,
    cors_origins: Sequence[str] | None = None,
    dashboard: bool = True,
    options: ServerOptions | None = None,
) -> FastAPI:
    """A standalone flowyml server: the API, live event streams and the dashboard.

    Accepts the keywords of :func:`flowyml_router`, plus ``cors_origins`` (CORS stays off
    unless given).  ``app.state.flowyml`` is the :class:`FlowymlServer`.
    """
    router = flowyml_router(
        store=store,
        artifacts=artifacts,
        pipelines=pipelines,
        config=config,
        token=token,
        dashboard=dashboard,
        options=options,
    )
    app = FastAPI(
        title="flowyml",
        version=__version__,
        summary="Runs, steps, artifacts and live events of flowyml pipelines",
    )
    app.include_router(router)
    app.state.flowyml = router.server
    _document_events(app)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    return app
