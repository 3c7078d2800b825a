"""``flowyml.core.pipeline``: the published import path of :class:`flowyml.Pipeline`."""

from __future__ import annotations

from .._api import Pipeline, pipeline
from ..results import PipelineResult, StepResult

__all__ = ("Pipeline", "PipelineResult", "StepResult", "pipeline")
