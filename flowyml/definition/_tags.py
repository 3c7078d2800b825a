"""Run tags: short labels a run carries (``nightly``, ``team:vision``), to find runs by.

A pipeline's tags (``Pipeline(..., tags=[...])``) and a run's own (``run(tags=[...])``)
are merged, the pipeline's first, each tag once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

__all__ = ("MAX_TAG_LENGTH", "TAG_PATTERN", "check_tags", "merge_tags")

MAX_TAG_LENGTH: Final = 100
_BAD: Final = ",\\x00-\\x1f\\x7f-\\x9f"
#: what :func:`check_tags` accepts, as a regular expression (for JSON Schemas)
TAG_PATTERN: Final = f"^[^ {_BAD}](?:[^{_BAD}]*[^ {_BAD}])?$"


def check_tags(tags: Any, where: str) -> tuple[str, ...]:
    """``tags`` as a tuple of distinct tags, in order.

    :param where: what the tags were given to, for messages (``"run option tags="``)
    :raises TypeError: when ``tags`` is not a list (or tuple) of strings
    :raises ValueError: when a tag is empty, longer than ``MAX_TAG_LENGTH`` characters,
        starts or ends with a space, or holds a control character or a comma
    """
    if isinstance(tags, str) or not isinstance(tags, list | tuple | set | frozenset):
        raise TypeError(f"{where} must be a list of strings, got {type(tags).__name__}")
    out: dict[str, None] = {}
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"{where} must be a list of strings, got {tag!r} in it")
        problem = _problem(tag)
        if problem is not None:
            raise ValueError(f"{where}: tag {tag!r} {problem}")
        out[tag] = None
    return tuple(out)


def _problem(tag: str) -> str | None:
    if not tag:
        return "is empty"
    if len(tag) > MAX_TAG_LENGTH:
        return f"is longer than {MAX_TAG_LENGTH} characters"
    if tag[0] == " " or tag[-1] == " ":
        return "starts or ends with a space"
    if any(c == "," or c < " " or "\x7f" <= c <= "\x9f" for c in tag):
        return "holds a comma or a control character"
    return None


def merge_tags(*groups: Iterable[str]) -> tuple[str, ...]:
    """The tags of every group, in order, each once."""
    return tuple(dict.fromkeys(t for group in groups for t in group))
