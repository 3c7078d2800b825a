"""Persistence of a run: cache keys and lookups, storing outputs, loading cached ones."""

from __future__ import annotations

import functools
import logging
import time
import types
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..assets import Asset
from ..definition._params import Const, FromOutput, FromParam
from ..errors import SerializationError
from ..events import ArtifactRef, StepCached
from ._core import Lazy, RunnerCore, record_to_ref

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode
    from ..storage._records import ArtifactRecord

__all__ = ("PersistenceMixin", "memo_constant_keys")

log = logging.getLogger("flowyml")


# The storage modules are imported on first use (``import flowyml`` stays light), then
# held: an ``import`` statement inside a per-step function costs microseconds each call.
@functools.cache
def _values() -> types.ModuleType:
    from ..storage.artifacts import _values

    return _values


@functools.cache
def _keys() -> types.ModuleType:
    from ..storage import _cache

    return _cache


@functools.cache
def _fingerprints() -> types.ModuleType:
    from ..storage import _fingerprint

    return _fingerprint


class PersistenceMixin(RunnerCore):
    """What a run does with its stores (nothing when it runs without them)."""

    async def _lookup(self, step: str, key: str) -> tuple[str, Mapping[str, ArtifactRecord]] | None:
        """A cache lookup, answered from the run-start snapshot when it can be."""
        assert self.runtime is not None
        snapshot = self._snapshot
        if snapshot is not None:
            entry = snapshot.get(step)
            if entry is None:
                return None  # this step has no cache entry at all
            if entry[0] == key:
                return entry[1], entry[2]
        return await self.runtime.metadata.lookup_cache(key, max_age=self.cache_expiry)

    def _input_ids(self, node: DagNode) -> dict[str, str]:
        ids: dict[str, str] = {}
        refs = self._refs
        for param, b in node.bindings:
            if type(b) is FromOutput:
                ref = refs.get(b.output)
                if ref is not None:
                    ids[param] = ref.id
        return ids

    def _cache_key(self, node: DagNode, kwargs: Mapping[str, Any]) -> str | None:
        """The step's cache key, or ``None`` if an input cannot be hashed (no caching)."""
        try:
            return self._compute_cache_key(node, kwargs)
        except Exception as exc:
            log.debug("step %r is not cached: %s", node.name, exc)
            return None

    def _compute_cache_key(self, node: DagNode, kwargs: Mapping[str, Any]) -> str:
        step = node.step
        whole = node.map_param is None  # not an element of a mapped step
        if whole:
            # A step without inputs or parameters has a single key: computed once.
            known = _constant_keys.get(step)
            if known is not None and known[0] is node.bindings:
                return known[1]
        keys = _keys()
        hash_value = keys.hash_value
        fp = _fingerprint(step)
        params: dict[str, str] = {}
        input_hashes: dict[str, str] = {}
        for param, b in node.bindings:
            kind = type(b)
            if kind is FromOutput:
                ref = self._refs.get(b.output)  # type: ignore[union-attr]
                input_hashes[param] = ref.content_hash if ref else hash_value(kwargs[param])
            elif kind is FromParam or kind is Const:
                params[param] = hash_value(kwargs[param])
        if not whole:  # an element: keyed by its item, not the whole list
            input_hashes.pop(node.map_param, None)  # type: ignore[arg-type]
            params[node.map_param] = hash_value(kwargs[node.map_param])  # type: ignore[index]
        key: str = keys.step_cache_key(fp, step.name, step.outputs, params, input_hashes)
        if whole and not params and not input_hashes:
            _constant_keys[step] = (node.bindings, key)
        return key

    async def _store_outputs(
        self, node: DagNode, outputs: dict[str, Any]
    ) -> dict[str, ArtifactRef]:
        rt = self.runtime
        if rt is None or not node.step.persist:
            return {}
        save_value = _values().save_value
        refs: dict[str, ArtifactRef] = {}
        for out, value in outputs.items():
            try:
                ref = await save_value(
                    rt.artifacts,
                    rt.materializers,
                    value,
                    artifact_id_seed=f"{self.run_id}/{node.name}/{out}",
                    name=out,
                    id_stamp=self._id_stamp,
                    saved=self._saved,
                )
            except SerializationError as exc:
                raise SerializationError(
                    f"step {node.name!r}: output {out!r} cannot be stored: {exc}; register a "
                    f"materializer for its type or use @step(persist=False)"
                ) from exc
            refs[out] = ref
            self._refs[out] = ref
        return refs

    async def _load(self, lazy: Lazy) -> Any:
        rt = self.runtime
        assert rt is not None
        return await _values().load_value(rt.artifacts, rt.materializers, lazy.record)

    async def _realize(self, node: Any, kwargs: dict[str, Any]) -> None:
        """Load the cached inputs this step is about to use (they were left unread)."""
        values = self._values
        assets = node.step.asset_params
        for param, b in node.bindings:
            if type(b) is FromOutput:
                v = kwargs.get(param)
                if type(v) is Lazy:
                    v = values[b.output] = await self._load(v)
                    if isinstance(v, Asset) and param not in assets:
                        v = v.value
                    kwargs[param] = v

    async def _realize_all(self) -> None:
        """Load every cached output still unread, so the result holds values.

        Batched: a few hundred artifacts per store call, so a fully cached run of thousands
        of steps costs a handful of worker-thread hops, not one per output.
        """
        from ..storage.artifacts._values import load_values

        rt = self.runtime
        assert rt is not None
        targets: list[tuple[dict[str, Any], str, Lazy]] = []
        for r in self._results.values():
            targets.extend((r.outputs, k, v) for k, v in r.outputs.items() if type(v) is Lazy)
        for start in range(0, len(targets), 512):
            chunk = targets[start : start + 512]
            try:
                loaded = await load_values(
                    rt.artifacts, rt.materializers, [lazy.record for _, _, lazy in chunk]
                )
            except Exception:  # one bad artifact: load them one by one to find it
                loaded = []
                for container, key, lazy in chunk:
                    try:
                        loaded.append(await self._load(lazy))
                    except Exception as exc:
                        log.warning("cannot load cached output %r: %s", key, exc)
                        loaded.append(lazy)
                        container.pop(key, None)
                        self._values.pop(key, None)
            for (container, key, _), value in zip(chunk, loaded, strict=True):
                if type(value) is Lazy:
                    continue  # could not be loaded (logged above)
                container[key] = value
                if type(self._values.get(key)) is Lazy:
                    self._values[key] = value
        self._lazy = 0

    async def _load_outputs(
        self,
        node: DagNode,
        records: Mapping[str, ArtifactRecord],
        *,
        source_run: str,
        cache_key: str,
        inputs: dict[str, str] | None = None,
        eager: bool = False,
    ) -> bool:
        rt = self.runtime
        assert rt is not None
        if set(records) != set(node.outputs):
            if len(records) != 1 or len(node.outputs) != 1:
                return False
            records = {node.outputs[0]: next(iter(records.values()))}
        loaded: dict[str, Any] = {}
        refs: dict[str, ArtifactRef] = {}
        for out, rec in records.items():
            refs[out] = record_to_ref(rec)
            loaded[out] = Lazy(rec)  # read only if a running step needs it (or at the end)
        if eager:
            try:
                for out, rec in records.items():
                    loaded[out] = await _values().load_value(rt.artifacts, rt.materializers, rec)
            except Exception as exc:
                log.warning("stored outputs of %r are unreadable (%s); running it", node.name, exc)
                return False
        else:
            self._lazy += len(loaded)
        self._values.update(loaded)
        self._refs.update(refs)
        self._results[node.name].outputs = loaded
        self._emit(
            StepCached(
                run_id=self.run_id,
                ts=time.time(),
                step=node.name,
                cache_key=cache_key,
                outputs=refs,
                source_run_id=source_run,
                inputs=inputs or {},
            )
        )
        return True


def _fingerprint(step: Any) -> str:
    return _fingerprints().fingerprint_of(step)  # type: ignore[no-any-return]


#: step -> (its bindings, its cache key) for steps whose key needs no input or parameter:
#: such a key depends only on the step's code, name and outputs.  Held weakly, here, so
#: that users' step objects carry no state of the engine's.
_constant_keys: weakref.WeakKeyDictionary[Any, tuple[Any, str]] = weakref.WeakKeyDictionary()


def memo_constant_keys(dag: Dag) -> None:
    """Compute, once, the cache key of every cached step that takes no input or parameter.

    Such a key depends only on the step's code, name and outputs, so it is remembered for
    the step (where :meth:`PersistenceMixin._compute_cache_key` finds it).  Called in a
    worker thread before the run starts: a run of 1,000 input-less steps then computes no
    key on the event loop, where each one costs ~10 us between task starts (against ~4 us
    in one go here).
    """
    step_cache_key = _keys().step_cache_key
    for node in dag.order:
        step = node.step
        if node.map_param is not None or not (step.cache and step.persist):
            continue
        if any(type(b) in _VALUED for _, b in node.bindings):
            continue
        known = _constant_keys.get(step)
        if known is not None and known[0] is node.bindings:
            continue
        key = step_cache_key(_fingerprint(step), step.name, step.outputs, {}, {})
        _constant_keys[step] = (node.bindings, key)


#: bindings whose value is part of a cache key
_VALUED = (FromOutput, FromParam, Const)
