"""Bearer-token protection of the API (when a token is configured), and SSE tickets.

Every ``/api/*`` route needs ``Authorization: Bearer <token>``.  A browser ``EventSource``
cannot send headers, so the SSE routes also accept ``?ticket=<ticket>``: a short-lived,
single-use ticket that ``POST /api/sse-tickets`` hands out to a bearer of the token.  The
long-lived token then never appears in a URL.  ``?token=`` on SSE routes is still accepted
for older dashboards; ``flowyml ui`` redacts both from its access log.

The check runs in :class:`Guard`, a pure ASGI wrapper around each API route, before
anything reads the request body: a request without a valid token is answered 401
whatever its size or content.  Tokens are compared in constant time.  Static dashboard
files are never protected.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ("TOKEN_ENV", "TicketBook", "resolve_token", "token_matches")

#: Environment variable holding the API token.
TOKEN_ENV = "FLOWYML_API_TOKEN"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def resolve_token(token: str | None) -> str | None:
    """The token to enforce: ``token`` if given, else ``FLOWYML_API_TOKEN``, else none."""
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    return token or None


def token_matches(given: str | None, expected: bytes) -> bool:
    """Whether ``given`` is the token (constant-time)."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected)


@dataclass(slots=True, eq=False)
class TicketBook:
    """Single-use SSE tickets, each valid for ``ttl`` seconds (kept in memory).

    :param ttl: seconds a ticket stays valid
    :param capacity: most tickets outstanding at once (the oldest are forgotten first)
    """

    ttl: float = 30.0
    capacity: int = 10_000
    _expiry: dict[str, float] = field(default_factory=dict)

    def issue(self) -> str:
        """A new ticket."""
        now = time.monotonic()
        for ticket, until in list(self._expiry.items()):
            if until > now and len(self._expiry) < self.capacity:
                break  # insertion order is expiry order: the rest are newer
            del self._expiry[ticket]
        ticket = secrets.token_urlsafe(24)
        self._expiry[ticket] = now + self.ttl
        return ticket

    def redeem(self, ticket: str | None) -> bool:
        """Use up ``ticket``; ``True`` if it was issued here, unused and unexpired."""
        if not ticket:
            return False
        until = self._expiry.pop(ticket, None)
        return until is not None and until > time.monotonic()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def query_value(scope: Scope, name: str) -> str | None:
    """The first value of query parameter ``name``, or ``None``."""
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    for key, value in parse_qsl(bytes(raw).decode("latin-1"), keep_blank_values=True):
        if key == name:
            return value
    return None


def bearer_of(scope: Scope) -> str | None:
    """The credentials of an ``Authorization: Bearer ...`` header, or ``None``."""
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Answer with a small JSON body (no request byte read)."""
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def unauthorized_detail(allow_ticket: bool) -> str:
    """The 401 sentence."""
    how = "'Authorization: Bearer <token>'"
    if allow_ticket:
        how += " or '?ticket=<ticket>' from POST /api/sse-tickets"
    return (
        f"this flowyml server needs its API token: send {how} (the value of {TOKEN_ENV} "
        f"on the server)"
    )


_STREAM_PATH = re.compile(r"/api/(?:events|runs/[^/]+/events)$")


def is_stream_path(path: str) -> bool:
    """Whether ``path`` ends in an SSE route (``/api/events``, ``/api/runs/{id}/events``),
    the only routes where tickets are accepted."""
    return _STREAM_PATH.search(path) is not None


def authorized(scope: Scope, expected: bytes, tickets: TicketBook, *, stream: bool) -> bool:
    """Whether the request carries the token, or (SSE routes) a ticket or ``?token=``.

    A ticket is used up by this check.
    """
    if token_matches(bearer_of(scope), expected):
        return True
    if not stream:
        return False
    if tickets.redeem(query_value(scope, "ticket")):
        return True
    return token_matches(query_value(scope, "token"), expected)
