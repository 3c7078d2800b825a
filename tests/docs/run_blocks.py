"""Run the code blocks listed in a JSON file, in order, in one namespace (like a notebook).

``python tests/docs/run_blocks.py blocks.json``: each entry has ``path`` (the Markdown
file), ``line`` (where the block's code starts) and ``code``.  A block may use top-level ``await``; it then runs in its own event loop, as
an ``async def main()`` of a script would.  The first failing block ends the run with its
traceback, whose file and line numbers are those of the Markdown file.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import sys
from typing import Any


def main(path: str) -> None:
    """Run every block of ``path``; print ``ran N blocks`` at the end."""
    with open(path, encoding="utf-8") as f:
        blocks = json.load(f)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for block in blocks:
        source = "\n" * block["line"] + block["code"]  # line numbers as in the Markdown file
        code = compile(source, block["path"], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        if code.co_flags & inspect.CO_COROUTINE:
            asyncio.run(eval(code, namespace))
        else:
            exec(code, namespace)  # noqa: S102  (running the docs is the point)
    print(f"ran {len(blocks)} blocks")


if __name__ == "__main__":
    main(sys.argv[1])
