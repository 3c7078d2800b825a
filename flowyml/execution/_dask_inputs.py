"""A step's condition and the list a step maps over, read where they are on a Dask cluster.

The list a mapped step reads stays on the worker that made it: a task there describes
its elements, the small ones (by value, up to :data:`INLINE_TOTAL` bytes in all) come to
the driver, and each larger one becomes a Dask future of its own, taken from the list on
that worker, so that each element's step receives only its element, wherever it runs.
A condition is called on a worker that holds its inputs; only its answer comes back.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from ..assets import Asset
from ..storage import _cache as keys
from ..storage.artifacts._materializers import type_name_of
from ._dask_worker import INLINE_BYTES, Outcome
from ._protocol import OutputHandle

__all__ = ("INLINE_TOTAL", "condition_on_worker", "describe_items", "item_of", "split")

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
) -> bool:
    """On a worker: whether ``fn`` holds for these inputs (only the answer leaves)."""
    kwargs = dict(plain)
    for param, (outcome, out) in upstream.items():
        kwargs[param] = _value(outcome, out, param not in asset_params)
    return bool(fn(**kwargs))


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
