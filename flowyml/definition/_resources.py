"""What a step needs to run: CPUs, memory and GPUs (``@step(resources=...)``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from ..errors import StepDefinitionError

__all__ = ("GPUConfig", "ResourceRequirements", "parse_memory", "resources_of")

_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    # Kubernetes' spelling of the binary units ("4Gi"), as the published flowyml takes them
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}
_MEMORY: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
#: cores as a string: "2", "2.5", or thousandths of a core ("500m", Kubernetes' spelling)
_CPU: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)(m?)\s*$")


def parse_memory(value: float | str, *, field: str = "memory") -> int:
    """``"4GiB"``, ``"512 MB"`` or a number of bytes, as bytes.

    :raises StepDefinitionError: naming ``field`` when the value is not a size
    """
    if isinstance(value, bool):
        raise StepDefinitionError(f"{field}={value!r} is not a size")
    if isinstance(value, int | float):
        if value < 0:
            raise StepDefinitionError(f"{field}={value!r} must be >= 0 bytes")
        return int(value)
    match = _MEMORY.match(value) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise StepDefinitionError(
            f"{field}={value!r} is not a size; write bytes as a number or a string such as "
            f"'512MB' or '4GiB'"
        )
    return int(float(match.group(1)) * _UNITS[unit])


class GPUConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The GPUs a step needs: how many, and optionally which kind (``"A100"``)."""

    count: int = 1
    gpu_type: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise StepDefinitionError(f"gpu count={self.count!r} must be an int >= 0")
        if self.gpu_type is not None and (not isinstance(self.gpu_type, str) or not self.gpu_type):
            raise StepDefinitionError(f"gpu_type={self.gpu_type!r} must be a non-empty string")


class ResourceRequirements(msgspec.Struct, frozen=True, kw_only=True):
    """What one call of a step needs on the machine that runs it.

    :param cpu: CPU cores (may be fractional), or a string such as ``"2"`` or ``"500m"``
        (thousandths of a core; stored as a number)
    :param memory: bytes, or a size such as ``"4GiB"`` or ``"4Gi"`` (stored as bytes)
    :param gpu: a number of GPUs, or a :class:`GPUConfig` naming their type too

    ::

        @step(resources=ResourceRequirements(cpu=2, memory="4GiB", gpu=1))
        def train(data): ...

    The default (local) run ignores them; the Dask executor sends each step only to a
    worker that declares enough of each (see docs/executors.md).
    """

    cpu: float | str | None = None
    memory: int | str | None = None
    gpu: int | GPUConfig | None = None

    def __post_init__(self) -> None:
        cpu = self.cpu
        if isinstance(cpu, str):
            cpu = _cores(cpu)
            msgspec.structs.force_setattr(self, "cpu", cpu)
        if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, int | float)):
            raise StepDefinitionError(f"resources cpu={cpu!r} must be a number of cores")
        if cpu is not None and cpu <= 0:
            raise StepDefinitionError(f"resources cpu={cpu!r} must be > 0")
        if self.memory is not None:
            msgspec.structs.force_setattr(
                self, "memory", parse_memory(self.memory, field="resources memory")
            )
        gpu = self.gpu
        if gpu is not None and not isinstance(gpu, GPUConfig):
            if isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0:
                raise StepDefinitionError(
                    f"resources gpu={gpu!r} must be an int >= 0 or a GPUConfig(count=..., "
                    f"gpu_type=...)"
                )
            msgspec.structs.force_setattr(self, "gpu", GPUConfig(count=gpu))

    @property
    def gpu_count(self) -> int:
        """How many GPUs (0 when none are asked for)."""
        return self.gpu.count if isinstance(self.gpu, GPUConfig) else 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the DAG view and run metadata (only what was asked for)."""
        out: dict[str, Any] = {}
        if self.cpu is not None:
            out["cpu"] = self.cpu
        if self.memory is not None:
            out["memory"] = self.memory
        if isinstance(self.gpu, GPUConfig) and self.gpu.count:
            out["gpu"] = self.gpu.count
            if self.gpu.gpu_type is not None:
                out["gpu_type"] = self.gpu.gpu_type
        return out


def _cores(text: str) -> float:
    match = _CPU.match(text)
    if match is None:
        raise StepDefinitionError(
            f"resources cpu={text!r} must be a number of cores, or a string such as '2', "
            f"'0.5' or '500m'"
        )
    value = float(match.group(1))
    return value / 1000 if match.group(2) else value


_FIELDS: Final = frozenset({"cpu", "memory", "gpu", "gpu_type"})


def resources_of(value: Any, *, step: str) -> ResourceRequirements | None:
    """``@step(resources=...)``: a :class:`ResourceRequirements`, a dict of its fields
    (``gpu_type`` also accepted), or ``None``.

    :raises StepDefinitionError: naming the step and the field at fault
    """
    if value is None or isinstance(value, ResourceRequirements):
        return value
    if not isinstance(value, Mapping):
        raise StepDefinitionError(
            f"step {step!r}: resources must be a ResourceRequirements or a dict, got "
            f"{type(value).__name__}"
        )
    unknown = sorted(set(value) - _FIELDS)
    if unknown:
        raise StepDefinitionError(
            f"step {step!r}: unknown resources field {unknown[0]!r}; known: {sorted(_FIELDS)}"
        )
    fields = dict(value)
    gpu_type = fields.pop("gpu_type", None)
    if gpu_type is not None:
        count = fields.get("gpu", 1)
        fields["gpu"] = count if isinstance(count, GPUConfig) else _gpu(count, gpu_type, step)
    try:
        return ResourceRequirements(**fields)
    except StepDefinitionError as exc:
        raise StepDefinitionError(f"step {step!r}: {exc}") from None


def _gpu(count: Any, gpu_type: Any, step: str) -> GPUConfig:
    try:
        return GPUConfig(count=count, gpu_type=gpu_type)
    except StepDefinitionError as exc:
        raise StepDefinitionError(f"step {step!r}: {exc}") from None
