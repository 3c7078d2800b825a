"""The dashboard: built files from ``flowyml/server/static/``, deep links answer index.html.

Every GET path outside ``/api`` answers ``index.html`` with its ``<base href>`` set to
where the app is mounted (ASGI ``root_path`` plus the router's prefix), so the dashboard
works under any prefix and deep links like ``/runs/<id>`` survive a reload.  Files that
exist in the build (``assets/*``, favicons) are served as they are.
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response
from starlette.routing import BaseRoute

from ._errors import error_response

__all__ = ("STATIC_DIR", "add_static_routes", "base_href", "rewrite_base")

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
# Comments come first in the alternation so a <base> quoted in a comment is skipped.
_BASE_TAG = re.compile(r"<!--.*?-->|(<base\b[^>]*>)", re.IGNORECASE | re.DOTALL)
_HEAD_TAG = re.compile(r"<!--.*?-->|(<head\b[^>]*>)", re.IGNORECASE | re.DOTALL)

NOT_BUILT: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flowyml</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>flowyml</h1>
<p>The API is running under <a href="api/health">api/</a>, but the
dashboard is not built.  From a source checkout, build it with:</p>
<pre>npm --prefix web ci &amp;&amp; npm --prefix web run build</pre>
<p>then reload this page.</p>
</body></html>
"""


def base_href(request: Request, tail: str) -> str:
    """The URL path the app is mounted at, with a trailing slash.

    ``tail`` is the part of the request path matched by the catch-all route; what comes
    before it is the ASGI ``root_path`` plus the router's prefix.
    """
    scope = request.scope
    root = str(scope.get("root_path", ""))
    path = str(scope.get("path", "/"))
    if root and path.startswith(root):
        path = path[len(root) :]
    prefix = path[: len(path) - len(tail)] if path.endswith(tail) else "/"
    if not prefix.endswith("/"):
        prefix += "/"
    return root.rstrip("/") + prefix


def rewrite_base(index: str, base: str) -> str:
    """``index`` with its ``<base href>`` pointing at ``base`` (added if missing)."""
    attr = html.escape(quote(base, safe="/:@!$&'()*+,;=-._~%"), quote=True)
    tag = f'<base href="{attr}">'
    found = _first_tag(_BASE_TAG, index)
    if found is not None:
        return index[: found[0]] + tag + index[found[1] :]
    head = _first_tag(_HEAD_TAG, index)
    if head is None:
        return tag + index
    return index[: head[1]] + tag + index[head[1] :]


def _first_tag(pattern: re.Pattern[str], text: str) -> tuple[int, int] | None:
    for m in pattern.finditer(text):
        if m.group(1) is not None:
            return m.span(1)
    return None


async def _static_file(static: Path, tail: str) -> Path | None:
    """The built file ``tail`` names, if it exists inside ``static`` (never outside)."""
    parts = tail.split("/")
    if not tail or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        return None
    candidate = anyio.Path(static, *parts)
    try:
        resolved = await candidate.resolve()
        if not resolved.is_relative_to(static) or not await resolved.is_file():
            return None
    except OSError:
        return None
    return Path(resolved)


#: Pre-compressed siblings the build writes (``web/precompress.ts``), best first.
_ENCODINGS: Final = (("br", ".br"), ("gzip", ".gz"))


def _accepted(request: Request) -> set[str]:
    header = request.headers.get("accept-encoding", "")
    accepted = set()
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            accepted.add(coding.strip().lower())
    return accepted


async def _file_response(request: Request, found: Path, cache: str) -> Response:
    """``found``, or its pre-compressed sibling when the client accepts that encoding."""
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    accepted = _accepted(request)
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    for coding, suffix in _ENCODINGS:
        if coding in accepted:
            sibling = anyio.Path(f"{found}{suffix}")
            if await sibling.is_file():
                headers["Content-Encoding"] = coding
                return FileResponse(Path(sibling), media_type=media_type, headers=headers)
    return FileResponse(found, media_type=media_type, headers=headers)


def _allowed_methods(api: Sequence[BaseRoute], path: str) -> list[str]:
    """Methods of the API routes whose path template matches ``path`` (for a 405)."""
    allowed: set[str] = set()
    for route in api:
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            allowed.update(getattr(route, "methods", None) or ())
    return sorted(allowed)


def add_static_routes(
    router: APIRouter, static: Path | None = None, api: Sequence[BaseRoute] = ()
) -> None:
    """Serve the dashboard from ``static`` (default: the built-in build) on ``router``.

    ``api`` are the API routes (relative to the same prefix): a request for one of their
    paths with another method is answered 405 rather than 404.
    """
    static = (static or STATIC_DIR).resolve()

    @router.api_route("/{tail:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def dashboard(request: Request, tail: str) -> Response:
        if tail == "api" or tail.startswith("api/"):
            allowed = _allowed_methods(api, "/" + tail)
            if allowed:
                return error_response(
                    405,
                    f"{request.url.path} does not answer {request.method}; it answers "
                    f"{', '.join(allowed)}",
                    {"Allow": ", ".join(allowed)},
                )
            return error_response(404, f"no API route {request.method} {request.url.path}")
        if tail != "index.html":
            found = await _static_file(static, tail)
            if found is not None:
                immutable = tail.startswith("assets/")
                cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
                return await _file_response(request, found, cache)
            if tail.startswith("assets/"):
                return error_response(404, f"no dashboard file {tail!r}")
        base = base_href(request, tail)
        try:
            index = await anyio.Path(static, "index.html").read_text("utf-8")
        except OSError:
            index = NOT_BUILT
        return HTMLResponse(rewrite_base(index, base), headers={"Cache-Control": "no-cache"})
