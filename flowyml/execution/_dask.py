"""Run steps on a Dask cluster (``pip install 'flowyml[dask]'``).

Orchestration stays in the driver (the scheduler, events, cache and metadata); each
attempt of a step becomes one Dask task whose outputs stay on the worker that made them
(see :mod:`._dask_worker`).  Downstream steps receive the Dask futures, so data moves
worker to worker; the driver receives each output's metadata, and the value itself only
when it is small.  With a shared artifact store the worker writes the artifacts.

One executor serves any number of runs, at once or in turn: each run holds it while it
runs, and the cluster and client it opened are closed when the last holder leaves
(``async with executor:`` around several runs keeps them open between runs).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import anyio

from ..errors import ConfigError
from ._dask_inputs import condition_on_worker, digest_of, listed, split, stored_handle, stored_list
from ._dask_place import Placement
from ._dask_watch import Watches
from ._dask_worker import (
    PLUGIN,
    StoresPlugin,
    Task,
    pick,
    run_async,
    run_sync,
)
from ._protocol import NOT_INLINE, OutputHandle, SaveTo, StepCall

if TYPE_CHECKING:
    from ..events import ArtifactRef
    from ..storage._records import ArtifactRecord
    from ._group_remote import GroupCall, GroupOutcome

__all__ = ("DaskExecutor",)

log = logging.getLogger("flowyml")

#: URL schemes of stores every worker can reach on its own
_SHARED_SCHEMES: Final = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class DaskExecutor:
    """Executes steps as Dask tasks, keeping their outputs on the workers.

    :param address: a running scheduler (``"tcp://10.0.0.5:8786"``), or an existing
        ``distributed.Client`` created with ``asynchronous=True`` (its owner closes it);
        with neither, a ``LocalCluster`` of worker processes is started on first use
    :param n_workers: how many workers must have joined before the first step is
        submitted (default: the ``LocalCluster``'s size, or 1)
    :param worker_timeout: seconds to wait for them before failing with ``ConfigError``
    :param shared_store: whether a ``file://`` artifact store is on a filesystem every
        worker shares (default: only when all workers run on this machine)
    :param cluster_kwargs: options for the ``LocalCluster`` (default: 2 workers of 1 thread)

    ::

        async with DaskExecutor("tcp://10.0.0.5:8786") as dask:
            first, second = await pipeline.arun(executor=dask), await other.arun(executor=dask)
    """

    def __init__(
        self,
        address: Any = None,
        *,
        n_workers: int | None = None,
        worker_timeout: float = 60.0,
        shared_store: bool | None = None,
        **cluster_kwargs: Any,
    ) -> None:
        self._address = address
        self._cluster_kwargs = {"n_workers": 2, "threads_per_worker": 1, **cluster_kwargs}
        default = self._cluster_kwargs["n_workers"] if address is None else 1
        self._n_workers: int = default if n_workers is None else n_workers
        self._worker_timeout = worker_timeout
        self._shared_store = shared_store
        self._client: Any = None
        self._cluster: Any = None
        self._owns_client = False
        self._holders = 0
        self._lock = anyio.Lock()
        self._place = Placement()
        #: the tasks running now
        self._watches = Watches()
        self._warned: set[str] = set()
        self._worker_hosts: set[str] = set()

    # ------------------------------------------------------------------ lifetime
    async def __aenter__(self) -> Self:
        async with self._lock:
            if self._holders == 0:
                await self._open()
            self._holders += 1
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        async with self._lock:
            self._holders -= 1
            if self._holders == 0:
                await self._close()

    async def aclose(self) -> None:
        """Close the client and cluster this executor opened, whoever still holds it."""
        async with self._lock:
            self._holders = 0
            await self._close()

    async def _open(self) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigError(
                "DaskExecutor needs dask.distributed; install it with pip install 'flowyml[dask]'"
            ) from exc
        try:
            if self._address is not None and not isinstance(self._address, str):
                self._client = self._address  # a ready asynchronous Client
            else:
                target: Any = self._address
                if target is None:
                    self._cluster = target = await LocalCluster(  # type: ignore[no-untyped-call]
                        asynchronous=True,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=":0",
                        **self._cluster_kwargs,
                    )
                self._client = await Client(target, asynchronous=True)  # type: ignore[no-untyped-call]
                self._owns_client = True
            await self._wait_for_workers()
            info = await self._client.scheduler.identity()
            self._worker_hosts = {_host(addr) for addr in info.get("workers", {})}
            await self._client.register_plugin(StoresPlugin(), name=PLUGIN)
            self._watches.open(self._client)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._close()
            raise

    async def _wait_for_workers(self) -> None:
        try:
            with anyio.fail_after(self._worker_timeout):
                await self._client.wait_for_workers(self._n_workers)
        except TimeoutError:
            have = len(self._client.scheduler_info().get("workers", {}))
            raise ConfigError(
                f"DaskExecutor: only {have} of the {self._n_workers} expected Dask workers "
                f"joined the scheduler within {self._worker_timeout:g}s; start more workers "
                f"or pass n_workers={have} (and worker_timeout= to wait longer)"
            ) from None

    async def _close(self) -> None:
        client, cluster, owns = self._client, self._cluster, self._owns_client
        self._client = self._cluster = None
        self._owns_client = False
        self._place = Placement()
        with anyio.CancelScope(shield=True):
            if client is not None:
                self._watches.close()
                if owns:
                    await client.close()
            if cluster is not None:
                await cluster.close()

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use (``None`` while no run holds the executor)."""
        return self._client

    def _open_client(self) -> Any:
        if self._client is None:
            raise RuntimeError("DaskExecutor is not open; runs enter it with 'async with'")
        return self._client

    # ------------------------------------------------------------------ stores
    def shares_store(self, artifacts_url: str) -> bool:
        """Whether the workers can write the run's artifact store themselves.

        Object stores (S3, GCS, Azure) are shared; a local path only when every worker
        runs on this machine, or when ``shared_store=True`` says it is a shared
        filesystem.  Otherwise the outputs are copied to the driver and stored there (a
        warning says so once per store).
        """
        scheme = artifacts_url.split("://", 1)[0] if "://" in artifacts_url else "file"
        if scheme in _SHARED_SCHEMES:
            return True
        shared = False
        if scheme in ("file", "local"):
            shared = self._shared_store if self._shared_store is not None else self._all_local()
        if not shared and artifacts_url not in self._warned:
            self._warned.add(artifacts_url)
            log.warning(
                "DaskExecutor: the artifact store %s is not shared with the Dask workers; "
                "every stored output will be copied to the driver and stored from there "
                "(use an s3://, gs:// or az:// store, or shared_store=True for a shared "
                "filesystem)",
                artifacts_url,
            )
        return shared

    def _all_local(self) -> bool:
        """Whether the workers that had joined when the executor opened run here."""
        hosts = self._worker_hosts
        return self._cluster is not None or (bool(hosts) and hosts <= _LOCAL_HOSTS)

    # ------------------------------------------------------------------ steps
    async def run_step(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], *, is_async: bool, name: str
    ) -> Any:
        """Submit one step call as a Dask task and await its value (no handles)."""
        call = StepCall(
            fn=fn,
            kwargs=kwargs,
            is_async=is_async,
            name=name,
            outputs=("value",),
            resources=None,
            group=None,
            save=None,
        )
        handles = await self.call_step(call)
        return await handles["value"].load()

    async def _submit(
        self,
        client: Any,
        task: tuple[Any, ...],
        key: str,
        restrict: dict[str, Any],
        on_lost: Callable[[str], None],
        placed: StepCall,
        on_member: Callable[[dict[str, Any]], None] | None = None,
    ) -> tuple[Any, Any]:
        """Submit ``task`` (a function and its arguments) as the Dask task ``key`` and wait
        for its outcome; a lost worker is told to ``on_lost``, the events of a group's
        steps to ``on_member``, and where it ran is remembered for ``placed``'s group.
        Return the future and the outcome."""
        watch = self._watches.add(key, on_lost, on_member)
        watch.pinned = (restrict.get("workers") or [None])[0]
        try:
            future = client.submit(*task, key=key, pure=False, **restrict)
            outcome = await self._watches.outcome(future, watch)
        finally:
            self._watches.drop(key)
        if watch.workers:
            self._place.ran(placed, watch.workers[-1])
        return future, outcome

    async def call_step(self, call: StepCall) -> dict[str, OutputHandle]:
        """Run one attempt as a Dask task; return a handle per output."""
        client = self._open_client()
        restrict = await self._place.restrictions(client, call)
        # Every attempt is a new task.  The id comes first so that Dask files every
        # step under one task group ("flowyml"): a group per step name made its
        # scheduler scan all groups on each transition (1,000 steps: 500,000 checks).
        key = f"flowyml-{uuid.uuid4().hex}-{call.name}"
        task = Task(
            fn=call.fn,
            is_async=call.is_async,
            name=call.name,
            outputs=call.outputs,
            asset_params=call.asset_params,
            save=call.save,
            key=key,
            max_log_lines=call.max_log_lines,
            capture_output=call.capture_output,
        )
        lists, rest = _split_lists(call.kwargs)
        plain, upstream, cached = _split_inputs(rest)
        runner = run_async if call.is_async else run_sync
        args = (runner, task, plain, upstream, cached, lists)
        future, described = await self._submit(client, args, key, restrict, call.on_lost, call)
        return self._handles(future, described)

    def _handles(self, future: Any, described: dict[str, Any]) -> dict[str, OutputHandle]:
        """A handle per output of ``future``'s task, from the task's summary of them."""
        return {
            out: OutputHandle(
                ref=ref,
                type_name=type_name,
                fetch=functools.partial(self._fetch, future, out),
                source=(future, out),
                inline=value if small else NOT_INLINE,
            )
            for out, (ref, type_name, small, value) in described.items()
        }

    async def call_group(self, call: GroupCall) -> GroupOutcome:
        """Run a step group's steps in order as one Dask task (see :mod:`._dask_groups`)."""
        from ._dask_groups import submit_group

        return await submit_group(self, call)

    async def elements(self, handle: OutputHandle, *, unwrap: bool, hashed: bool) -> list[Any]:
        """The elements of a list that stayed on a worker: the small ones copied here, each
        large one a handle to a future of its own, split from the list on that worker."""
        client = self._open_client()
        return await split(client, handle, self._fetch, unwrap=unwrap, hashed=hashed)

    async def holds(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], *, asset_params: frozenset[str]
    ) -> bool:
        """Whether ``fn(**kwargs)`` is true, called on a worker (Dask picks one holding
        the inputs); only the answer comes here."""
        lists, rest = _split_lists(kwargs)
        plain, upstream, _ = _split_inputs(rest)  # cached inputs were read already
        client = self._open_client()
        args = (fn, plain, upstream, asset_params, lists)
        return bool(await client.submit(condition_on_worker, *args, pure=False))

    async def store_list(self, value: list[Any], save: SaveTo, out: str) -> ArtifactRef | None:
        """Store a mapped step's list of results from a worker, which gathers its
        elements there (``None`` when the list holds no handle: the driver stores it)."""
        items = listed(value)
        if items is None or not items[2]:  # every element came by value
            return None
        return await stored_list(self._open_client(), items, save, out)

    async def digest(self, handle: OutputHandle) -> str | None:
        """The hash of the value ``handle`` holds, computed on its worker."""
        future, out = handle.source
        digest: str | None = await self._open_client().submit(digest_of, future, out, pure=False)
        return digest

    async def stored(self, record: ArtifactRecord, artifacts_url: str) -> OutputHandle:
        """An earlier run's output, read from the shared store by a worker, as a handle."""
        return await stored_handle(self._open_client(), record, artifacts_url, self._fetch)

    async def _fetch(self, future: Any, out: str) -> Any:
        client = self._open_client()
        return await client.submit(pick, future, out, pure=False)


def _host(address: str) -> str:
    return address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")


def _split_lists(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mapped steps' results holding handles (their elements travel as futures), and the
    other inputs."""
    lists: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for k, v in kwargs.items():
        items = listed(v)
        if items is None:
            rest[k] = v
        else:
            lists[k] = items
    return lists, rest


def _split_inputs(
    kwargs: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, tuple[Any, str]], dict[str, Any]]:
    """Plain values; outputs still on the workers (as ``(future, output)``, which Dask
    resolves on the worker); cached outputs the worker reads from the store."""
    from ._core import Lazy

    plain: dict[str, Any] = {}
    upstream: dict[str, tuple[Any, str]] = {}
    cached: dict[str, Any] = {}
    for k, v in kwargs.items():
        if isinstance(v, OutputHandle) and v.source is not None:
            upstream[k] = v.source
        elif isinstance(v, Lazy):
            cached[k] = v.record
        else:
            plain[k] = v
    return plain, upstream, cached
