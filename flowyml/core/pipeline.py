"""``flowyml.core.pipeline``: the published import path of :class:`flowyml.Pipeline`."""

from __future__ import annotations

from .._api import Pipeline as Pipeline
from .._api import pipeline as pipeline
from ..results import PipelineResult as PipelineResult
from ..results import StepResult as StepResult

__all__ = ("Pipeline", "PipelineResult", "StepResult", "pipeline")
