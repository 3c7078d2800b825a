"""The DAG shapes every system runs, as plain data (stdlib only: peers import it too).

Node ``i`` of a shape is named ``s<i>``; :func:`dependencies` gives the indices it waits
for.  The shapes:

``chain``
    ``s0 -> s1 -> ... -> s<n-1>``: each no-op step returns its input.
``fanout``
    ``s0 -> s1 .. s<n> -> s<n+1>``: one source, ``n`` parallel no-op steps, one sink that
    takes all ``n`` outputs (``n + 2`` steps in all).
``sleep_async``
    ``n`` independent ``async`` steps, each awaiting ``sleep`` seconds.
``sleep_sync``
    ``n`` independent plain functions, each blocking in ``time.sleep(sleep)`` (run in
    worker threads by the systems that can).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ("KINDS", "Shape", "dependencies", "node_name")

KINDS = ("chain", "fanout", "sleep_async", "sleep_sync")


@dataclass(frozen=True, slots=True)
class Shape:
    """A DAG shape: ``kind`` (one of :data:`KINDS`), size ``n`` and per-step ``sleep``."""

    kind: str
    n: int
    sleep: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown shape kind {self.kind!r}; use one of {KINDS}")
        if self.n < 1:
            raise ValueError(f"shape {self.kind!r} needs n >= 1, got {self.n}")

    @property
    def steps(self) -> int:
        """How many steps the shape has."""
        return self.n + 2 if self.kind == "fanout" else self.n

    @property
    def label(self) -> str:
        """Short human label, e.g. ``chain-10000`` or ``sleep_async-1000x0.2s``."""
        if self.kind.startswith("sleep"):
            return f"{self.kind}-{self.n}x{self.sleep:g}s"
        return f"{self.kind}-{self.n}"

    @property
    def is_async(self) -> bool:
        """Whether the steps are coroutines (all but ``sleep_sync``)."""
        return self.kind != "sleep_sync"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a child process's command line."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shape:
        """Inverse of :meth:`to_dict`."""
        return cls(kind=str(data["kind"]), n=int(data["n"]), sleep=float(data.get("sleep", 0.0)))


def node_name(i: int) -> str:
    """Name of node ``i`` (also the name of its output)."""
    return f"s{i}"


def dependencies(shape: Shape, i: int) -> list[int]:
    """Indices of the nodes that node ``i`` of ``shape`` takes as inputs."""
    if shape.kind == "chain":
        return [] if i == 0 else [i - 1]
    if shape.kind == "fanout":
        if i == 0:
            return []
        if i <= shape.n:
            return [0]
        return list(range(1, shape.n + 1))
    return []
