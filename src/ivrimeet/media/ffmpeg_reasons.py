"""ffmpeg's messages made readable for people: no URLs, no memory addresses, a hint to act on."""

from __future__ import annotations

import re
from typing import Literal

from ivrimeet.errors import UnsupportedMediaError

__all__ = ["ffmpeg_reason", "undecodable"]

_NEEDS_SEEK = re.compile(r"partial file|moov atom not found", re.IGNORECASE)
_ANY_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_CONTEXT_POINTER = re.compile(r"\[([\w,]+) @ 0x[0-9a-f]+\]\s*")


def ffmpeg_reason(stderr: list[str], secret: str | None) -> str:
    """ffmpeg's last words, made readable and free of URLs (``secret``: the presigned one)."""
    lines: list[str] = []
    for line in stderr[-5:]:
        if secret:
            line = line.replace(secret, "<recording>")
        line = _ANY_URL.sub("<url>", line)
        line = _CONTEXT_POINTER.sub(r"\1: ", line)
        lines.append(line[:200])
    return "; ".join(lines) or "ffmpeg gave no reason"


def undecodable(
    key: str, stderr: list[str], kind: Literal["url", "file", "pipe"], secret: str | None
) -> UnsupportedMediaError:
    """The error for a recording ffmpeg cannot decode; the key is evidence, not the summary
    (the summary is what the user reads)."""
    reason = ffmpeg_reason(stderr, secret)
    hints = ["check that the file plays in a media player; re-export it as WAV, MP3 or Opus"]
    if kind == "pipe" and _NEEDS_SEEK.search(reason):
        hints.insert(
            0,
            "this MP4/M4A keeps its index at the end, which a stream cannot reach: "
            "re-encode with `ffmpeg -i IN -c copy -movflags +faststart OUT.m4a`",
        )
    if "not on whitelist" in reason:
        hints.insert(0, "this container type is not accepted; convert it to WAV, MP3 or Opus")
    return UnsupportedMediaError(
        "Cannot decode the recording as audio.",
        details=[f"recording {key}", f"ffmpeg: {reason}"],
        hints=hints,
    )
