"""Shared fixtures: every test gets its own FLOWYML_HOME, so default persistence is isolated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def flowyml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the zero-config defaults at a fresh folder for each test."""
    home = tmp_path / "flowyml-home"
    monkeypatch.setenv("FLOWYML_HOME", str(home))
    monkeypatch.delenv("FLOWYML_STORE", raising=False)
    monkeypatch.delenv("FLOWYML_ARTIFACTS", raising=False)
    monkeypatch.delenv("FLOWYML_API_TOKEN", raising=False)
    yield home
