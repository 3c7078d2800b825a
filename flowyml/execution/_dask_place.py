"""Where a step may run on Dask: its ``resources=`` and its ``execution_group=``.

Requirements become Dask worker resources (``CPU``, ``MEMORY`` in bytes, ``GPU``, and
``GPU-<type>`` for a GPU type), which workers declare with ``--resources``.  A step no
worker can host fails at once instead of waiting forever.  The steps of one execution
group are pinned to one worker, chosen when the group's first step is submitted.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from ..definition._resources import GPUConfig
from ..errors import ResourcesUnavailableError

if TYPE_CHECKING:
    from ..definition._resources import ResourceRequirements
    from ._protocol import StepCall

__all__ = ("Placement", "dask_resources")


def dask_resources(req: ResourceRequirements | None) -> dict[str, float]:
    """The Dask resources one call of a step holds while it runs."""
    if req is None:
        return {}
    out: dict[str, float] = {}
    if req.cpu is not None:
        out["CPU"] = float(req.cpu)
    if isinstance(req.memory, int):
        out["MEMORY"] = float(req.memory)
    gpu = req.gpu
    if isinstance(gpu, GPUConfig) and gpu.count:
        out["GPU"] = float(gpu.count)
        if gpu.gpu_type is not None:
            out[f"GPU-{gpu.gpu_type}"] = float(gpu.count)
    return out


class Placement:
    """Restrictions for each step's task, and which worker each group lives on."""

    def __init__(self) -> None:
        self._groups: dict[str, str] = {}
        self._load: Counter[str] = Counter()

    async def restrictions(self, client: Any, call: StepCall) -> dict[str, Any]:
        """Keyword arguments for ``client.submit``.

        :raises ResourcesUnavailableError: when no worker has the step's resources
        """
        needs = dask_resources(call.resources)
        if not needs and call.group is None:
            return {}
        info = await client.scheduler.identity()
        workers = {a: dict(w.get("resources") or {}) for a, w in info["workers"].items()}
        able = [a for a, have in workers.items() if _fits(needs, have)]
        if not able:
            raise ResourcesUnavailableError(call.name, needs, workers)
        out: dict[str, Any] = {"resources": needs} if needs else {}
        if call.group is not None:
            pinned = self._groups.get(call.group)
            if pinned not in able:
                pinned = min(sorted(able), key=self._load.__getitem__)
                self._groups[call.group] = pinned
                self._load[pinned] += 1
            # Loose: if the worker is lost, the group's steps move to another one.
            out["workers"] = [pinned]
            out["allow_other_workers"] = True
        return out

    def ran(self, call: StepCall, worker: str) -> None:
        """A step of ``call.group`` ran on ``worker`` (it moves there if it was lost)."""
        if call.group is not None and self._groups.get(call.group) != worker:
            self._groups[call.group] = worker


def _fits(needs: dict[str, float], have: dict[str, float]) -> bool:
    return all(have.get(k, 0) >= v for k, v in needs.items())
