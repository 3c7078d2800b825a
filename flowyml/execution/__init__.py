"""Execution: the local anyio runner, executors and runtimes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._protocol import Executor as Executor
from ._runtime import Runtime as Runtime

if TYPE_CHECKING:
    from ._dask import DaskExecutor as DaskExecutor

__all__ = ("DaskExecutor", "Executor", "Runtime")


def __getattr__(name: str) -> Any:
    """``DaskExecutor`` is imported on first use (dask is an optional extra)."""
    if name == "DaskExecutor":
        from ._dask import DaskExecutor

        return DaskExecutor
    raise AttributeError(f"module 'flowyml.execution' has no attribute {name!r}")
