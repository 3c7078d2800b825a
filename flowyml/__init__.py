"""flowyml: async-first pipelines of plain Python steps, run as a DAG on anyio.

::

    from flowyml import pipeline, step

    @step
    async def load(n: int) -> list[int]:
        return list(range(n))

    @step
    def double(xs: list[int]) -> list[int]:
        return [2 * x for x in xs]

    @pipeline
    def numbers(n: int = 3):
        return double(load(n))

    result = numbers.run(n=5)          # blocking in scripts; `await numbers.run()` in async code
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._api import Pipeline as Pipeline
from ._api import pipeline as pipeline
from ._version import __version__ as __version__
from .assets import Asset as Asset
from .assets import Dataset as Dataset
from .assets import Metrics as Metrics
from .assets import Model as Model
from .config import FlowymlConfig as FlowymlConfig
from .config import load_config as load_config
from .definition._context import Context as Context
from .definition._context import StepContext as StepContext
from .definition._context import context as context
from .definition._resources import GPUConfig as GPUConfig
from .definition._resources import ResourceRequirements as ResourceRequirements
from .definition._shared import shared as shared
from .definition._step import Step as Step
from .definition._step import step as step
from .definition._when import when as when
from .errors import FlowymlError as FlowymlError
from .errors import PipelineBuildError as PipelineBuildError
from .errors import StepError as StepError
from .results import ElementFailure as ElementFailure
from .results import PartialResults as PartialResults
from .results import PipelineResult as PipelineResult
from .results import StepResult as StepResult

if TYPE_CHECKING:
    from .client import Client as Client
    from .compile._dag import Dag as Dag
    from .execution._resources import close_shared as close_shared
    from .execution._runtime import Runtime as Runtime
    from .storage._protocols import ArtifactStore as ArtifactStore
    from .storage._protocols import Materializer as Materializer
    from .storage._protocols import MetadataStore as MetadataStore

__all__ = (
    "ArtifactStore",
    "Asset",
    "Client",
    "Context",
    "Dag",
    "Dataset",
    "ElementFailure",
    "FlowymlConfig",
    "FlowymlError",
    "GPUConfig",
    "Materializer",
    "MetadataStore",
    "Metrics",
    "Model",
    "PartialResults",
    "Pipeline",
    "PipelineBuildError",
    "PipelineResult",
    "ResourceRequirements",
    "Runtime",
    "Step",
    "StepContext",
    "StepError",
    "StepResult",
    "__version__",
    "close_shared",
    "context",
    "load_config",
    "pipeline",
    "shared",
    "step",
    "when",
)

_LAZY = {
    "Client": ("flowyml.client", "Client"),
    "close_shared": ("flowyml.execution._resources", "close_shared"),
    "Dag": ("flowyml.compile._dag", "Dag"),
    "Runtime": ("flowyml.execution._runtime", "Runtime"),
    "ArtifactStore": ("flowyml.storage._protocols", "ArtifactStore"),
    "Materializer": ("flowyml.storage._protocols", "Materializer"),
    "MetadataStore": ("flowyml.storage._protocols", "MetadataStore"),
}


def __getattr__(name: str) -> Any:
    """Import the heavier parts of the public API on first use (keeps ``import flowyml`` fast)."""
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'flowyml' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
