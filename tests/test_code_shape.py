"""The engine stays readable: no function in ``flowyml/`` worse than radon grade C, no
module over 450 lines (the measures of "a house a newcomer reads in an hour")."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

PACKAGE = Path(__file__).resolve().parents[1] / "flowyml"
MAX_LINES = 450


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_function_is_graded_worse_than_c() -> None:
    too_complex = []
    for path in _modules():
        for block in cc_visit(path.read_text()):
            if cc_rank(block.complexity) > "C":
                name = f"{path.relative_to(PACKAGE.parent)}:{block.lineno} {block.fullname}"
                too_complex.append(f"{name} ({cc_rank(block.complexity)}, {block.complexity})")
    assert too_complex == [], "split these functions:\n" + "\n".join(too_complex)


def test_no_module_is_over_450_lines() -> None:
    long = [
        f"{path.relative_to(PACKAGE.parent)}: {n} lines"
        for path in _modules()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert long == [], "split these modules:\n" + "\n".join(long)
