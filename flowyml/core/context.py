"""``flowyml.core.context``: the published import path of :func:`flowyml.context`."""

from __future__ import annotations

from ..definition._context import Context as Context
from ..definition._context import StepContext as StepContext
from ..definition._context import context as context

__all__ = ("Context", "StepContext", "context")
