"""How a module-level route finds its :class:`FlowymlServer` and checks the token.

Each :func:`~flowyml.server.flowyml_router` includes the module routers with one
dependency, :func:`binding`, that puts its server into the request scope and checks the
token (unless :class:`~._guard.FlowymlGuard` already did, before the body was read).
Routes then take ``server: ServerDep``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..errors import StoreError
from ._auth import authorized, is_stream_path, unauthorized_detail
from ._dagcache import DagCache
from ._guard import AUTHORIZED
from ._service import FlowymlServer

__all__ = (
    "DAGS_KEY",
    "SERVER_KEY",
    "DagsDep",
    "ServerDep",
    "binding",
    "current_dags",
    "current_server",
)

SERVER_KEY = "flowyml.server"
DAGS_KEY = "flowyml.dags"


def binding(
    server: FlowymlServer, secret: str | None, dags: DagCache
) -> Callable[[Request], Awaitable[None]]:
    """The dependency of one router's routes: bind ``server`` (and the router's encoded
    DAGs), require ``secret``."""
    expected = secret.encode("utf-8") if secret else None

    async def bind(request: Request) -> None:
        request.scope[SERVER_KEY] = server
        request.scope[DAGS_KEY] = dags
        if expected is None or request.scope.get(AUTHORIZED):
            return
        stream = is_stream_path(request.url.path)
        if not authorized(request.scope, expected, server.tickets, stream=stream):
            raise HTTPException(
                status_code=401,
                detail=unauthorized_detail(stream),
                headers={"WWW-Authenticate": "Bearer"},
            )

    return bind


async def current_server(request: Request) -> FlowymlServer:
    """The server of the router this request came through."""
    server = request.scope.get(SERVER_KEY)
    if not isinstance(server, FlowymlServer):
        raise StoreError("this route is not part of a flowyml router; use flowyml_router()")
    return server


async def current_dags(request: Request) -> DagCache:
    """The encoded DAGs of the router this request came through."""
    dags = request.scope.get(DAGS_KEY)
    if not isinstance(dags, DagCache):
        raise StoreError("this route is not part of a flowyml router; use flowyml_router()")
    return dags


ServerDep = Annotated[FlowymlServer, Depends(current_server)]
DagsDep = Annotated[DagCache, Depends(current_dags)]
