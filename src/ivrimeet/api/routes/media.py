"""``GET /media/...``: a meeting's recording and snippets, streamed through the API.

The links come from ``MediaLinks`` (``api/media_links.py``), in the meeting
JSON (``snippet_url``) and from ``/api/meetings/{id}/audio``. This route checks
the link's signature and expiry (no bearer token: an ``<audio>`` element cannot
send one), looks the object up by meeting and speaker id, and streams it with
``Range`` support so browsers can seek; memory stays at one chunk per request.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from ivrimeet import db
from ivrimeet.api.deps import MeetingId, SpeakerId, StateDep
from ivrimeet.errors import UrlSignatureError
from ivrimeet.objects import ObjectStore

__all__ = ["RangeNotSatisfiable", "parse_range", "ranged_response", "router"]

router = APIRouter(prefix="/media", tags=["media"])

_CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_AUDIO_TYPES = {
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".oga": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}


class RangeNotSatisfiable(Exception):  # maps to HTTP 416, not an ivrimeet error
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a ``Range`` header asks for, or ``None`` for the whole object.

    One range only (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``); a header we do not
    understand, or several ranges, is ignored as RFC 9110 allows. Raises
    ``RangeNotSatisfiable`` when the range starts beyond the end.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


def _content_type(key: str) -> str:
    suffix = "." + key.rsplit(".", 1)[-1].lower() if "." in key else ""
    return _AUDIO_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def _stream(store: ObjectStore, key: str, start: int, end: int) -> Iterator[bytes]:
    with store.get(key, start=start, end=end) as body:
        while chunk := body.read(_CHUNK):
            yield chunk


Expires = Annotated[int, Query(description="end of the link's life, Unix seconds")]
Signature = Annotated[str, Query(max_length=128)]
RangeHeader = Annotated[str | None, Header(alias="Range")]


def _check_link(request: Request, state: StateDep, expires: int, signature: str) -> None:
    if not state.links.verify(request.url.path, expires, signature):
        raise UrlSignatureError(
            "This media link is not valid or has expired.",
            hints=["ask the API for a fresh link (GET the meeting again)"],
        )


@router.get("/{meeting_id}/recording", summary="The original recording, by signed link")
def get_recording(
    meeting_id: MeetingId,
    request: Request,
    state: StateDep,
    expires: Expires,
    signature: Signature,
    range_header: RangeHeader = None,
) -> Response:
    _check_link(request, state, expires, signature)
    record = db.get_meeting(state.services.database, meeting_id)
    return ranged_response(state.services.store, record.audio_key, range_header)


@router.get("/{meeting_id}/speakers/{speaker_id}", summary="A speaker's snippet, by signed link")
def get_snippet(
    meeting_id: MeetingId,
    speaker_id: SpeakerId,
    request: Request,
    state: StateDep,
    expires: Expires,
    signature: Signature,
    range_header: RangeHeader = None,
) -> Response:
    _check_link(request, state, expires, signature)
    key = db.snippet_key(state.services.database, meeting_id, speaker_id)
    return ranged_response(state.services.store, key, range_header)


def ranged_response(store: ObjectStore, key: str, range_header: str | None) -> Response:
    """``key`` streamed whole (200) or in the one range asked for (206), or 416."""
    size = store.head(key).size
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=300",
    }
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if size == 0:
        return Response(b"", media_type=_content_type(key), headers=headers)
    start, end = wanted or (0, size - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(
        _stream(store, key, start, end),
        status_code=status,
        media_type=_content_type(key),
        headers=headers,
    )
