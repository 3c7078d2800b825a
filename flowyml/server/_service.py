"""The live part of a flowyml app: open stores, triggered runs and the event fan-out.

A :class:`FlowymlServer` is created with the router and entered by its lifespan.  While it
runs it owns a :class:`~flowyml.execution._runtime.Runtime`, a task group in which
triggered runs execute (each in its own cancel scope), the event tailer, and a periodic
sweep that marks runs whose process died as ``interrupted``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from .._ids import new_run_id
from ..errors import ConfigError, NotFoundError, PipelineBuildError, StoreError
from ..execution._runtime import Runtime
from ._auth import TicketBook
from ._errors import TooManyRunsError
from ._fanout import EventFanout
from ._introspect import PipelineInfo, validate_params
from ._params import check_limits

if TYPE_CHECKING:
    from .._api import Pipeline
    from ..config import FlowymlConfig
    from ..storage._protocols import ArtifactStore, MetadataStore

__all__ = ("FlowymlServer", "ServerOptions")

log = logging.getLogger("flowyml.server")


@dataclass(slots=True, frozen=True, kw_only=True)
class ServerOptions:
    """Timings and bounds of a server (the defaults suit production; tests shrink them).

    :param ping_interval: seconds between SSE keep-alive comments
    :param poll_interval: seconds between reads of the event log when nothing woke the tailer
    :param client_buffer: events an SSE client may lag behind before it resyncs from the store
    :param interrupt_interval: seconds between sweeps for runs whose process died
    :param start_timeout: how long ``POST .../runs`` waits for the run to be recorded
    :param max_body_bytes: largest request body accepted (413 above it)
    :param max_param_bytes: largest run parameter accepted, as JSON (422 above it)
    :param max_param_depth: deepest nesting of lists and objects in a run parameter
    :param max_active_runs: runs this server executes at once (429 above it; ``None``: no
        bound)
    :param ticket_ttl: seconds an SSE ticket from ``POST /api/sse-tickets`` stays valid
    """

    ping_interval: float = 15.0
    poll_interval: float = 0.25
    client_buffer: int = 1000
    interrupt_interval: float = 30.0
    start_timeout: float = 5.0
    max_body_bytes: int = 1 << 20
    max_param_bytes: int = 64 * 1024
    max_param_depth: int = 32
    max_active_runs: int | None = 32
    ticket_ttl: float = 30.0


@dataclass(slots=True, eq=False)
class _ActiveRun:
    run_id: str
    pipeline: str
    scope: anyio.CancelScope
    done: anyio.Event = field(default_factory=anyio.Event)
    error: Exception | None = None


class FlowymlServer:
    """Stores, runs and live events behind one flowyml app or router.

    Reach it as ``app.state.flowyml`` (from :func:`~flowyml.server.create_app`),
    ``request.state.flowyml`` (any app that includes the router) or ``router.server``.

    :param store: metadata store URL, or an open ``MetadataStore`` you open and close yourself
        (default: the configuration's)
    :param artifacts: artifact store URL, or an open ``ArtifactStore`` (same)
    :param pipelines: pipelines this server may run (``POST /api/pipelines/{name}/runs``)
    :param config: defaults (default: :func:`~flowyml.load_config` when the server starts)
    :param options: timings and bounds
    :raises ConfigError: when two pipelines share a name
    :raises PipelineBuildError: when a pipeline does not compile
    """

    def __init__(
        self,
        *,
        store: str | MetadataStore | None = None,
        artifacts: str | ArtifactStore | None = None,
        pipelines: Sequence[Pipeline] = (),
        config: FlowymlConfig | None = None,
        options: ServerOptions | None = None,
    ) -> None:
        self._store_arg = store
        self._artifacts_arg = artifacts
        self._config = config
        self.options = options or ServerOptions()
        self.pipelines: dict[str, PipelineInfo] = {}
        for p in pipelines:
            if p.name in self.pipelines:
                raise ConfigError(
                    f"two registered pipelines are named {p.name!r}; give each a unique name"
                )
            self.pipelines[p.name] = PipelineInfo.of(p)
        self._runtime: Runtime | None = None
        self._fanout: EventFanout | None = None
        self._runs_tg: TaskGroup | None = None
        self._active: dict[str, _ActiveRun] = {}
        self.stopping = anyio.Event()
        #: set when the ASGI server exits: live event streams end cleanly
        self.streams_closing = anyio.Event()
        #: single-use tickets that authenticate an SSE connection
        self.tickets = TicketBook(ttl=self.options.ticket_ttl)

    # ------------------------------------------------------------------ state
    @property
    def runtime(self) -> Runtime:
        """The open runtime (stores, materializers, hub)."""
        if self._runtime is None:
            raise StoreError(
                "the flowyml server is not running: its lifespan has not started (serve the "
                "app with an ASGI server that runs lifespans, e.g. uvicorn)"
            )
        return self._runtime

    @property
    def store(self) -> MetadataStore:
        """The open metadata store."""
        return self.runtime.metadata

    @property
    def fanout(self) -> EventFanout:
        """The event tailer and its clients."""
        if self._fanout is None:
            raise StoreError("the flowyml server is not running: its lifespan has not started")
        return self._fanout

    @property
    def store_url(self) -> str:
        """URL of the metadata store (as configured)."""
        return self.runtime.store_url

    def is_running(self, run_id: str) -> bool:
        """Whether ``run_id`` executes in this server right now."""
        return run_id in self._active

    # ------------------------------------------------------------------ lifespan
    @asynccontextmanager
    async def running(self) -> AsyncIterator[FlowymlServer]:
        """Open the stores and start the background tasks; on exit cancel runs and close.

        Runs still executing when the server stops are cancelled (recorded as ``cancelled``).
        """
        if self._runtime is not None:
            raise RuntimeError("this flowyml server is already running; create another router")
        async with Runtime(
            store=self._store_arg, artifacts=self._artifacts_arg, config=self._config
        ) as rt:
            opts = self.options
            fanout = EventFanout(
                store=rt.metadata,
                hub=rt.hub,
                cursor=await rt.metadata.last_event_id(),
                poll_interval=opts.poll_interval,
                buffer=opts.client_buffer,
            )
            await self._register_pipelines(rt)
            self.stopping = anyio.Event()
            self.streams_closing = anyio.Event()
            async with anyio.create_task_group() as background:
                background.start_soon(fanout.run)
                background.start_soon(fanout.watch_hub)
                background.start_soon(self._sweep_interrupted, rt.metadata)
                background.start_soon(self._end_streams_on_exit, fanout)
                try:
                    async with anyio.create_task_group() as runs:
                        self._runtime, self._fanout, self._runs_tg = rt, fanout, runs
                        try:
                            yield self
                        finally:
                            self.stopping.set()
                            runs.cancel_scope.cancel()
                finally:
                    fanout.close_all()
                    self._runtime = self._fanout = self._runs_tg = None
                    background.cancel_scope.cancel()

    async def _end_streams_on_exit(self, fanout: EventFanout) -> None:
        # The ASGI server is exiting (sse-starlette sets this event): end every live
        # stream now, so each response finishes cleanly instead of being cut off.
        await self.streams_closing.wait()
        fanout.close_all()

    async def _register_pipelines(self, rt: Runtime) -> None:
        import time

        from ..storage._records import PipelineRecord

        for name, info in self.pipelines.items():
            version = info.code_version
            now = time.time()
            try:
                await rt.metadata.save_pipeline(
                    PipelineRecord(
                        name=name,
                        dag=info.dag_dict,
                        code_version=version,
                        created_at=now,
                        updated_at=now,
                    )
                )
            except StoreError as exc:
                log.warning("could not record pipeline %r in %s: %s", name, rt.store_url, exc)
            else:
                rt.registered[name] = version

    async def _sweep_interrupted(self, store: MetadataStore) -> None:
        while True:
            try:
                ids = await store.mark_interrupted()
            except Exception as exc:  # a failing sweep must not take the server down
                log.warning(
                    "marking interrupted runs in %s failed: %s",
                    store.url,
                    exc,
                    exc_info=not isinstance(exc, StoreError),
                )
            else:
                if ids:
                    log.info("marked %d run(s) interrupted: %s", len(ids), ", ".join(ids))
            await anyio.sleep(self.options.interrupt_interval)

    # ------------------------------------------------------------------ runs
    async def trigger(
        self,
        pipeline: str,
        params: Mapping[str, Any] | None = None,
        *,
        enable_cache: bool | None = None,
        resume_from: str | None = None,
        tags: Sequence[str] = (),
    ) -> str:
        """Start a run of a registered pipeline in the server's task group; return its id.

        Returns once the run is recorded in the store (so ``GET /api/runs/{id}`` finds it),
        or after ``options.start_timeout`` seconds at most.

        :param enable_cache: override the pipeline's ``enable_cache`` for this run
        :param resume_from: resume this run (its parameters apply; ``params`` win)
        :param tags: tags of the run, added to the pipeline's
        :raises NotFoundError: when no pipeline of that name is registered with this server
        :raises PipelineBuildError: for unknown or missing parameters, or a DAG that does not
            compile with them
        :raises TooManyRunsError: when ``options.max_active_runs`` runs execute already
        :raises StoreError: when the server is not running, or the run could not be recorded
        """
        info = self.registered(pipeline)
        values = dict(params or {})
        opts = self.options
        check_limits(values, max_bytes=opts.max_param_bytes, max_depth=opts.max_param_depth)
        if resume_from is None:
            values = validate_params(info, values)
        rt = self.runtime
        tg = self._runs_tg
        if tg is None or self.stopping.is_set():
            raise StoreError("the flowyml server is shutting down; it starts no new runs")
        limit = self.options.max_active_runs
        if limit is not None and len(self._active) >= limit:
            raise TooManyRunsError(limit)
        run_id = new_run_id()
        active = _ActiveRun(run_id=run_id, pipeline=pipeline, scope=anyio.CancelScope())
        self._active[run_id] = active
        recorded = rt.hub.subscribe(run_id, maxsize=math.inf)
        options: dict[str, Any] = {
            "enable_cache": enable_cache,
            "resume_from": resume_from,
            "tags": list(tags),
        }
        try:
            tg.start_soon(self._execute, info.pipeline, active, values, options)
            with anyio.move_on_after(self.options.start_timeout):
                async with anyio.create_task_group() as race:
                    race.start_soon(_then_cancel, recorded.receive, race)
                    race.start_soon(_then_cancel, active.done.wait, race)
        finally:
            recorded.close()
        if active.error is not None and active.done.is_set():
            if isinstance(active.error, StoreError | PipelineBuildError):
                raise active.error
            raise StoreError(f"run {run_id} of {pipeline!r} could not start: {active.error}")
        return run_id

    def registered(self, pipeline: str) -> PipelineInfo:
        """The pipeline registered under that name.

        :raises NotFoundError: when no pipeline of that name is registered with this server
        """
        info = self.pipelines.get(pipeline)
        if info is None:
            registered = ", ".join(sorted(self.pipelines)) or "none"
            raise NotFoundError(
                f"pipeline {pipeline!r} is not registered with this server (registered: "
                f"{registered}); pass it in create_app(pipelines=[...]) or flowyml_router(...)"
            )
        return info

    async def _execute(
        self,
        pipeline: Pipeline,
        active: _ActiveRun,
        params: dict[str, Any],
        options: dict[str, Any],
    ) -> None:
        resume_from: str | None = options["resume_from"]
        enable_cache: bool | None = options["enable_cache"]
        try:
            with active.scope:
                if resume_from is None:
                    await pipeline.arun(
                        run_id=active.run_id,
                        runtime=self._runtime,
                        params=params,
                        enable_cache=enable_cache,
                        tags=options["tags"],
                    )
                else:
                    await pipeline.aresume(
                        resume_from,
                        run_id=active.run_id,
                        runtime=self._runtime,
                        params=params,
                        enable_cache=enable_cache,
                        tags=options["tags"],
                    )
        except Exception as exc:  # a broken run must never take the server down
            active.error = exc
            log.exception("run %s of pipeline %r failed to execute", active.run_id, pipeline.name)
        finally:
            self._active.pop(active.run_id, None)
            active.done.set()

    def cancel(self, run_id: str) -> bool:
        """Cancel a run executing in this server; ``False`` if it is not running here."""
        active = self._active.get(run_id)
        if active is None:
            return False
        active.scope.cancel()
        return True


async def _then_cancel(wait: Any, tg: TaskGroup) -> None:
    try:
        await wait()
    except (anyio.EndOfStream, anyio.ClosedResourceError):
        pass
    tg.cancel_scope.cancel()
