"""``GET /files/{key}``: objects of the local folder store behind signed, expiring URLs.

``LocalStore.presign_get`` hands out ``/files/<key>?expires=...&signature=...``;
this route checks the signature (``LocalStore.verify_signature``, constant
time) and streams the object with ``Range`` support, so browsers can seek in a
recording or snippet. With an S3 store the route does not exist (404): S3 serves
its own presigned URLs.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from ivrimeet.api.deps import StoreDep
from ivrimeet.errors import ObjectNotFoundError, UrlSignatureError
from ivrimeet.objects import LocalStore, ObjectStore, validate_key

__all__ = ["parse_range", "router"]

router = APIRouter(tags=["files"])

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


@router.get("/files/{key:path}", summary="An object of the local store, by signed URL")
def get_file(
    key: str,
    store: StoreDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    if not isinstance(store, LocalStore):
        raise ObjectNotFoundError("Files are served by S3 presigned URLs on this server.")
    validate_key(key)
    if not store.verify_signature(key, expires, signature):
        raise UrlSignatureError(
            "This file link is not valid or has expired.",
            hints=["ask the API for a fresh link (GET the meeting again)"],
        )
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
