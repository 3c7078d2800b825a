"""The published flowyml's import paths (``flowyml.core.*``), kept so its programs run.

Each module here only re-exports names defined elsewhere in flowyml; new code can import
them from :mod:`flowyml` directly.  docs/migrating.md lists what differs.
"""

from __future__ import annotations

# isort: off
# The path modules load first: loading ``flowyml.core.step`` binds the name ``step`` here
# to that module, and the imports below bind it back to the decorator, for good.
from . import assets as assets
from . import context as _context_path  # noqa: F401
from . import pipeline as _pipeline_path  # noqa: F401
from . import resources as resources
from . import step as _step_path  # noqa: F401

# isort: on
from .._api import Pipeline as Pipeline
from .._api import pipeline as pipeline
from ..definition._context import Context as Context
from ..definition._context import StepContext as StepContext
from ..definition._context import context as context
from ..definition._resources import GPUConfig as GPUConfig
from ..definition._resources import ResourceRequirements as ResourceRequirements
from ..definition._step import Step as Step
from ..definition._step import step as step

__all__ = (
    "Context",
    "GPUConfig",
    "Pipeline",
    "ResourceRequirements",
    "Step",
    "StepContext",
    "context",
    "pipeline",
    "step",
)
