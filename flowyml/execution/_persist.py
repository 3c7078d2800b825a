"""What a run does with its stores: cache keys and lookups, saving outputs, loading them."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from .._ids import time_stamp
from ..assets import Asset
from ..definition._params import Const, FromOutput, FromParam
from ..definition._shared import Shared
from ..errors import SerializationError
from ..events import ArtifactRef, StepCached
from ..storage import _cache as keys
from ..storage._fingerprint import fingerprint_of
from ..storage.artifacts._values import load_value, load_values, save_value
from ._core import Emit, Lazy, RunState, Snapshot, record_to_ref
from ._handles import local_value
from ._protocol import OutputHandle

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode
    from ..storage._records import ArtifactRecord
    from ._handles import OnWorkers
    from ._runtime import Runtime

__all__ = ("Persistence", "precompute_constant_keys")

log = logging.getLogger("flowyml")

#: records loaded per store call when many cached outputs are read at once
_LOAD_BATCH = 512


class Persistence:
    """A run's use of its stores.  The runner has one only when the run persists.

    :param runtime: the open stores
    :param state: the run's values and results (cache hits are written there)
    :param emit: records an event (a cache hit is a ``step_cached`` event)
    :param cache_on: whether cache lookups are made
    :param snapshot: the cache entries of the run's steps, read before it started
    """

    def __init__(
        self,
        *,
        runtime: Runtime,
        state: RunState,
        emit: Emit,
        run_id: str,
        cache_on: bool,
        cache_expiry: float | None,
        snapshot: Snapshot | None,
    ) -> None:
        self.runtime = runtime
        self.state = state
        self.emit = emit
        self.run_id = run_id
        self.cache_on = cache_on
        self.cache_expiry = cache_expiry
        # Without a snapshot, cache lookups query the store.
        self.snapshot = snapshot if cache_on else None
        #: the first digits of the ids of the outputs that remote workers store (the run's
        #: start time; see flowyml._ids).  Outputs stored here get the time they are
        #: stored: the ids of a long run (a map's 100,000 elements) then grow at one end
        #: of the store's index instead of landing all over the run's stretch of it.
        self.id_stamp = ""
        #: whether outputs may be handles to values on remote workers
        self.remote = False
        #: stores and reads where the steps run, when the executor can (see StepCalls)
        self.there: OnWorkers | None = None

    # ------------------------------------------------------------------ cache
    def cache_key(self, node: Any, kwargs: Mapping[str, Any]) -> str | None:
        """The step's cache key, or ``None`` when it is not cached (or an input cannot be
        hashed)."""
        if not (self.cache_on and node.step.cache and node.step.persist):
            return None
        try:
            return _cache_key(node, kwargs, self.state.refs)
        except Exception as exc:
            log.debug("step %r is not cached: %s", node.name, exc)
            return None

    async def key_for(self, node: Any, kwargs: dict[str, Any]) -> str | None:
        """:meth:`cache_key`, or for a step cached by a key function (``@step(cache=fn)``)
        the key made from what the function returns (called in a worker thread, with the
        step's inputs loaded)."""
        by = node.step.cache_by
        if isinstance(by, str) or not (self.cache_on and node.step.cache and node.step.persist):
            return self.cache_key(node, kwargs)
        if self.state.lazy:
            await self.realize(node, kwargs)
        return await anyio.to_thread.run_sync(_custom_key, node, kwargs, by)

    async def lookup(self, step: str, key: str) -> tuple[str, Mapping[str, ArtifactRecord]] | None:
        """A cache lookup, answered from the run-start snapshot when it can be."""
        snapshot = self.snapshot
        if snapshot is not None:
            entry = snapshot.get(step)
            if entry is None:
                return None  # this step has no cache entry at all
            if entry[0] == key:
                return entry[1], entry[2]
        return await self.runtime.metadata.lookup_cache(key, max_age=self.cache_expiry)

    def input_ids(self, node: DagNode) -> dict[str, str]:
        """The artifact ids of the stored outputs ``node`` reads, by parameter."""
        refs = self.state.refs
        ids: dict[str, str] = {}
        for param, b in node.bindings:
            if isinstance(b, FromOutput) and (ref := refs.get(b.output)) is not None:
                ids[param] = ref.id
        return ids

    # ------------------------------------------------------------------ saving
    async def store_outputs(self, node: Any, outputs: dict[str, Any]) -> dict[str, ArtifactRef]:
        """Save each output as an artifact; return their references by output name."""
        if not node.step.persist:
            return {}
        rt = self.runtime
        refs: dict[str, ArtifactRef] = {}
        for out, value in outputs.items():
            if isinstance(value, OutputHandle) and value.ref is not None:
                refs[out] = self.state.refs[out] = value.ref  # a remote worker stored it
                continue
            if self.remote:  # made remotely: stored there when it can be, else copied here
                ref = None if self.there is None else await self.there.store(node, out, value)
                if ref is not None:
                    refs[out] = self.state.refs[out] = ref
                    continue
                value = await local_value(value)
            try:
                ref = await save_value(
                    rt.artifacts,
                    rt.materializers,
                    value,
                    artifact_id_seed=f"{self.run_id}/{node.name}/{out}",
                    name=out,
                    id_stamp=time_stamp(time.time()),
                )
            except SerializationError as exc:
                raise SerializationError(
                    f"step {node.name!r}: output {out!r} cannot be stored: {exc}; register a "
                    f"materializer for its type or use @step(persist=False)"
                ) from exc
            refs[out] = ref
            self.state.refs[out] = ref
        return refs

    # ------------------------------------------------------------------ loading
    async def load(self, lazy: Lazy) -> Any:
        rt = self.runtime
        return await load_value(rt.artifacts, rt.materializers, lazy.record)

    async def load_outputs(
        self,
        node: Any,
        records: Mapping[str, ArtifactRecord],
        *,
        source_run: str,
        cache_key: str,
        inputs: dict[str, str] | None = None,
    ) -> bool:
        """Take ``records`` as ``node``'s outputs (a cache hit or a resumed step): emit
        ``step_cached``; the values are read only when needed.  ``False`` if the records
        do not match the step's outputs (it runs instead)."""
        if set(records) != set(node.outputs):
            if len(records) != 1 or len(node.outputs) != 1:
                return False
            records = {node.outputs[0]: next(iter(records.values()))}
        state = self.state
        refs = {out: record_to_ref(rec) for out, rec in records.items()}
        loaded = {out: Lazy(rec) for out, rec in records.items()}
        state.lazy += len(loaded)
        state.values.update(loaded)
        state.refs.update(refs)
        state.results[node.name].outputs = loaded
        event = StepCached(
            run_id=self.run_id,
            ts=time.time(),
            step=node.name,
            cache_key=cache_key,
            outputs=refs,
            source_run_id=source_run,
            inputs=inputs or {},
        )
        self.emit(event, None)
        return True

    async def realize(self, node: Any, kwargs: dict[str, Any]) -> None:
        """Load the cached inputs this step is about to use (they were left unread)."""
        values = self.state.values
        assets = node.step.asset_params
        for param, b in node.bindings:
            v = kwargs.get(param)
            if isinstance(b, FromOutput) and isinstance(v, Lazy):
                v = values[b.output] = await self.load(v)
                if isinstance(v, Asset) and param not in assets:
                    v = v.value
                kwargs[param] = v

    async def realize_elements(self, node: DagNode, results: list[Any]) -> None:
        """Load the elements of a mapped step that came from the cache or a resumed run,
        and keep the values on their step results too."""
        lazy = [i for i, r in enumerate(results) if isinstance(r, Lazy)]
        out = node.outputs[0]
        rt = self.runtime
        count = len(lazy)
        if self.there is not None:  # large ones are read where the steps run, if they can be
            left = []
            for i in lazy:
                handle = await self.there.read(results[i].record)
                if handle is None:
                    left.append(i)
                    continue
                results[i] = handle
                self.state.results[f"{node.name}[{i}]"].outputs = {f"{out}[{i}]": handle}
            lazy = left
        for start in range(0, len(lazy), _LOAD_BATCH):
            chunk = lazy[start : start + _LOAD_BATCH]
            values = await load_values(
                rt.artifacts, rt.materializers, [results[i].record for i in chunk]
            )
            for i, value in zip(chunk, values, strict=True):
                results[i] = value
                self.state.results[f"{node.name}[{i}]"].outputs = {f"{out}[{i}]": value}
        self.state.lazy = max(0, self.state.lazy - count)

    async def realize_all(self) -> None:
        """Load every cached output still unread, so the run's result holds values.

        A few hundred artifacts per store call: a fully cached run of thousands of steps
        costs a handful of worker-thread hops, not one per output.  An artifact that
        cannot be read is logged and left out of the result.
        """
        state = self.state
        targets: list[tuple[dict[str, Any], str, Lazy]] = []
        for r in state.results.values():
            targets.extend((r.outputs, k, v) for k, v in r.outputs.items() if isinstance(v, Lazy))
        for start in range(0, len(targets), _LOAD_BATCH):
            chunk = targets[start : start + _LOAD_BATCH]
            for (container, key, lazy), value in zip(
                chunk, await self._load_chunk(chunk), strict=True
            ):
                if value is lazy:  # unreadable (logged)
                    container.pop(key, None)
                    state.values.pop(key, None)
                    continue
                container[key] = value
                if state.values.get(key) is lazy:
                    state.values[key] = value
        state.lazy = 0

    async def _load_chunk(self, chunk: list[tuple[dict[str, Any], str, Lazy]]) -> list[Any]:
        rt = self.runtime
        try:
            return await load_values(rt.artifacts, rt.materializers, [t[2].record for t in chunk])
        except Exception:  # one bad artifact: load them one by one to find it
            loaded: list[Any] = []
            for _, key, lazy in chunk:
                try:
                    loaded.append(await self.load(lazy))
                except Exception as exc:
                    log.warning("cannot load cached output %r: %s", key, exc)
                    loaded.append(lazy)
            return loaded


# --------------------------------------------------------------------------- cache keys

#: step -> (its bindings, its cache key) for steps whose key needs no input or parameter:
#: such a key depends only on the step's code, name and outputs.  Held weakly, here, so
#: that users' step objects carry no state of the engine's.
_constant_keys: weakref.WeakKeyDictionary[Any, tuple[Any, str]] = weakref.WeakKeyDictionary()


#: what stands for the code in the keys of ``cache="input_hash"`` steps (never a sha256)
_ANY_CODE = "input_hash"


def _code(step: Any) -> str:
    return _ANY_CODE if step.cache_by == _ANY_CODE else fingerprint_of(step)


def _custom_key(node: Any, kwargs: Mapping[str, Any], by: Callable[..., Any]) -> str | None:
    """The key of a step cached by a key function: its code and what ``by`` returns for
    its inputs and parameters (``None`` from ``by``, or an error, means "run it")."""
    inputs: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for param, b in node.bindings:
        if isinstance(b, FromOutput) or param == node.map_param:
            inputs[param] = kwargs[param]
        elif isinstance(b, FromParam | Const) and not isinstance(kwargs[param], Shared):
            params[param] = kwargs[param]
    step = node.step
    try:
        made = by(inputs, params)
        if made is None:
            return None
        custom = {"key": keys.hash_value(made)}
    except Exception as exc:
        log.warning("step %r is not cached: its cache function failed: %r", node.name, exc)
        return None
    return keys.step_cache_key(fingerprint_of(step), step.name, step.outputs, custom, {})


def _cache_key(node: Any, kwargs: Mapping[str, Any], refs: Mapping[str, ArtifactRef]) -> str:
    step = node.step
    whole = node.map_param is None  # not an element of a mapped step
    if whole:
        known = _constant_keys.get(step)
        if known is not None and known[0] is node.bindings:
            return known[1]
    params: dict[str, str] = {}
    input_hashes: dict[str, str] = {}
    for param, b in node.bindings:
        match b:
            case FromOutput(output=output) if whole or param != node.map_param:
                ref = refs.get(output)
                input_hashes[param] = ref.content_hash if ref else keys.hash_value(kwargs[param])
            case FromParam() | Const() if not isinstance(kwargs[param], Shared):
                params[param] = keys.hash_value(kwargs[param])
    if not whole:  # an element: keyed by its item, not the whole list
        input_hashes.pop(node.map_param, None)
        item = kwargs[node.map_param]
        digest = item.digest if isinstance(item, OutputHandle) else None  # hashed remotely
        params[node.map_param] = digest or keys.hash_value(item)
    key = keys.step_cache_key(_code(step), step.name, step.outputs, params, input_hashes)
    if whole and not params and not input_hashes:
        _constant_keys[step] = (node.bindings, key)
    return key


def precompute_constant_keys(dag: Dag) -> None:
    """Compute, once, the cache key of every cached step that takes no input or parameter.

    Such a key depends only on the step's code, name and outputs.  Called in a worker
    thread before the run starts (fingerprinting reads source files), so a run of many
    input-less steps computes no key on the event loop.
    """
    for node in dag.order:
        step = node.step
        if node.map_param is not None or not (step.cache and step.persist):
            continue
        if not isinstance(step.cache_by, str):
            continue  # keyed by the user's function, at run time
        if any(isinstance(b, FromOutput | FromParam | Const) for _, b in node.bindings):
            continue
        known = _constant_keys.get(step)
        if known is None or known[0] is not node.bindings:
            key = keys.step_cache_key(_code(step), step.name, step.outputs, {}, {})
            _constant_keys[step] = (node.bindings, key)
