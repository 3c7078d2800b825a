"""``flowyml.core.assets``: the asset types, next to the other ``flowyml.core`` paths."""

from __future__ import annotations

from ..assets import Asset as Asset
from ..assets import Dataset as Dataset
from ..assets import Metrics as Metrics
from ..assets import Model as Model

__all__ = ("Asset", "Dataset", "Metrics", "Model")
