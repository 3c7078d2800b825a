"""The pure ASGI guard in front of the API: token and body size, before a byte is read.

:func:`~flowyml.server.create_app` installs :class:`FlowymlGuard` around the whole app.  It
answers 401 to an API request without a valid token without reading its body (whatever
its size or content), and 413 to an API request whose body is over
``ServerOptions.max_body_bytes``: at once when ``Content-Length`` says so, or as soon as a
chunked body has streamed past the limit (at most the limit is ever buffered).  An app that
embeds :func:`~flowyml.server.flowyml_router` adds it itself::

    router = flowyml_router(token=..., pipelines=[train])
    app.include_router(router, prefix="/flowyml")
    app.add_middleware(FlowymlGuard, router=router, prefix="/flowyml")

Without it an embedded router still checks the token (in a route dependency), but only
after FastAPI has read and parsed the body of a ``POST``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._auth import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    authorized,
    is_stream_path,
    send_json,
    unauthorized_detail,
)

if TYPE_CHECKING:
    from ._app import FlowymlRouter

__all__ = ("AUTHORIZED", "FlowymlGuard")

#: Scope key set once the guard has checked a request's credentials (a ticket is single-use:
#: the route dependency must not redeem it again).
AUTHORIZED = "flowyml.authorized"


class FlowymlGuard:
    """ASGI middleware: authenticate ``{prefix}/api`` requests and bound their bodies.

    Other paths (the dashboard's files, an embedding app's own routes) pass untouched.

    :param app: the ASGI app to protect
    :param router: the :func:`~flowyml.server.flowyml_router` whose token and limits apply
    :param prefix: the path the router is included under (``""`` for ``create_app``)
    """

    def __init__(self, app: ASGIApp, *, router: FlowymlRouter, prefix: str = "") -> None:
        self.app = app
        self.router = router
        self.api = prefix.rstrip("/") + "/api"

    def _api_path(self, scope: Scope) -> str | None:
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        if path == self.api or path.startswith(self.api + "/"):
            return path[len(self.api) :]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it on (or answer 401/413 without reading it)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        router = self.router
        sub = self._api_path(scope)
        if sub is None:  # not flowyml's API (the dashboard, or the embedding app's routes)
            await self.app(scope, receive, send)
            return
        expected = router.secret
        if expected is not None:
            stream = is_stream_path("/api" + sub)
            if not authorized(scope, expected, router.server.tickets, stream=stream):
                detail = unauthorized_detail(stream)
                await send_json(send, 401, {"detail": detail}, [(b"www-authenticate", b"Bearer")])
                return
            scope[AUTHORIZED] = True
        limit = router.server.options.max_body_bytes
        length = _content_length(scope)
        if length is not None and length > limit:
            await _too_large(send, limit)
            return
        if length is None and _is_chunked(scope):
            buffered = await _read_bounded(receive, limit)
            if buffered is None:
                await _too_large(send, limit)
                return
            receive = _replay(buffered, receive)
        await self.app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_chunked(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"transfer-encoding" and b"chunked" in bytes(value).lower():
            return True
    return False


async def _read_bounded(receive: Receive, limit: int) -> Message | None:
    """The whole body as one message, or ``None`` once it passes ``limit`` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message  # the client went away: let the app see it
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return {"type": "http.request", "body": bytes(body), "more_body": False}


def _replay(first: Message, receive: Receive) -> Receive:
    pending: list[Message] = [first]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


async def _too_large(send: Send, limit: int) -> None:
    detail = (
        f"the request body is over {limit} bytes, the limit of this server "
        f"(ServerOptions.max_body_bytes)"
    )
    await send_json(send, 413, {"detail": detail}, [(b"connection", b"close")])
