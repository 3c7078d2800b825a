"""docs/reference/cli.md documents every command and option of ``flowyml``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from flowyml.cli import app

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "cli.md"


def _commands(group: Any, prefix: str) -> dict[str, Any]:
    """Leaf commands by their full name (``flowyml cache clear``)."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= _commands(command, f"{prefix} {name}")
        else:
            found[f"{prefix} {name}"] = command
    return found


def test_every_command_and_option_is_documented() -> None:
    group = typer.main.get_command(app)
    sections = re.split(r"^## ", CLI_DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    by_heading = {s.split("\n", 1)[0].strip("` "): s for s in sections[1:]}
    commands = _commands(group, "flowyml")
    assert set(by_heading) == set(commands)
    for name, command in commands.items():
        options = {
            o for p in command.params if p.name != "help" for o in p.opts if o.startswith("--")
        }
        undocumented = {o for o in options if f"`{o}`" not in by_heading[name]}
        assert not undocumented, f"{name}: {sorted(undocumented)} missing from {CLI_DOC.name}"
