"""Small values kept in their metadata row instead of a file of their own.

A blob of a few bytes costs a file (a 4 KB filesystem block and an inode, or an object
store request) and a worker-thread hop to write it.  A value whose serialised bytes are
at most :data:`INLINE_MAX` long is instead recorded as a ``data:`` URI (RFC 2397,
base64) in the artifact's ``uri`` column: the artifact row, its id, content hash,
materializer and lineage are those of a stored blob, so cache keys, deduplication by
content hash and lineage queries do not change.  Reading one decodes the URI; nothing
is fetched.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from ...errors import ArtifactError

__all__ = ("INLINE_MAX", "inline_bytes", "inline_uri", "is_inline")

#: serialised values up to this many bytes are stored inline
INLINE_MAX: Final = 4096
_PREFIX: Final = "data:;base64,"


def inline_uri(data: bytes) -> str:
    """The ``data:`` URI holding ``data``."""
    return _PREFIX + base64.b64encode(data).decode("ascii")


def is_inline(uri: str) -> bool:
    """Whether ``uri`` holds its bytes itself (a ``data:`` URI)."""
    return uri.startswith("data:")


def inline_bytes(uri: str) -> bytes:
    """The bytes held by a ``data:`` URI written by :func:`inline_uri`.

    :raises ArtifactError: when ``uri`` is not a base64 ``data:`` URI
    """
    head, sep, payload = uri.partition(",")
    if not (sep and head.startswith("data:") and head.endswith(";base64")):
        raise ArtifactError(
            f"artifact URI {uri[:40]!r} is not an inline value (expected 'data:;base64,...')"
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArtifactError(f"inline artifact URI {uri[:40]!r}... is corrupt: {exc}") from exc
