"""``flowyml.core.step``: the published import path of :func:`flowyml.step`."""

from __future__ import annotations

from ..definition._step import Step, step

__all__ = ("Step", "step")
