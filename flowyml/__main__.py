"""``python -m flowyml``: the ``flowyml`` command, for when its script is not on ``PATH``."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
