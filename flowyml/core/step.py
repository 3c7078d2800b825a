"""``flowyml.core.step``: the published import path of :func:`flowyml.step`."""

from __future__ import annotations

from ..definition._step import Step as Step
from ..definition._step import step as step

__all__ = ("Step", "step")
