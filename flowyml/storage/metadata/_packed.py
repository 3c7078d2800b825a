"""Map elements' events, many to one ``events`` row.

A map of 100,000 elements makes 200,000 ``step_started``/``step_succeeded`` events.
Stored one to a row, each repeats its run id, its type and every field name (about
400 bytes of JSON) and adds an index entry.  A row of type ``elements`` holds a
stretch of consecutive element events of one map instead: the map's name once, then
each event as a short array of its field values in declaration order, trailing
defaults left out (``[0, 17, 1796631908.31]`` is ``step_started`` of ``work[17]``).

Ids stay one per event.  A stretch of ``n`` events has the ids ``id - n + 1 .. id``:
the row carries its last event's id, so ``id > cursor`` finds every row holding an
event after ``cursor`` and :func:`unpack` drops the ones at or before it.

Packing is lossless: an event is packed only when unpacking gives back an equal event
(an element's ``step_started``, or its ``step_succeeded`` or ``step_cached`` whose
outputs are keyed by their own names); any other event keeps a row of its own.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from ...events import ArtifactRef, Event, StepCached, StepStarted, StepSucceeded, encode_event
from .._records import EventRecord
from ._projection import event_tag

__all__ = ("PACKED_TYPE", "event_rows", "unpack")

#: the ``type`` of an ``events`` row that holds several element events
PACKED_TYPE: Final = "elements"

#: an element's name: its map's name and its index (``work[17]``)
_ELEMENT: Final = re.compile(r"(.+)\[(0|[1-9][0-9]*)\]\Z")

_json: Final = msgspec.json.Encoder()


class _Packed(msgspec.Struct, frozen=True):
    """An ``elements`` row's payload: the map's name and its elements' events."""

    step: str
    events: list[tuple[Any, ...]]


_decoder: Final = msgspec.json.Decoder(_Packed)

_NO_DEFAULT: Final = object()


class _Shape:
    """How one struct class is packed: its fields but ``skip``, and their defaults."""

    __slots__ = ("defaults", "names", "pick")

    def __init__(self, cls: type[msgspec.Struct], skip: tuple[str, ...]) -> None:
        fields = msgspec.structs.fields(cls)
        kept = [(i, f) for i, f in enumerate(fields) if f.name not in skip]
        self.names = tuple(f.name for _, f in kept)
        self.defaults = tuple(_default(f) for _, f in kept)
        self.pick = None if len(kept) == len(fields) else operator.itemgetter(*(i for i, _ in kept))

    def values(self, obj: msgspec.Struct) -> tuple[Any, ...]:
        """``obj``'s kept values in order, without the trailing ones equal to their default."""
        values = msgspec.structs.astuple(obj)
        if self.pick is not None:
            values = self.pick(values)
        defaults = self.defaults
        n = len(values)
        while n and values[n - 1] == defaults[n - 1]:
            n -= 1
        return values[:n]

    def build(self, cls: type[Any], values: Sequence[Any], **given: Any) -> Any:
        return cls(**given, **dict(zip(self.names, values, strict=False)))


def _default(f: msgspec.structs.FieldInfo) -> Any:
    if f.default is not msgspec.NODEFAULT:
        return f.default
    if f.default_factory is not msgspec.NODEFAULT:
        return f.default_factory()
    return _NO_DEFAULT


#: the packed kinds of event, by their code (the first value of a packed event)
_KINDS: Final = (StepStarted, StepSucceeded, StepCached)
_CODES: Final = {cls: code for code, cls in enumerate(_KINDS)}
_SHAPES: Final = tuple(_Shape(cls, ("run_id", "step")) for cls in _KINDS)
_REF: Final = _Shape(ArtifactRef, ())
#: where ``outputs`` is among a packed event's values (``None``: it has none)
_OUTPUTS: Final = tuple(
    shape.names.index("outputs") if "outputs" in shape.names else None for shape in _SHAPES
)


def _pack(ev: Event) -> tuple[str, tuple[Any, ...]] | None:
    """``(map name, packed event)``, or ``None`` when ``ev`` keeps a row of its own."""
    code = _CODES.get(type(ev))
    if code is None:
        return None
    match = _ELEMENT.match(ev.step)  # type: ignore[union-attr]
    if match is None:
        return None
    values = _SHAPES[code].values(ev)
    at = _OUTPUTS[code]
    if at is not None and len(values) > at:
        outputs: dict[str, ArtifactRef] = values[at]
        for name, ref in outputs.items():
            if name != ref.name:
                return None
        refs = tuple([_REF.values(ref) for ref in outputs.values()])
        values = (*values[:at], refs, *values[at + 1 :])
    return match[1], (code, int(match[2]), *values)


def event_rows(batch: Sequence[Event]) -> list[tuple[int, str, str, float, str]]:
    """The ``events`` rows of ``batch``: ``(offset, run_id, type, ts, payload)``.

    ``offset`` is the position in ``batch`` of the row's (last) event: the row's id is
    the batch's first id plus ``offset``.  Consecutive element events of one map in one
    run share a row.
    """
    rows: list[tuple[int, str, str, float, str]] = []
    stretch: list[tuple[Any, ...]] = []
    key: tuple[str, str] | None = None  # (run_id, map) of the open stretch
    for offset, ev in enumerate(batch):
        packed = _pack(ev)
        if packed is not None and key == (ev.run_id, packed[0]):
            stretch.append(packed[1])
            continue
        _close(rows, stretch, key, batch, offset - 1)
        if packed is not None:
            key, stretch = (ev.run_id, packed[0]), [packed[1]]
            continue
        key, stretch = None, []
        rows.append((offset, ev.run_id, event_tag(ev), ev.ts, encode_event(ev).decode()))
    _close(rows, stretch, key, batch, len(batch) - 1)
    return rows


def _close(
    rows: list[tuple[int, str, str, float, str]],
    stretch: list[tuple[Any, ...]],
    key: tuple[str, str] | None,
    batch: Sequence[Event],
    last: int,
) -> None:
    """Add the row of the stretch ending at ``batch[last]`` (a lone event is not packed)."""
    if key is None:
        return
    ev = batch[last]
    if len(stretch) == 1:
        rows.append((last, ev.run_id, event_tag(ev), ev.ts, encode_event(ev).decode()))
        return
    payload = _json.encode(_Packed(step=key[1], events=stretch)).decode()
    rows.append((last, ev.run_id, PACKED_TYPE, ev.ts, payload))


def unpack(row_id: int, run_id: str, payload: str | bytes) -> list[EventRecord]:
    """The events of an ``elements`` row whose (last) id is ``row_id``, oldest first."""
    packed = _decoder.decode(payload)
    first = row_id - len(packed.events) + 1
    records = []
    for i, (code, index, *values) in enumerate(packed.events):
        at = _OUTPUTS[code]
        if at is not None and len(values) > at:
            refs = [_REF.build(ArtifactRef, r) for r in values[at]]
            values[at] = {ref.name: ref for ref in refs}
        step = f"{packed.step}[{index}]"
        ev = _SHAPES[code].build(_KINDS[code], values, run_id=run_id, step=step)
        records.append(EventRecord(id=first + i, event=ev))
    return records
