"""Cache keys: function fingerprints, parameter hashes and their combination."""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from flowyml.storage._cache import cache_key, fingerprint_function, hash_value, step_cache_key

STEP_V1 = '''
def train(data, lr=0.1):
    """Fit a model."""
    return [x * lr for x in data]
'''
STEP_V2 = STEP_V1.replace("x * lr", "x * lr * 2")


def _load(tmp_path: Path, folder: str, source: str, name: str = "stepmod") -> ModuleType:
    path = tmp_path / folder / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exec(source: str, name: str = "f") -> Any:
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(source), namespace)  # noqa: S102 - the point of the test
    return namespace[name]


def _run(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    return out.stdout.strip()


# --------------------------------------------------------------------------- fingerprints


def test_source_change_changes_fingerprint(tmp_path: Path) -> None:
    v1 = _load(tmp_path, "v1", STEP_V1)
    v1_again = _load(tmp_path, "v1b", STEP_V1)
    v2 = _load(tmp_path, "v2", STEP_V2)
    assert fingerprint_function(v1.train) == fingerprint_function(v1_again.train)
    assert fingerprint_function(v1.train) != fingerprint_function(v2.train)
    assert len(fingerprint_function(v1.train)) == 64


def test_indentation_does_not_matter(tmp_path: Path) -> None:
    flat = _load(tmp_path, "flat", "class Steps:\n" + textwrap.indent(STEP_V1, "    "))
    nested = _load(tmp_path, "nested", "class Steps:\n" + textwrap.indent(STEP_V1, "    ") + "\n")
    assert fingerprint_function(flat.Steps.train) == fingerprint_function(nested.Steps.train)


def test_qualified_name_is_part_of_fingerprint(tmp_path: Path) -> None:
    a = _load(tmp_path, "a", STEP_V1, name="mod_a")
    b = _load(tmp_path, "b", STEP_V1, name="mod_b")
    assert fingerprint_function(a.train) != fingerprint_function(b.train)


def test_same_function_same_fingerprint_in_another_process(tmp_path: Path) -> None:
    module = _load(tmp_path, "proc", STEP_V1)
    other = _run(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path / "proc")!r})
        import stepmod
        from flowyml.storage._cache import fingerprint_function
        print(fingerprint_function(stepmod.train))
        """,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert other == fingerprint_function(module.train)


def test_exec_defined_function_uses_bytecode() -> None:
    f1 = _exec("def f(x):\n    return x + 1\n")
    f1_again = _exec("def f(x):\n    return x + 1\n")
    f2 = _exec("def f(x):\n    return x + 2\n")
    assert fingerprint_function(f1) == fingerprint_function(f1_again)
    assert fingerprint_function(f1) != fingerprint_function(f2)


def test_exec_nested_constants_and_defaults_count() -> None:
    outer = "def f(x{default}):\n    def g(y):\n        return y * {k}\n    return g(x)\n"
    base = fingerprint_function(_exec(outer.format(default="", k=3)))
    assert base == fingerprint_function(_exec(outer.format(default="", k=3)))
    assert base != fingerprint_function(_exec(outer.format(default="", k=4)))
    with_default = fingerprint_function(_exec(outer.format(default="=1", k=3)))
    assert with_default != fingerprint_function(_exec(outer.format(default="=2", k=3)))
    sets = "def f(x):\n    return x in {items}\n"
    assert fingerprint_function(_exec(sets.format(items="{'a', 'b'}"))) != fingerprint_function(
        _exec(sets.format(items="{'a', 'c'}"))
    )


def test_python_c_function_is_stable_across_processes() -> None:
    code = """
        from flowyml.storage._cache import fingerprint_function
        def step(x):
            return x in {"alpha", "beta", "gamma"}
        print(fingerprint_function(step))
        """
    assert _run(code, env={"PYTHONHASHSEED": "1"}) == _run(code, env={"PYTHONHASHSEED": "2"})


def test_other_callables() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    class Scaler:
        def __call__(self, x: float) -> float:
            return x * 2

        def method(self, x: float) -> float:
            return x

    p1, p2 = functools.partial(add, 1), functools.partial(add, 2)
    assert fingerprint_function(p1) != fingerprint_function(p2)
    assert fingerprint_function(p1) == fingerprint_function(functools.partial(add, 1))
    assert fingerprint_function(Scaler()) == fingerprint_function(Scaler())
    assert fingerprint_function(Scaler().method) == fingerprint_function(Scaler.method)
    assert fingerprint_function(len) != fingerprint_function(abs)
    assert fingerprint_function(lambda x: x) != fingerprint_function(add)

    @functools.wraps(add)
    def wrapper(*args: Any) -> Any:
        return add(*args)

    assert fingerprint_function(wrapper) == fingerprint_function(add)


# --------------------------------------------------------------------------- values


def test_hash_value_distinguishes_types() -> None:
    values = [1, 1.0, True, "1", [1], (1,), {1}, frozenset({1}), b"1", None, {"a": 1}]
    assert len({hash_value(v) for v in values}) == len(values)


def test_hash_value_ignores_dict_and_set_order() -> None:
    assert hash_value({"a": 1, "b": [1, 2]}) == hash_value({"b": [1, 2], "a": 1})
    assert hash_value({"x", "y", "z"}) == hash_value({"z", "y", "x"})
    assert hash_value({"a": [1, 2]}) != hash_value({"a": [2, 1]})


def test_hash_value_cannot_be_imitated_by_tags() -> None:
    assert hash_value((1,)) != hash_value(["T", 1])
    assert hash_value({"a": 1}) != hash_value(["D", {"a": 1}])


def test_hash_value_non_json() -> None:
    assert hash_value(float("nan")) == hash_value(math.nan)
    assert hash_value(np.arange(5)) == hash_value(np.arange(5))
    assert hash_value(np.arange(5)) != hash_value(np.arange(6))
    assert hash_value({1: "int key"}) != hash_value({"1": "int key"})


def test_hash_value_stable_across_processes() -> None:
    code = """
        from flowyml.storage._cache import hash_value
        print(hash_value({"lr": 0.1, "tags": {"a", "b", "c"}, "layers": (64, 32), "x": None}))
        """
    first = _run(code, env={"PYTHONHASHSEED": "1"})
    assert first == _run(code, env={"PYTHONHASHSEED": "2"})
    assert first == hash_value({"lr": 0.1, "tags": {"a", "b", "c"}, "layers": (64, 32), "x": None})


# --------------------------------------------------------------------------- keys


def _key(**changes: Any) -> str:
    parts: dict[str, Any] = {
        "fingerprint": "f" * 64,
        "options": {"retries": 0},
        "params": {"lr": 0.1, "epochs": 3},
        "input_hashes": {"data": "a" * 64},
    }
    parts.update(changes)
    return cache_key(**parts)


def test_cache_key_is_stable_and_order_free() -> None:
    assert _key() == _key()
    assert _key(params={"epochs": 3, "lr": 0.1}) == _key()
    assert len(_key()) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"fingerprint": "e" * 64},
        {"options": {"retries": 1}},
        {"params": {"lr": 0.2, "epochs": 3}},
        {"params": {"lr": 0.1, "epochs": 3.0}},
        {"params": {"lr": 0.1}},
        {"input_hashes": {"data": "b" * 64}},
        {"input_hashes": {"other": "a" * 64}},
    ],
    ids=[
        "code",
        "options",
        "param-value",
        "param-type",
        "param-missing",
        "input-hash",
        "input-name",
    ],
)
def test_cache_key_changes(change: dict[str, Any]) -> None:
    assert _key(**change) != _key()


def test_the_executor_fast_key_equals_the_documented_recipe() -> None:
    """The executor builds a step's key directly; it must be the key ``cache_key`` gives."""
    params = {"lr": 0.1, "epochs": 3}
    fast = step_cache_key(
        "f" * 64,
        "train",
        ("model", "score"),
        {k: hash_value(v) for k, v in params.items()},
        {"data": "a" * 64},
    )
    full = cache_key(
        fingerprint="f" * 64,
        options={"step": "train", "outputs": ["model", "score"]},
        params=params,
        input_hashes={"data": "a" * 64},
    )
    assert fast == full
    assert fast != step_cache_key("f" * 64, "train", ("model",), {}, {"data": "a" * 64})
    assert fast != step_cache_key("f" * 64, "fit", ("model", "score"), {}, {"data": "a" * 64})


def _recursive(limit: int) -> Any:
    def countdown(n: int) -> int:
        return limit if n == 0 else countdown(n - 1)

    return countdown


def test_a_recursive_inner_function_has_a_fingerprint() -> None:
    """A step that captures itself (a recursive inner function) is fingerprinted, not a
    RecursionError; what it captures besides itself still counts."""
    from flowyml.storage._fingerprint import step_fingerprint

    one, other_one, two = _recursive(1), _recursive(1), _recursive(2)
    assert step_fingerprint(one) == step_fingerprint(other_one)
    assert step_fingerprint(one) != step_fingerprint(two)
