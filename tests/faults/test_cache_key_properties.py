"""Properties of the cache-key canonicaliser (``flowyml.storage._cache``).

A key must be equal for equal values of the same types (whatever the insertion order of a
dict or set) and different whenever the values or their types differ, so that a cache hit
never hands a step a result computed from a different value.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowyml.storage._cache import cache_key, hash_value

PROPS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.binary(max_size=8),
)
hashable = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.binary(max_size=5)),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.dictionaries(hashable, inner, max_size=4),
        st.sets(hashable, max_size=4),
        st.frozensets(hashable, max_size=4),
    ),
    max_leaves=12,
)


def _reordered(value: Any, rng: random.Random) -> Any:
    """An equal copy of ``value`` whose dicts and sets were built in another order."""
    if isinstance(value, dict):
        items = [(k, _reordered(v, rng)) for k, v in value.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_reordered(v, rng) for v in value]
    if isinstance(value, tuple):
        return tuple(_reordered(v, rng) for v in value)
    if isinstance(value, set | frozenset):
        items = list(value)
        rng.shuffle(items)
        return type(value)(items)
    return copy.copy(value)


@PROPS
@given(value=values, seed=st.integers(0, 2**32 - 1))
def test_equal_values_give_equal_keys(value: Any, seed: int) -> None:
    twin = _reordered(value, random.Random(seed))
    assert twin == value
    assert hash_value(twin) == hash_value(value)


@PROPS
@given(value=values)
def test_a_key_does_not_depend_on_the_process_state(value: Any) -> None:
    # the same value hashed twice (the memo-free path) and deep-copied
    assert hash_value(value) == hash_value(copy.deepcopy(value))


@PROPS
@given(number=st.floats(allow_nan=False, allow_infinity=False))
def test_equal_floats_give_equal_keys(number: float) -> None:
    assert hash_value(number) == hash_value(float(repr(number)))
    if number == 0:
        assert hash_value(number) == hash_value(0.0)  # -0.0 == 0.0


@PROPS
@given(integer=st.integers(min_value=-(2**200), max_value=2**200))
def test_large_integers_hash(integer: int) -> None:
    assert hash_value(integer) == hash_value(int(str(integer)))
    assert hash_value(integer) != hash_value(integer + 1)


def test_values_of_different_types_give_different_keys() -> None:
    ones = [1, 1.0, True, (1,), [1], "1", b"1", {1}, frozenset({1}), {"1": 1}, {1: 1}, None]
    keys = [hash_value(v) for v in ones]
    assert len(set(keys)) == len(ones), dict(zip(map(repr, ones), keys, strict=True))


@PROPS
@given(a=values, b=values)
def test_different_values_give_different_keys(a: Any, b: Any) -> None:
    same = type(a) is type(b) and a == b and _strict_equal(a, b)
    assert (hash_value(a) == hash_value(b)) == same


def _strict_equal(a: Any, b: Any) -> bool:
    """``a == b`` with element types compared too (``[1] == [True]`` is not equal here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            twin = next((k2 for k2 in b if _strict_equal(k, k2)), _MISSING)
            if twin is _MISSING or not _strict_equal(v, b[twin]):
                return False
        return True
    if isinstance(a, set | frozenset):
        return len(a) == len(b) and all(any(_strict_equal(x, y) for y in b) for x in a)
    if isinstance(a, float):
        return bool(a == b)
    return bool(a == b)


_MISSING = object()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"x": 1}, {"x": 1.0}),
        ({"x": 1}, {"x": True}),
        ({"n": [1, 2]}, {"n": (1, 2)}),
        ({"n": "1"}, {"n": b"1"}),
    ],
)
def test_cache_keys_follow_parameter_types(a: dict[str, Any], b: dict[str, Any]) -> None:
    def key(params: dict[str, Any]) -> str:
        return cache_key(fingerprint="f", options={}, params=params, input_hashes={})

    assert key(a) != key(b)
    assert key(a) == key(dict(reversed(list(a.items()))))
