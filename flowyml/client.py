"""``Client``: a small async read API over the metadata and artifact stores."""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self

import msgspec

from .config import FlowymlConfig
from .errors import NotFoundError
from .events import RunStatus
from .storage._records import (
    ArtifactRecord,
    EventRecord,
    Lineage,
    LogRecord,
    PipelineRecord,
    RunRecord,
    StepRunRecord,
)
from .storage._stores import Stores

__all__ = ("Client", "MetricsRecord", "RunDetail")


class MetricsRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The metrics one step of one run reported (a :class:`~flowyml.Metrics` output)."""

    run_id: str
    step: str
    output: str
    artifact_id: str
    created_at: float
    metrics: dict[str, float]


class RunDetail(msgspec.Struct, frozen=True, kw_only=True):
    """A run with its step runs (in the pipeline's step order)."""

    run: RunRecord
    steps: list[StepRunRecord]

    @property
    def status(self) -> RunStatus:
        """The run's status."""
        return self.run.status

    def step(self, name: str) -> StepRunRecord:
        """The step run called ``name`` (``KeyError`` if there is none)."""
        for s in self.steps:
            if s.step == name:
                return s
        raise KeyError(f"run {self.run.run_id} has no step {name!r}")


class Client:
    """Read runs, steps, artifacts and lineage; load stored values.

    Opens the stores on first use (defaults as for runs: ``FLOWYML_STORE``,
    ``FLOWYML_ARTIFACTS`` or ``FLOWYML_HOME``) and marks runs whose process died as
    ``interrupted``.  Use ``async with Client() as client:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        store: str | None = None,
        artifacts: str | None = None,
        *,
        config: FlowymlConfig | None = None,
        runtime: Stores | None = None,
    ) -> None:
        self._store, self._artifacts, self._config = store, artifacts, config
        self._runtime = runtime
        self._stack: AsyncExitStack | None = None

    async def _rt(self) -> Stores:
        if self._runtime is None:
            stack = AsyncExitStack()
            rt = Stores(store=self._store, artifacts=self._artifacts, config=self._config)
            self._runtime = await stack.enter_async_context(rt)
            self._stack = stack
            await rt.metadata.mark_interrupted()
        return self._runtime

    async def __aenter__(self) -> Self:
        await self._rt()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the stores this client opened (idempotent)."""
        if self._stack is not None:
            stack, self._stack, self._runtime = self._stack, None, None
            await stack.aclose()

    async def list_pipelines(self) -> list[PipelineRecord]:
        """Every pipeline that has run against this store."""
        return await (await self._rt()).metadata.list_pipelines()

    async def list_runs(
        self,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        *,
        since: float | None = None,
        cursor: int | None = None,
        tag: str | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally filtered by pipeline, status, start time and tag
        (runs carrying that tag)."""
        rt = await self._rt()
        page = await rt.metadata.list_runs(
            pipeline=pipeline, status=status, since=since, limit=limit, cursor=cursor, tag=tag
        )
        return page.items

    async def get_run(self, run_id: str) -> RunDetail:
        """The run with its step runs.

        :raises NotFoundError: when there is no such run
        """
        store = (await self._rt()).metadata
        run = await store.get_run(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id!r} in {store.url}")
        return RunDetail(run=run, steps=await store.list_step_runs(run_id))

    async def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        """An artifact's metadata (``NotFoundError`` if unknown)."""
        store = (await self._rt()).metadata
        rec = await store.get_artifact(artifact_id)
        if rec is None:
            raise NotFoundError(f"no artifact {artifact_id!r} in {store.url}")
        return rec

    async def list_artifacts(
        self, *, run_id: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[ArtifactRecord]:
        """Artifacts, optionally of one run or with one output name."""
        rt = await self._rt()
        return await rt.metadata.list_artifacts(run_id=run_id, name=name, limit=limit)

    async def load_artifact(self, artifact_id: str) -> Any:
        """The stored value, as the type it was saved with."""
        from .storage.artifacts._values import load_value

        rt = await self._rt()
        return await load_value(
            rt.artifacts, rt.materializers, await self.get_artifact(artifact_id)
        )

    async def lineage(self, artifact_id: str) -> Lineage:
        """Producer, inputs, consumers and derived artifacts of ``artifact_id``."""
        store = (await self._rt()).metadata
        lin = await store.lineage(artifact_id)
        if lin is None:
            raise NotFoundError(f"no artifact {artifact_id!r} in {store.url}")
        return lin

    async def metrics(
        self,
        pipeline: str,
        *,
        step: str | None = None,
        status: RunStatus | None = "succeeded",
        limit: int = 50,
    ) -> list[MetricsRecord]:
        """Metrics outputs of the newest ``limit`` runs of ``pipeline`` (newest first).

        Read from the artifacts' recorded metadata: no value is loaded.  Pick the best run
        with e.g. ``min(records, key=lambda r: r.metrics["mse"])``.
        """
        store = (await self._rt()).metadata
        page = await store.list_runs(pipeline=pipeline, status=status, limit=limit)
        found: list[MetricsRecord] = []
        for run in page.items:
            arts = await store.list_artifacts(run_id=run.run_id, step=step, limit=10_000)
            found.extend(
                MetricsRecord(
                    run_id=run.run_id,
                    step=art.step,
                    output=art.name,
                    artifact_id=art.id,
                    created_at=art.created_at,
                    metrics=dict(art.metadata.get("metrics", {})),
                )
                for art in arts
                if art.metadata.get("asset") == "metrics"
            )
        return found

    async def events(self, run_id: str | None = None, after: int = 0) -> list[EventRecord]:
        """Logged events after the cursor ``after`` (all runs, or one)."""
        return await (await self._rt()).metadata.events_after(after, run_id=run_id)

    async def logs(
        self, run_id: str, step: str | None = None, *, since: int | None = None, limit: int = 10_000
    ) -> list[LogRecord]:
        """The lines a run's steps logged (of one step, if given), in the order stored.

        Each record has ``.step``, ``.attempt``, ``.level``, ``.logger``, ``.message`` and
        ``.created_at``; ``since`` is the ``.seq`` of the last record already seen (follow a
        running run by passing it back).  Lines appear about as fast as events do: a
        running step's lines are stored in batches while it runs.
        """
        store = (await self._rt()).metadata
        return await store.list_logs(run_id, step=step, since=since, limit=limit)

    async def clear_cache(self, *, pipeline: str | None = None, step: str | None = None) -> int:
        """Forget cache entries (all, one pipeline's, or one step's); return how many."""
        rt = await self._rt()
        return await rt.metadata.clear_cache(pipeline=pipeline, step=step)
