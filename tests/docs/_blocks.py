"""Find the Python code blocks of a Markdown file, with their skip markers and includes.

A fenced block whose info string is ``python`` (or ``py``) is a code block.  An HTML comment
``<!-- skip: <reason> -->`` on the last non-blank line before its opening fence marks it as
one that cannot run on its own (it needs a server, a cloud, ...).  A block made of snippet
lines (``--8<-- "examples/x.py"``) includes a file that is run by its own test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ("Block", "code_blocks")

_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_SKIP = re.compile(r"^\s*<!--\s*skip:\s*(?P<reason>.+?)\s*-->\s*$")
_SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')


@dataclass(frozen=True, slots=True)
class Block:
    """One Python code block: where it is, its code, and why it does not run (if it does not)."""

    path: Path
    line: int
    code: str
    skip: str | None = None
    includes: tuple[str, ...] = ()


def _language(info: str) -> str:
    word = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    return word.lstrip(".{").rstrip("}").lower()


def code_blocks(path: Path) -> list[Block]:
    """The Python blocks of ``path`` in order (other languages are left out)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    previous = ""  # the last non-blank line outside a block
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        indent, fence, start = len(m["indent"]), m["fence"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        i += 1  # the closing fence
        if _language(m["info"]) in ("python", "py"):
            skip = _SKIP.match(previous)
            snippets = tuple(s["path"] for s in map(_SNIPPET.match, body) if s is not None)
            found.append(
                Block(
                    path=path,
                    line=start + 1,
                    code="\n".join(body) + "\n",
                    skip=skip["reason"] if skip else None,
                    includes=snippets,
                )
            )
        previous = lines[start]
    return found
