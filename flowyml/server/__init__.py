"""The flowyml server: REST API, live server-sent events and the dashboard.

``create_app()`` builds a standalone FastAPI app (``flowyml ui`` serves one);
``flowyml_router()`` embeds the same API in an existing app::

    app.include_router(flowyml_router(pipelines=[train]), prefix="/flowyml")
"""

from __future__ import annotations

from ._app import FlowymlRouter as FlowymlRouter
from ._app import create_app as create_app
from ._app import flowyml_router as flowyml_router
from ._guard import FlowymlGuard as FlowymlGuard
from ._service import FlowymlServer as FlowymlServer
from ._service import ServerOptions as ServerOptions

__all__ = (
    "FlowymlGuard",
    "FlowymlRouter",
    "FlowymlServer",
    "ServerOptions",
    "create_app",
    "flowyml_router",
)
