"""``flowyml.core.assets``: the asset types, next to the other ``flowyml.core`` paths."""

from __future__ import annotations

from ..assets import Asset, Dataset, Metrics, Model

__all__ = ("Asset", "Dataset", "Metrics", "Model")
