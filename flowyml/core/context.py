"""``flowyml.core.context``: the published import path of :func:`flowyml.context`."""

from __future__ import annotations

from ..definition._context import Context, StepContext, context

__all__ = ("Context", "StepContext", "context")
