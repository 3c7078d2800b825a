"""The DAG answers of runs, encoded once: a 10,000-step DAG is 5 MB of JSON.

Decoding it from the store, validating it and compressing it took a second or more per
request, so the first nodes of a big run waited on the server.  A :class:`DagCache`
keeps the encoded JSON and its gzip form per pipeline version (name, code version and when
it was recorded) and, once a run has finished, per run: its DAG never changes after that,
so a finished run's DAG is served without reading the store at all.  Encoding and compressing run in a
worker thread, never on the event loop, and concurrent requests for the same DAG wait
for one encoding instead of each doing their own.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

if TYPE_CHECKING:
    from ..storage._records import RunRecord
    from ._service import FlowymlServer

__all__ = ("DagCache", "DagPayload", "Encoded", "graph_only")

log = logging.getLogger("flowyml.server")
_encoder = msgspec.json.Encoder()


@dataclass(slots=True, frozen=True, kw_only=True)
class Encoded:
    """A JSON answer: its bytes, the bytes gzipped, and an entity tag."""

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, value: Any) -> Encoded:
        body = _encoder.encode(value)
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        # level 6 is 3x smaller than level 1 for this JSON and costs ~0.1 s at 10,000
        # steps, paid once per pipeline version
        return cls(body=body, gzipped=gzip.compress(body, 6, mtime=0), etag=f'"{digest}"')


@dataclass(slots=True, frozen=True, kw_only=True)
class DagPayload:
    """One DAG, ready to send: the decoded form (for small DAGs inlined in a run's answer),
    the whole DAG encoded, and its graph alone (:func:`graph_only`) encoded."""

    size: int
    dag: dict[str, Any]
    full: Encoded
    graph: Encoded


#: what drawing a step needs; the rest (function, bindings, options, ...) is 3/4 of the bytes
_GRAPH_FIELDS = ("id", "name", "outputs", "is_async")


def graph_only(dag: dict[str, Any]) -> dict[str, Any]:
    """``dag`` with only the node fields a drawing needs (id, name, outputs, is_async)."""
    nodes = [{k: n[k] for k in _GRAPH_FIELDS if k in n} for n in dag.get("nodes", ())]
    return {**dag, "nodes": nodes}


def _encode(dag: dict[str, Any]) -> DagPayload:
    return DagPayload(
        size=len(dag.get("nodes", ())),
        dag=dag,
        full=Encoded.of(dag),
        graph=Encoded.of(graph_only(dag)),
    )


@dataclass(slots=True, eq=False)
class _Lru:
    capacity: int
    items: OrderedDict[Any, DagPayload] = field(default_factory=OrderedDict)

    def get(self, key: Any) -> DagPayload | None:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, key: Any, value: DagPayload) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.capacity:
            self.items.popitem(last=False)


class DagCache:
    """Encoded DAGs of runs, per pipeline version and per finished run.

    :param versions: pipeline versions kept (least recently used go first)
    :param runs: finished runs remembered (each refers to a kept or dropped version's payload)
    """

    def __init__(self, *, versions: int = 8, runs: int = 256) -> None:
        self._versions = _Lru(versions)
        self._runs = _Lru(runs)
        self._pending: dict[tuple[str, str, float], anyio.Event] = {}

    async def of_run(self, server: FlowymlServer, run: RunRecord) -> DagPayload | None:
        """The DAG of ``run``'s pipeline, or ``None`` when neither the store nor the server
        knows it."""
        found = self._runs.get(run.run_id)
        if found is not None:
            return found
        payload = await self._of_pipeline(server, run.pipeline)
        if payload is not None and run.status != "running":
            self._runs.put(run.run_id, payload)
        return payload

    async def warm(self, server: FlowymlServer) -> None:
        """Encode the DAGs of the server's registered pipelines ahead of the first request."""
        for name in list(server.pipelines):
            try:
                await self._of_pipeline(server, name)
            except Exception as exc:  # a cold cache only costs the first request some time
                log.warning("could not prepare the DAG of pipeline %r: %s", name, exc)

    async def _of_pipeline(self, server: FlowymlServer, name: str) -> DagPayload | None:
        record = await server.store.get_pipeline(name)
        if record is not None:
            dag, key = record.dag, (name, record.code_version, record.updated_at)
        elif name in server.pipelines:
            info = server.pipelines[name]
            dag, key = info.dag_dict, (name, info.code_version, 0.0)
        else:
            return None
        while (pending := self._pending.get(key)) is not None:
            await pending.wait()
        found = self._versions.get(key)
        if found is not None:
            return found
        done = self._pending[key] = anyio.Event()
        try:
            payload = await anyio.to_thread.run_sync(_encode, dag)
            self._versions.put(key, payload)
        finally:
            del self._pending[key]
            done.set()
        return payload
