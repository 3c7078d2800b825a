"""What the driver reads of outputs that stay on a Dask cluster, read where they are.

The list a mapped step reads stays on the worker that made it: a task there describes
its elements, the small ones (by value, up to :data:`INLINE_TOTAL` bytes in all) come to
the driver, and each larger one becomes a Dask future of its own, taken from the list on
that worker, so that each element's step receives only its element, wherever it runs.
A condition is called on a worker that holds its inputs; only its answer comes back.
A mapped step's results travel to the step that reads them (and to the worker that stores
the whole list) as their elements' futures, not by way of the driver; an earlier run's
output that the driver would read is read from the shared store by a worker instead.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..assets import Asset
from ..results import PartialResults
from ..storage import _cache as keys
from ..storage.artifacts._materializers import type_name_of
from ._dask_worker import INLINE_BYTES, Listed, Outcome, assemble, load_stored, store_listed
from ._protocol import OutputHandle

if TYPE_CHECKING:
    from ..events import ArtifactRef
    from ..storage._records import ArtifactRecord
    from ._protocol import SaveTo

__all__ = (
    "INLINE_TOTAL",
    "condition_on_worker",
    "describe_items",
    "digest_of",
    "item_of",
    "listed",
    "split",
    "stored_handle",
    "stored_list",
)

#: the most bytes of small elements one list sends to the driver; the rest stay
INLINE_TOTAL: Final = 16 * 2**20

#: one element: (whether it came by value, the value then, its type, its digest)
Item = tuple[bool, Any, str, "str | None"]


def _value(outcome: Outcome, out: str, unwrap: bool) -> Any:
    value = outcome.values[out]
    return value.value if unwrap and isinstance(value, Asset) else value


def describe_items(outcome: Outcome, out: str, unwrap: bool, hashed: bool) -> list[Item]:
    """On the worker holding the list: each element, by value when small.

    :raises TypeError: when the value is not iterable
    """
    from dask.sizeof import sizeof

    budget = INLINE_TOTAL
    described: list[Item] = []
    for item in _value(outcome, out, unwrap):
        size = sizeof(item)
        if size <= INLINE_BYTES and size <= budget:
            budget -= size
            described.append((True, item, "", None))
            continue
        digest = None
        if hashed:
            try:
                digest = keys.hash_value(item)
            except Exception:  # not picklable: the element is not cached
                digest = None
        described.append((False, None, type_name_of(item), digest))
    return described


def digest_of(outcome: Outcome, out: str) -> str | None:
    """On the worker holding it: the ``hash_value`` of one output (``None``: unhashable,
    so the step that reads it is not cached)."""
    try:
        return keys.hash_value(outcome.values[out])
    except Exception:
        return None


def item_of(outcome: Outcome, out: str, index: int, unwrap: bool) -> Outcome:
    """On the worker holding the list: element ``index``, as an outcome of its own."""
    value = _value(outcome, out, unwrap)
    item = value[index] if isinstance(value, Sequence) else list(value)[index]
    from distributed import get_worker

    return Outcome({"value": item}, {}, get_worker().address)


def condition_on_worker(
    fn: Callable[..., Any],
    plain: dict[str, Any],
    upstream: dict[str, tuple[Outcome, str]],
    asset_params: frozenset[str],
    lists: dict[str, Listed] | None = None,
) -> bool:
    """On a worker: whether ``fn`` holds for these inputs (only the answer leaves)."""
    kwargs = dict(plain)
    for param, (outcome, out) in upstream.items():
        kwargs[param] = _value(outcome, out, param not in asset_params)
    for param, items in (lists or {}).items():
        kwargs[param] = assemble(items)
    return bool(fn(**kwargs))


def listed(value: Any) -> Listed | None:
    """``value`` ready to travel to a worker when it is a mapped step's results holding
    handles: each element that stayed on a worker as its ``(future, output)``, the
    others by value (``None`` for any other value)."""
    if type(value) not in (list, PartialResults):
        return None
    failures = value.failures if type(value) is PartialResults else []
    if not any(isinstance(x, OutputHandle) for x in value) and not any(
        isinstance(f.item, OutputHandle) for f in failures
    ):
        return None
    items: list[Any] = []
    far: list[int] = []
    for i, x in enumerate(value):
        item, is_far = _travelling(x)
        items.append(item)
        if is_far:
            far.append(i)
    fails = [(f.step, f.index, *_travelling(f.item), f.error) for f in failures]
    return type(value) is PartialResults, items, far, fails


def _travelling(x: Any) -> tuple[Any, bool]:
    """An element as it travels: its value, or ``(future, output)`` if it stayed."""
    if not isinstance(x, OutputHandle) or x.has_inline:
        return (x.inline if isinstance(x, OutputHandle) else x), False
    return x.source, True


async def stored_list(client: Any, items: Listed, save: SaveTo, out: str) -> ArtifactRef:
    """Store a mapped step's whole list from a worker that gathers its elements."""
    ref: ArtifactRef = await client.submit(store_listed, items, save, out, pure=False)
    return ref


async def stored_handle(
    client: Any,
    record: ArtifactRecord,
    artifacts_url: str,
    fetch: Callable[[Any, str], Awaitable[Any]],
) -> OutputHandle:
    """A handle to an earlier run's output, read from the store by a worker (it stays
    there as a future, like a fresh output)."""
    from ._core import record_to_ref

    future = client.submit(load_stored, record, artifacts_url, pure=False)
    return OutputHandle(
        ref=record_to_ref(record),
        type_name=record.type_name,
        fetch=functools.partial(fetch, future, "value"),
        source=(future, "value"),
    )


async def split(
    client: Any,
    handle: OutputHandle,
    fetch: Callable[[Any, str], Awaitable[Any]],
    *,
    unwrap: bool,
    hashed: bool,
) -> list[Any]:
    """The elements of the list ``handle`` holds: small ones as values, the others as
    handles to futures taken from the list where it is (``fetch(future, "value")``
    copies one here)."""
    future, out = handle.source
    described: list[Item] = await client.submit(
        describe_items, future, out, unwrap, hashed, pure=False
    )
    far = [i for i, d in enumerate(described) if not d[0]]
    futures = (
        client.map(
            item_of, [future] * len(far), [out] * len(far), far, [unwrap] * len(far), pure=False
        )
        if far
        else []
    )
    items: list[Any] = [d[1] for d in described]
    for i, f in zip(far, futures, strict=True):
        _, _, type_name, digest = described[i]
        items[i] = OutputHandle(
            ref=None,
            type_name=type_name,
            fetch=functools.partial(fetch, f, "value"),
            source=(f, "value"),
            digest=digest,
        )
    return items
