"""Keep secrets out of ``flowyml ui``'s access log."""

from __future__ import annotations

import logging
import re

__all__ = ("RedactSecrets", "redact", "redact_access_log")

_SECRET_QUERY = re.compile(r"(?i)([?&](?:token|ticket)=)[^&#\s\"]*")


def redact(text: str) -> str:
    """``text`` with the values of ``token=`` and ``ticket=`` query parameters masked."""
    return _SECRET_QUERY.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """Masks ``token=``/``ticket=`` query values in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log(logger: str = "uvicorn.access") -> None:
    """Add :class:`RedactSecrets` to ``logger`` (once)."""
    target = logging.getLogger(logger)
    if not any(isinstance(f, RedactSecrets) for f in target.filters):
        target.addFilter(RedactSecrets())
