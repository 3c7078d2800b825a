"""Element-wise chaining of mapped steps: ``parse.map(fetch.map(urls))``.

A mapped step that other mapped steps are chained to (see ``Dag.streams``) announces the
end of each of its elements on a :class:`Feed`.  The scheduler starts the chained maps as
soon as the upstream map starts its elements, and each of them follows the feed: its
element ``i`` starts when element ``i`` upstream succeeds, under the same window and
limits as any map.  What the chained map does with an element that did not succeed
upstream:

* failed upstream, and the chained step takes partial results (``allow_partial``): its
  element ``i`` is skipped, the others run;
* failed upstream otherwise: the chained map starts no more elements, lets the running
  ones finish and is skipped (as a step whose upstream failed is), with its dependents;
* skipped upstream (a chained map that let it go): its element ``i`` is skipped too.

The chained map's result is the list of its elements' results in input order, without the
skipped ones, as a map over the upstream's (partial) list would give.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.lowlevel

from ..events import StepSkipped, StepStarted
from ._core import Element, Emit, Lazy, RunState
from ._handles import chained_item
from ._spawn import BATCH

if TYPE_CHECKING:
    from ..compile._dag import DagNode
    from ._persist import Persistence

__all__ = ("CUT", "DROPPED", "FAILED", "OK", "Chains", "Feed", "Follow")

#: how an element ended, as its chained maps see it (0: not yet)
OK, FAILED, DROPPED = 1, 2, 3

#: the outcome of a chained map that stopped because its upstream map failed
CUT = object()


class _Reader:
    """One chained map's queue of the upstream elements that ended, in the order they did."""

    __slots__ = ("_ended", "_queue", "_wake")

    def __init__(self) -> None:
        self._queue: deque[int] = deque()
        self._ended = False
        self._wake: anyio.Event | None = None

    def push(self, index: int) -> None:
        self._queue.append(index)
        if self._wake is not None:
            self._wake.set()

    def end(self) -> None:
        self._ended = True
        if self._wake is not None:
            self._wake.set()

    async def next(self) -> int | None:
        """The next element that ended upstream; ``None`` once all of them were read."""
        while not self._queue:
            if self._ended:
                return None
            self._wake = anyio.Event()
            await self._wake.wait()
            self._wake = None
        return self._queue.popleft()


class Feed:
    """The ends of one mapped step's elements, for the mapped steps chained to it.

    ``results`` is the map's own list of element results (filled as elements succeed),
    ``status[i]`` how element ``i`` ended (:data:`OK`, :data:`FAILED`, :data:`DROPPED`,
    0 while it runs), and ``cause`` the step whose failure makes its failed elements fail
    (itself, or for a map cut short, the upstream map that failed).  ``cut``: the map
    failed or was skipped as a whole, which cuts the maps chained to it short too.
    """

    __slots__ = ("_readers", "cause", "closed", "cut", "node", "results", "status")

    def __init__(self, node: DagNode, results: list[Any]) -> None:
        self.node = node
        self.results = results
        self.status = bytearray(len(results))
        self.cause = node.name
        self.closed = False
        self.cut = False
        self._readers: list[_Reader] = []

    def settle(self, index: int, status: int) -> None:
        """Element ``index`` ended with ``status``: tell every reader."""
        if self.status[index]:
            return
        self.status[index] = status
        for reader in self._readers:
            reader.push(index)

    def close(self, *, cut: bool) -> None:
        """The map is over (``cut``: as a failure): an element that never ended counts as
        failed."""
        self.cut = cut
        for i, s in enumerate(self.status):
            if not s:
                self.settle(i, FAILED)
        self.closed = True
        for reader in self._readers:
            reader.end()

    def reader(self) -> _Reader:
        """A new reader, given the elements that ended so far first."""
        reader = _Reader()
        for i, s in enumerate(self.status):
            if s:
                reader.push(i)
        if self.closed:
            reader.end()
        self._readers.append(reader)
        return reader

    def forget(self, reader: _Reader) -> None:
        """``reader`` stops reading (its map was cut short)."""
        self._readers.remove(reader)


class Follow:
    """One chained map following its upstream map's feed."""

    __slots__ = ("cut", "dropped", "feed", "node", "source")

    def __init__(self, node: DagNode, source: Feed, feed: Feed | None) -> None:
        self.node = node
        self.source = source
        #: this map's own feed, if maps are chained to it in turn
        self.feed = feed
        #: the elements skipped because theirs upstream did not succeed
        self.dropped: set[int] = set()
        #: the upstream map failed and this one cannot take partial results
        self.cut = False


class Chains:
    """The feeds of one run's mapped steps, and what a chained element needs from them.

    :param streams: the DAG's chains: mapped step -> the mapped steps chained to it
    :param streaming: told when a mapped step with chained maps starts its elements (the
        runner then starts the chained maps that wait for nothing else)
    """

    def __init__(
        self,
        *,
        run_id: str,
        state: RunState,
        emit: Emit,
        persistence: Persistence | None,
        remote: Any,
        streams: Mapping[int, Sequence[int]],
        streaming: Callable[[DagNode], None],
    ) -> None:
        self.run_id = run_id
        self.state = state
        self.emit = emit
        self.persistence = persistence
        self.remote = remote
        self.streams = streams
        self.streaming = streaming
        self._feeds: dict[int, Feed] = {}

    def open(self, node: DagNode, results: list[Any]) -> Feed | None:
        """A feed for ``node``'s elements if maps are chained to it (they may start now)."""
        if node.index not in self.streams:
            return None
        feed = self._feeds[node.index] = Feed(node, results)
        self.streaming(node)
        return feed

    def source(self, node: DagNode) -> Feed | None:
        """The feed ``node`` follows: ``None`` when it is not chained, or when its upstream
        map did not stream its elements (resumed or cached whole: the list is there)."""
        return None if node.chain is None else self._feeds.get(node.chain)

    def reason(self, node: DagNode) -> str:
        """Why the dependents of ``node``, a chained map cut short, are skipped."""
        assert node.chain is not None
        feed = self._feeds.get(node.index) or self._feeds[node.chain]
        return f"upstream step {feed.cause!r} failed"

    def announcing(
        self, feed: Feed, run: Callable[[int], Coroutine[Any, Any, None]]
    ) -> Callable[[int], Coroutine[Any, Any, None]]:
        """``run`` (an element's task), telling ``feed`` how the element ended."""
        elements = self.state.results.elements(feed.node.name)
        assert elements is not None

        async def element(index: int) -> None:
            try:
                await run(index)
            finally:
                status = elements.status(index) or "failed"
                ok = status in ("succeeded", "cached")
                feed.settle(index, OK if ok else DROPPED if status == "skipped" else FAILED)

        return element

    def _hashed(self, el: Element) -> bool:
        """Whether ``el``'s cache key is made from its item's hash by flowyml."""
        store, step = self.persistence, el.step
        return (
            store is not None
            and store.cache_on
            and step.cache
            and step.persist
            and isinstance(step.cache_by, str)
        )

    async def take(self, source: Feed, el: Element) -> tuple[Any, dict[str, str]]:
        """Element ``el``'s item (upstream element ``el.index``'s value, read if it was
        cached) and its input's artifact id (the lineage of the element)."""
        i = el.index
        value = source.results[i]
        out = f"{source.node.outputs[0]}[{i}]"
        store = self.persistence
        if isinstance(value, Lazy) and store is not None:
            # a large one is read by a worker when the executor can (then it stays there)
            there = None if store.there is None else await store.there.read(value.record)
            value = source.results[i] = there or await store.load(value)  # its result's too
            if out in self.state.values:
                self.state.values[out] = value
            self.state.lazy = max(0, self.state.lazy - 1)
        if self.remote is not None:  # an element that stayed on a worker stays there
            value = await chained_item(self.remote, value, hashed=self._hashed(el))
        ref = self.state.refs.get(out)
        assert el.map_param is not None
        return value, ({} if ref is None else {el.map_param: ref.id})

    async def follow(
        self,
        tg: anyio.abc.TaskGroup,
        run: Callable[[int], Coroutine[Any, Any, None]],
        follow: Follow,
        window: int | None,
    ) -> None:
        """Start ``run(i)`` for each element ``i`` as it succeeds upstream, at most
        ``window`` at once (``None``: no bound); return once the upstream map is over or
        this one is cut short.  The other elements are skipped or cut, as the module says."""
        source = follow.source
        reader = source.reader()
        free = window or 0
        wake = anyio.Event()

        async def bounded(index: int) -> None:
            nonlocal free
            try:
                await run(index)
            finally:
                free += 1
                wake.set()

        started = 0
        while (index := await reader.next()) is not None:
            status = source.status[index]
            if status != OK:
                if not self._gap(follow, index, status):
                    source.forget(reader)
                    return
                continue
            if window is None:
                tg.start_soon(run, index)
            else:
                while not free:
                    await wake.wait()
                    wake = anyio.Event()
                free -= 1
                tg.start_soon(bounded, index)
            started += 1
            if started % BATCH == 0:
                await anyio.lowlevel.checkpoint()  # let the batch run before the next
        if source.cut:  # its elements succeeded, but the map failed (or was skipped)
            self._cut(follow)

    def _gap(self, follow: Follow, index: int, status: int) -> bool:
        """Upstream element ``index`` did not succeed: skip this map's element ``index``
        (``True``), or cut the whole map short (``False``)."""
        node, source = follow.node, follow.source
        if status == FAILED and (source.cut or not node.step.allow_partial):
            self._cut(follow)
            return False
        elements = self.state.results.elements(node.name)
        assert elements is not None
        r = elements.add(index)
        name = r.name
        what = "failed" if status == FAILED else "was skipped"
        reason = f"upstream element '{source.node.name}[{index}]' {what}"
        self.emit(StepSkipped(run_id=self.run_id, ts=time.time(), step=name, reason=reason), r)
        follow.dropped.add(index)
        if follow.feed is not None:
            follow.feed.settle(index, DROPPED)
        return True

    def _cut(self, follow: Follow) -> None:
        follow.cut = True
        if follow.feed is not None:
            follow.feed.cause = follow.source.cause

    def record_inputs(self, follow: Follow, inputs: dict[str, str]) -> None:
        """Once the upstream map stored its list, record it as the chained map's input
        (its ``step_started`` event could not name it: it was not stored yet)."""
        node = follow.node
        ref = self.state.refs.get(follow.source.node.outputs[0])
        if ref is None or node.map_param is None or node.map_param in inputs:
            return
        full = {**inputs, node.map_param: ref.id}
        self.emit(
            StepStarted(run_id=self.run_id, ts=time.time(), step=node.name, inputs=full), None
        )
