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

import anyio
import msgspec
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from .._version import __version__
from ..events import Event
from . import _artifacts, _pipelines, _runs, _sse, _step_logs, _steps, _system
from ._auth import resolve_token
from ._dagcache import DagCache
from ._deps import binding
from ._errors import FlowymlRoute
from ._guard import FlowymlGuard
from ._service import FlowymlServer, ServerOptions
from ._static import add_static_routes

if TYPE_CHECKING:
    from .._api import Pipeline
    from ..config import FlowymlConfig
    from ..storage._protocols import ArtifactStore, MetadataStore

__all__ = ("FlowymlRouter", "create_app", "flowyml_router")


class FlowymlRouter(APIRouter):
    """The router :func:`flowyml_router` returns; :attr:`server` triggers and cancels runs."""

    server: FlowymlServer
    #: the API token this router requires (``None``: no authentication)
    secret: bytes | None


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
    dashboard).  CORS and compression are the host application's business (add
    ``CORSMiddleware``/``GZipMiddleware`` to it); add
    ``app.add_middleware(FlowymlGuard, router=router, prefix="/flowyml")`` so the token and
    the body limit are checked before a request body is read.

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

    dags = DagCache()

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with server.running(), anyio.create_task_group() as tg:
            tg.start_soon(dags.warm, server)
            yield
            tg.cancel_scope.cancel()

    router = FlowymlRouter(lifespan=lifespan, route_class=FlowymlRoute)
    router.server = server
    secret = resolve_token(token)
    router.secret = secret.encode("utf-8") if secret else None
    bind = [Depends(binding(server, secret, dags))]
    modules = (_system, _pipelines, _runs, _steps, _step_logs, _artifacts, _sse)
    for module in modules:
        router.include_router(module.router, dependencies=bind)
    if dashboard:
        pages = APIRouter()
        add_static_routes(pages, api=[r for m in modules for r in m.router.routes])
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
    unless given).  ``app.state.flowyml`` is the :class:`FlowymlServer`.  In front of the
    routes: :class:`~flowyml.server.FlowymlGuard` (the token and the body limit, before a
    byte of the body is read) and gzip for answers over 1 KiB (never for event streams).
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
    # Outermost last: CORS answers preflights (which carry no token) before the guard,
    # and the guard runs before anything reads a body.  SSE streams are never gzipped.
    # Artifact bytes stream as they are (often already compressed: Parquet, pickles, images).
    plain = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/octet-stream")
    app.add_middleware(GZipMiddleware, minimum_size=1024, exclude_content_types=plain)
    app.add_middleware(FlowymlGuard, router=router)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    return app
