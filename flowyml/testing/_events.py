"""Events with plausible defaults, for the conformance suites."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import anyio

from ..events import ArtifactRef, RunStarted, StepSucceeded

__all__ = ("artifact_ref", "dead_pid", "ok_event", "started_event")


def artifact_ref(artifact_id: str, name: str = "out", **fields: Any) -> ArtifactRef:
    """An :class:`ArtifactRef` with plausible defaults."""
    values: dict[str, Any] = {
        "uri": f"file:///artifacts/{artifact_id}",
        "type_name": "builtins.int",
        "materializer": "json",
        "size": 2,
        "content_hash": f"hash-{artifact_id}",
    }
    values.update(fields)
    return ArtifactRef(id=artifact_id, name=name, **values)


async def dead_pid() -> int:
    """The pid of a process that has exited and been reaped (so surely does not exist)."""
    async with await anyio.open_process([sys.executable, "-c", "pass"]) as process:
        await process.wait()
        return process.pid


def started_event(run_id: str, steps: list[str], ts: float, **fields: Any) -> RunStarted:
    fields.setdefault("pipeline", "p")
    fields.setdefault("pid", os.getpid())
    fields.setdefault("host", socket.gethostname())
    return RunStarted(run_id=run_id, ts=ts, steps=steps, **fields)


def ok_event(run_id: str, step: str, ts: float, *refs: ArtifactRef, **fields: Any) -> StepSucceeded:
    return StepSucceeded(
        run_id=run_id, step=step, ts=ts, outputs={r.name: r for r in refs}, **fields
    )
