"""Header fields of S3 answers, parsed in one place: ``Content-Range`` and ``ETag``."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ContentRange", "content_range", "empty_object_size", "unquoted_etag"]

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_EMPTY_RANGE = re.compile(r"bytes\s+\*/(\d+)")


@dataclass(frozen=True)
class ContentRange:
    """``Content-Range: bytes first-last/size`` (``size`` None for ``*``)."""

    first: int
    last: int
    size: int | None


def content_range(value: str | None) -> ContentRange | None:
    """The range an answer carries, or None (no header, or not ``bytes a-b/n``)."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None
    size = None if match.group(3) == "*" else int(match.group(3))
    return ContentRange(int(match.group(1)), int(match.group(2)), size)


def empty_object_size(value: str | None) -> int | None:
    """The size in a ``416`` answer's ``Content-Range: bytes */n``, if it says."""
    match = _EMPTY_RANGE.match(value or "")
    return int(match.group(1)) if match else None


def unquoted_etag(value: object) -> str | None:
    """An ETag without its quotes (S3 sends ``"abc..."``); None when absent."""
    return (str(value).strip('"') or None) if value else None
