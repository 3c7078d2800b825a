"""The public surface: what `flowyml` exports, and which way the layers depend."""

from __future__ import annotations

import ast
import inspect
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import flowyml

ROOT = pathlib.Path(flowyml.__file__).parent

#: The layers, each with what it may import besides itself (docs/architecture.md draws
#: them).  Root modules are layers of their own; "leaf" is every root leaf module.
LEAF = {
    "_ids",
    "_version",
    "_steplog",
    "_traceback",
    "errors",
    "events",
    "results",
    "config",
    "assets",
}
MAY_IMPORT = {
    **dict.fromkeys(LEAF, LEAF),
    "definition": LEAF,
    "compile": LEAF | {"definition"},
    "storage": LEAF,
    "testing": LEAF | {"storage", "definition", "_api"},
    "execution": LEAF | {"definition", "compile", "storage"},
    "client": LEAF | {"storage"},
    "_options": LEAF | {"definition", "execution"},
    "_api": LEAF | {"definition", "compile", "execution", "_options"},
    # the published flowyml's import paths: re-exports at the facade's level
    "core": LEAF | {"definition", "_api"},
    "server": LEAF | {"definition", "compile", "storage", "execution", "_api", "client"},
    "cli": LEAF | {"definition", "compile", "storage", "execution", "_api", "client", "server"},
}
#: Imports that go up the layers, ``(from, to): why``; at most three (none needed today).
ALLOWED: dict[tuple[str, str], str] = {}


def _imports(path: pathlib.Path) -> Iterator[str]:
    """Every flowyml module ``path`` imports: module level, in functions, under
    TYPE_CHECKING, relative or absolute."""
    rel = path.relative_to(ROOT.parent).with_suffix("")
    package = list(rel.parts[:-1])  # what a relative import is relative to
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("flowyml"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                if node.module:
                    yield ".".join([*base, node.module])
                else:
                    yield from (".".join([*base, a.name]) for a in node.names)
            elif node.module and node.module.startswith("flowyml"):
                yield node.module


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package itself


def test_all_is_sorted_and_resolvable() -> None:
    names = flowyml.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert getattr(flowyml, name) is not None, name


def test_every_public_name_is_exported_and_every_export_is_public() -> None:
    """Both directions: what ``flowyml`` defines under a public name is in ``__all__``
    (lazily imported names included), and ``__all__`` names nothing private."""
    defined = {
        name
        for name, value in vars(flowyml).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", "").startswith("flowyml")
    }
    exported = set(flowyml.__all__) - {"__version__"}
    assert defined | set(flowyml._LAZY) == exported
    assert not [name for name in exported if name.startswith("_")]


def test_layers_depend_one_way() -> None:
    """Every import of every module, function-level and TYPE_CHECKING ones included,
    goes down the layers (or is in ALLOWED, with its reason)."""
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        source = _layer(".".join(rel.parts))
        if source in ("__init__", "__main__"):
            continue  # the package itself re-exports every layer: it is the top
        assert source in MAY_IMPORT, f"{path}: a module outside every layer ({source})"
        for target in {_layer(m) for m in _imports(path)}:
            if target is None or target == source or target in MAY_IMPORT[source]:
                continue
            if (source, target) not in ALLOWED:
                offenders.append(f"{rel}: imports {target} ({source} may not)")
    assert offenders == []
    assert len(ALLOWED) <= 3


def test_import_is_light() -> None:
    """`import flowyml` must not pull in the server, stores or heavy optional libraries."""
    code = (
        "import sys, flowyml; "
        "heavy = [m for m in ('fastapi', 'aiosqlite', 'fsspec', 'numpy', 'pandas', 'asyncpg', "
        "'aiomysql', 's3fs', 'flowyml.server') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
