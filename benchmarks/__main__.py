"""``python -m benchmarks``: run every scenario (see ``python -m benchmarks --help``)."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
