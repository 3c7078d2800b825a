"""The committed ``web/openapi.json`` (the source of the dashboard's types) matches the server.

The dashboard's TypeScript types (``web/src/api/schema.d.ts``) are generated from that file;
``npm run lint`` checks that they match it, and these tests check that it matches the code.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from flowyml.server.openapi import main, openapi_json

COMMITTED = Path(__file__).resolve().parents[2] / "web" / "openapi.json"
REGENERATE = "python -m flowyml.server.openapi web/openapi.json && npm --prefix web run gen:api"


def _check(generated: str) -> None:
    committed = COMMITTED.read_text(encoding="utf-8")
    if generated == committed:
        return
    diff = difflib.unified_diff(
        committed.splitlines(),
        generated.splitlines(),
        "web/openapi.json (committed)",
        "web/openapi.json (from the code)",
        lineterm="",
        n=2,
    )
    shown = "\n".join(list(diff)[:60])
    pytest.fail(
        "web/openapi.json is out of date with the server's models/events; regenerate it and "
        f"the dashboard's types from the repository root with:\n    {REGENERATE}\n"
        f"then commit both files (and rebuild the dashboard if its code changed).\n{shown}",
        pytrace=False,
    )


def test_committed_schema_matches_the_server() -> None:
    _check(openapi_json())


def test_cli_writes_the_same_schema_whatever_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token would add security schemes; the committed schema must not depend on the env.
    monkeypatch.setenv("FLOWYML_API_TOKEN", "secret")
    out = tmp_path / "openapi.json"
    assert main([str(out)]) == 0
    _check(out.read_text(encoding="utf-8"))
