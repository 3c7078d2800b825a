"""The public surface: what `flowyml` exports, and which way the layers depend."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import flowyml

ROOT = pathlib.Path(flowyml.__file__).parent

# layer -> layers it must never import (dependencies point one way)
FORBIDDEN = {
    "definition": {"execution", "server", "cli", "storage"},
    "compile": {"execution", "server", "cli"},
    "storage": {"definition", "compile", "execution", "server", "cli"},
    "execution": {"server", "cli"},
}


def test_all_is_sorted_and_resolvable() -> None:
    names = flowyml.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert getattr(flowyml, name) is not None, name


def test_layers_depend_one_way() -> None:
    """Module-level imports only: `Pipeline.run()` delegates to execution through a
    function-level import, the one deliberate late binding of the user-facing facade."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        layer = rel[0] if len(rel) > 1 else None
        if layer not in FORBIDDEN:
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level:
                target = node.module.split(".")[0] if node.level == 2 else None
                if node.level == 3:
                    target = node.module.split(".")[0]
                if target in FORBIDDEN[layer]:
                    offenders.append(f"{'/'.join(rel)} imports {target}")
            elif (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("flowyml.")
            ):
                target = node.module.split(".")[1]
                if target in FORBIDDEN[layer]:
                    offenders.append(f"{'/'.join(rel)} imports {target}")
    assert offenders == []


def test_import_is_light() -> None:
    """`import flowyml` must not pull in the server, stores or heavy optional libraries."""
    code = (
        "import sys, flowyml; "
        "heavy = [m for m in ('fastapi', 'aiosqlite', 'fsspec', 'numpy', 'pandas', 'asyncpg', "
        "'aiomysql', 's3fs', 'flowyml.server') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
