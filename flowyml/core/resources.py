"""``flowyml.core.resources``: the published import path of the compute requirements."""

from __future__ import annotations

from ..definition._resources import GPUConfig, ResourceRequirements

__all__ = ("GPUConfig", "ResourceRequirements")
