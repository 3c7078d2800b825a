"""The ``flowyml`` command line: ``flowyml ui``, ``flowyml runs``, ``flowyml cache clear``."""

from __future__ import annotations

from ._main import app as app
from ._main import main as main

__all__ = ("app", "main")
