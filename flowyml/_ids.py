"""Ids that sort by creation time, so that database indexes grow at one end.

A metadata store keeps runs, step runs, artifacts and events in B-tree indexes keyed by
these ids.  A random key (uuid4) lands on a random leaf page: once a store holds more
than its page cache, every new row reads and dirties a different page.  Ids that start
with the time go to the rightmost pages, which stay cached.
"""

from __future__ import annotations

import os
import time

__all__ = ("new_run_id", "time_stamp")

_MS_MASK = 0xFFFF_FFFF_FFFF  # 48 bits of milliseconds: until the year 10889


def time_stamp(seconds: float) -> str:
    """12 hex digits of the Unix time ``seconds`` in milliseconds (a UUIDv7's first 48 bits)."""
    return f"{int(seconds * 1000) & _MS_MASK:012x}"


def new_run_id() -> str:
    """A fresh run id: a UUIDv7 (RFC 9562) as 32 hex digits, time first.

    48 bits of Unix milliseconds, the version (7), 74 random bits and the variant.
    Run ids of one process sort by start time up to the millisecond.
    """
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    ms = time.time_ns() // 1_000_000 & _MS_MASK
    value = ms << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | (rand & (1 << 62) - 1)
    return f"{value:032x}"
