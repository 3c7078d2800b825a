"""Run steps on a Dask cluster (``pip install 'flowyml[dask]'``).

Orchestration stays in the driver — the scheduler, events, cache and metadata — and each
step that actually executes becomes one Dask task.  Inputs and outputs travel through Dask
(pickled with cloudpickle); for very large values, prefer steps that exchange paths or URLs
in a shared store (S3, a shared filesystem).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import anyio

from ..errors import ConfigError

__all__ = ("DaskExecutor",)


def _call_async(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """On a worker: run an ``async def`` step in a fresh event loop."""
    return asyncio.run(fn(**kwargs))


class DaskExecutor:
    """Executes steps as Dask tasks.

    :param address: a running scheduler (``"tcp://127.0.0.1:8786"``), or an existing
        ``distributed.Client`` created with ``asynchronous=True``; with neither, a
        ``LocalCluster`` of worker processes is started for the run and closed after it
    :param cluster_kwargs: options for that ``LocalCluster`` (default: 2 workers of 1 thread)

    ::

        result = await pipeline.run(executor=DaskExecutor("tcp://10.0.0.5:8786"))
    """

    def __init__(self, address: Any = None, **cluster_kwargs: Any) -> None:
        self._address = address
        self._cluster_kwargs = {"n_workers": 2, "threads_per_worker": 1, **cluster_kwargs}
        self._client: Any = None
        self._cluster: Any = None
        self._owns_client = False

    async def __aenter__(self) -> Self:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigError(
                "DaskExecutor needs dask.distributed; install it with pip install 'flowyml[dask]'"
            ) from exc
        if self._address is not None and not isinstance(self._address, str):
            self._client = self._address  # a ready asynchronous Client
            return self
        if self._address is None:
            self._cluster = await LocalCluster(  # type: ignore[no-untyped-call]
                asynchronous=True,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                **self._cluster_kwargs,
            )
            target: Any = self._cluster
        else:
            target = self._address
        self._client = await Client(target, asynchronous=True)  # type: ignore[no-untyped-call]
        self._owns_client = True
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        with anyio.CancelScope(shield=True):
            if self._owns_client and self._client is not None:
                await self._client.close()
            if self._cluster is not None:
                await self._cluster.close()
        self._client = self._cluster = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use (``None`` outside ``async with``)."""
        return self._client

    async def run_step(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], *, is_async: bool, name: str
    ) -> Any:
        """Submit one step call as a Dask task and await its result."""
        if self._client is None:
            raise RuntimeError("DaskExecutor is not open; the run enters it with 'async with'")
        key = f"{name}-{uuid.uuid4().hex}"  # every attempt is a new task
        if is_async:
            future = self._client.submit(_call_async, fn, kwargs, key=key, pure=False)
        else:
            future = self._client.submit(fn, **kwargs, key=key, pure=False)
        try:
            return await future
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await future.cancel()
            raise
