"""Write the standalone app's OpenAPI schema as JSON, for generated API clients.

The dashboard's TypeScript types are generated from this file (``web/openapi.json``)::

    python -m flowyml.server.openapi web/openapi.json
    npm --prefix web run gen:api

The schema is built from :func:`~flowyml.server.create_app` on in-memory stores without
running the app's lifespan, so nothing is opened, read or started.  The output is stable:
keys are sorted and the text ends with one newline, so the same code always writes the
same bytes and a test can compare it with the committed file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._app import create_app

__all__ = ("main", "openapi_json", "openapi_schema")


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI schema of a standalone flowyml app (REST routes and SSE payloads).

    :return: the document ``GET /openapi.json`` serves, as a dict
    """
    # token="" turns authentication off even when FLOWYML_API_TOKEN is set, so the
    # environment cannot change the output.  The stores are only named, never opened.
    app = create_app(store="memory://", artifacts="memory://openapi", token="")
    return app.openapi()


def openapi_json() -> str:
    """:func:`openapi_schema` as deterministic JSON text (sorted keys, ends with a newline).

    :return: the text ``python -m flowyml.server.openapi`` writes
    """
    return json.dumps(openapi_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the schema to ``PATH`` (or standard output when it is ``-``).

    :param argv: arguments without the program name (default: ``sys.argv[1:]``)
    :return: the exit status, 0
    """
    parser = argparse.ArgumentParser(
        prog="python -m flowyml.server.openapi",
        description="Write the flowyml server's OpenAPI schema as JSON.",
    )
    parser.add_argument(
        "path", nargs="?", default="-", help="file to write (default: - for standard output)"
    )
    args = parser.parse_args(argv)
    text = openapi_json()
    if args.path == "-":
        sys.stdout.write(text)
    else:
        Path(args.path).write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
