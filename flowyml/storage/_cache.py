"""Cache keys (pure: no I/O): a step's code, options, parameters and inputs -> one hash.

* :func:`fingerprint_function` hashes a function's source, or its code object when the
  source cannot be read (``python -c``, ``exec``, a REPL).
* :func:`hash_value` hashes a parameter value stably across processes.
* :func:`cache_key` combines them.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import textwrap
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec

__all__ = (
    "cache_key",
    "canonical_options",
    "fingerprint_function",
    "hash_value",
    "hashed_cache_key",
    "step_cache_key",
)

#: Bump when the key recipe changes, so old cache entries stop matching.  (2: options
#: are embedded in canonical form rather than hashed one by one: one hash per key.)
_KEY_VERSION: Final = 2
_encoder: Final = msgspec.json.Encoder(order="sorted")


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}.{getattr(obj, '__qualname__', None) or type(obj).__qualname__}"


def _code_digest(code: types.CodeType, h: Any) -> None:
    # Everything that defines behaviour; no line numbers or file names, so moving a
    # function inside its file keeps its fingerprint.
    h.update(code.co_code)
    h.update(_encoder.encode([code.co_qualname, code.co_names, code.co_varnames]))
    h.update(
        _encoder.encode(
            [code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags]
        )
    )
    h.update(_encoder.encode([code.co_freevars, code.co_cellvars]))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            h.update(b"code:")
            _code_digest(const, h)
        else:
            h.update(b"const:")
            h.update(_stable_bytes(const))


def fingerprint_function(fn: Callable[..., Any]) -> str:
    """Return a hex sha256 of ``fn``'s code: its qualified name and dedented source.

    When the source cannot be read (defined with ``exec``, ``python -c`` or in a
    REPL), the code object is hashed instead: bytecode, constants (recursively into
    nested functions), names, and the defaults.  The same function gives the same
    fingerprint in every process (for the bytecode fallback: on the same Python
    version).  ``functools.partial`` objects include their bound arguments; bound
    methods hash their function; other callables hash their class's ``__call__``.
    """
    h = hashlib.sha256()
    if isinstance(fn, functools.partial):
        h.update(b"partial:")
        h.update(fingerprint_function(fn.func).encode())
        h.update(_stable_bytes([list(fn.args), dict(fn.keywords)]))
        return h.hexdigest()
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    target: Any = inspect.unwrap(fn)
    if not isinstance(target, types.FunctionType | types.BuiltinFunctionType | type):
        target = type(target)  # a callable object: its class holds the code
    h.update(_qualname(target).encode())
    try:
        source = textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError):
        source = None
    if source is not None:
        h.update(b"\0source:")
        h.update(source.encode())
        return h.hexdigest()
    code = getattr(target, "__code__", None)
    if isinstance(code, types.CodeType):
        h.update(b"\0code:")
        _code_digest(code, h)
        h.update(_stable_bytes(getattr(target, "__defaults__", None)))
        h.update(_stable_bytes(getattr(target, "__kwdefaults__", None)))
    return h.hexdigest()


class _NotPlain(Exception):
    pass


def _plain(value: Any, depth: int = 0) -> Any:
    """Return a JSON-able form of ``value`` in which different values stay different.

    Containers become arrays led by a type tag, so ``(1,)``, ``[1]`` and ``{1}`` differ
    and no user value can imitate a tag.
    """
    if depth > 100:
        raise _NotPlain
    cls = type(value)
    if value is None or cls is bool or cls is int or cls is str:
        return value
    if cls is float:
        if not math.isfinite(value):
            raise _NotPlain
        return value or 0.0  # -0.0 == 0.0 (and they are one dict key): one cache key
    if cls is list or cls is tuple:
        return ["L" if cls is list else "T", *(_plain(v, depth + 1) for v in value)]
    if cls is dict:
        return _plain_dict(value, depth)
    if cls is set or cls is frozenset:
        # A set's iteration order depends on the process's hash seed: sort it.
        items = sorted(_encoder.encode(_plain(v, depth + 1)) for v in value)
        tag = "S" if cls is set else "F"
        return [tag, *(msgspec.json.decode(i) for i in items)]
    if cls is bytes:
        return ["B", value.hex()]
    raise _NotPlain


def _plain_dict(value: dict[Any, Any], depth: int) -> list[Any]:
    if all(type(k) is str for k in value):
        return ["D", {k: _plain(v, depth + 1) for k, v in value.items()}]
    # Other keys: (key, value) pairs in the order of the encoded keys, so that the
    # insertion order does not matter (as for str keys, which the encoder sorts).
    pairs = [
        (_encoder.encode(_plain(k, depth + 1)), _plain(v, depth + 1)) for k, v in value.items()
    ]
    pairs.sort(key=lambda pair: pair[0])
    return ["M", *([msgspec.json.decode(k), v] for k, v in pairs)]


def _stable_bytes(value: Any) -> bytes:
    try:
        return b"j" + _encoder.encode(_plain(value))
    except _NotPlain:
        pass
    import cloudpickle

    # Protocol pinned so that the bytes do not change with the default protocol.
    return b"p" + bytes(cloudpickle.dumps(value, protocol=5))


def hash_value(value: Any) -> str:
    """Return a hex sha256 identifying ``value``, stable across processes.

    Plain JSON-able values (also tuples, sets and bytes) are hashed from a canonical
    JSON encoding with sorted keys (``1``, ``1.0`` and ``True`` differ; dict order does
    not matter).  Anything else is hashed from its cloudpickle bytes, which is stable
    for the same value as long as its pickled state is (values whose state holds sets
    of strings may hash differently in another process: a cache miss, never a wrong hit).
    """
    return hashlib.sha256(_stable_bytes(value)).hexdigest()


def cache_key(
    *,
    fingerprint: str,
    options: Mapping[str, object],
    params: Mapping[str, object],
    input_hashes: Mapping[str, str],
) -> str:
    """Return the hex sha256 cache key of one step execution.

    :param fingerprint: :func:`fingerprint_function` of the step's function
    :param options: the step options that change its results
    :param params: parameter values by name (hashed with :func:`hash_value`)
    :param input_hashes: content hashes of the input artifacts by parameter name
    """
    return hashed_cache_key(
        fingerprint,
        canonical_options(options),
        {k: hash_value(v) for k, v in params.items()},
        input_hashes,
    )


def canonical_options(options: Mapping[str, object]) -> dict[str, Any]:
    """Options in the form a key embeds: canonical JSON data, or a hash when not plain."""
    out: dict[str, Any] = {}
    for k, v in options.items():
        try:
            out[k] = ["v", _plain(v)]
        except _NotPlain:
            out[k] = ["h", hash_value(v)]
    return out


def step_cache_key(
    fingerprint: str,
    name: str,
    outputs: Sequence[str],
    param_hashes: Mapping[str, str],
    input_hashes: Mapping[str, str],
) -> str:
    """The key :func:`cache_key` gives a step's options ``{"step": name, "outputs": [...]}``,
    built directly (the executor's per-step path)."""
    options = {"step": ["v", name], "outputs": ["v", ["L", *outputs]]}
    return hashed_cache_key(fingerprint, options, param_hashes, input_hashes)


def hashed_cache_key(
    fingerprint: str,
    options: Mapping[str, Any],
    param_hashes: Mapping[str, str],
    input_hashes: Mapping[str, str],
) -> str:
    """:func:`cache_key` from :func:`canonical_options` and hashed parameters (one hash)."""
    doc = {
        "v": _KEY_VERSION,
        "fingerprint": fingerprint,
        "options": options,
        "params": param_hashes,
        "inputs": input_hashes,
    }
    return hashlib.sha256(_encoder.encode(doc)).hexdigest()
