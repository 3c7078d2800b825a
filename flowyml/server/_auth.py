"""Bearer-token protection of the API (when a token is configured).

Every ``/api/*`` route needs ``Authorization: Bearer <token>``.  SSE routes also accept
``?token=<token>``, because a browser ``EventSource`` cannot send headers.  Tokens are
compared in constant time.  Static dashboard files are never protected.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ("TOKEN_ENV", "require_token", "resolve_token")

#: Environment variable holding the API token.
TOKEN_ENV = "FLOWYML_API_TOKEN"

_bearer = HTTPBearer(auto_error=False, description="The server's FLOWYML_API_TOKEN")


def resolve_token(token: str | None) -> str | None:
    """The token to enforce: ``token`` if given, else ``FLOWYML_API_TOKEN``, else none."""
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    return token or None


def _matches(given: str | None, expected: bytes) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected)


def require_token(
    token: str, *, allow_query: bool
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[None]]:
    """A dependency that answers 401 unless the request carries ``token``."""
    expected = token.encode("utf-8")

    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> None:
        if credentials is not None and _matches(credentials.credentials, expected):
            return
        if allow_query and _matches(request.query_params.get("token"), expected):
            return
        how = "'Authorization: Bearer <token>'"
        if allow_query:
            how += " or '?token=<token>'"
        raise HTTPException(
            status_code=401,
            detail=f"this flowyml server needs its API token: send {how} "
            f"(the value of {TOKEN_ENV} on the server)",
            headers={"WWW-Authenticate": "Bearer"},
        )

    return check
