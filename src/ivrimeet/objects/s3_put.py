"""``S3Store.put``'s upload path: parts filled in place, sent from reused buffers.

::

    body ──fill──▶ buffer 1 ──▶ PUT ?partNumber=1  ┐
         ──fill──▶ buffer 2 ──▶ PUT ?partNumber=2  │ at most ``concurrency`` in flight,
         ──fill──▶ buffer 3 (waits for a free slot) ┘ ``concurrency + 1`` buffers in all
    ...            (a buffer comes back when its part is stored)

Memory: ``(concurrency + 1) * part_size`` of anonymous ``mmap`` buffers per
upload, made once, reused for every part and unmapped at the end, whatever
the body's length (fresh buffers per part, as before, left the allocator
holding on to freed ones: ~30 MiB above the parts themselves). Each byte is
copied once, from the body into a buffer (``readinto`` where the body has it),
and sent from there by ``http.client`` (``s3_http.py``) with its CRC32C
(``x-amz-checksum-crc32c``, which S3 verifies before it stores the part): the
SSE4.2 instruction computes it at ~20 GiB/s here, zlib's CRC32 at ~4 GiB/s,
which was 18 % of the API server's CPU during an upload (README, Performance).

A body that fits in one part is one PutObject; anything longer a multipart
upload, aborted on any failure (also ``KeyboardInterrupt`` or an error raised
by the body) so no object and no open upload remain.
"""

from __future__ import annotations

import base64
import logging
import mmap
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import crc32c

from ivrimeet.errors import PermissionDeniedError
from ivrimeet.objects.answer_fields import unquoted_etag
from ivrimeet.objects.chunks import OverLimit, PartReader
from ivrimeet.objects.s3_http import Answer, S3Http
from ivrimeet.objects.store import ProgressCallback

__all__ = [
    "CHECKSUM_HEADER",
    "MAX_PARTS",
    "Uploaded",
    "abort",
    "checksum",
    "part_buffers",
    "put_single",
    "upload_parts",
]

CHECKSUM_HEADER: Final = "x-amz-checksum-crc32c"


def checksum(data: memoryview | bytes | bytearray) -> str:
    """The ``x-amz-checksum-crc32c`` value of ``data`` (base64 of the big-endian CRC32C)."""
    return base64.b64encode(crc32c.crc32c(data).to_bytes(4, "big")).decode("ascii")


logger = logging.getLogger(__name__)

MAX_PARTS: Final = 10_000
_S3_NS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass(frozen=True)
class Uploaded:
    size: int
    etag: str | None


@contextmanager
def part_buffers(count: int, size: int) -> Iterator[list[memoryview]]:
    """``count`` page-aligned buffers of ``size`` bytes, unmapped afterwards."""
    maps = [mmap.mmap(-1, size) for _ in range(count)]
    views = [memoryview(m) for m in maps]
    try:
        yield list(views)
    finally:
        for view in views:
            view.release()
        for buffer in maps:
            # A slice still referenced somewhere (an exception's frame) keeps its
            # buffer mapped until it is collected; the others are unmapped now.
            with suppress(BufferError):
                buffer.close()


def put_single(
    http: S3Http,
    key: str,
    data: memoryview,
    content_type: str | None,
    extra_headers: dict[str, str] | None = None,
) -> Uploaded:
    """One PutObject of ``data`` with its CRC32C."""
    headers = {CHECKSUM_HEADER: checksum(data), **(extra_headers or {})}
    if content_type:
        headers["Content-Type"] = content_type
    answer = http.send("PUT", key, operation="PutObject", headers=headers, body=data)
    return Uploaded(len(data), unquoted_etag(answer.header("ETag")))


def _xml(answer: Answer, tag: str) -> str | None:
    root = ET.fromstring(answer.body)  # noqa: S314  # S3's own small answer
    found = root.find(f"{{{_S3_NS}}}{tag}")
    if found is None:
        found = root.find(tag)
    return found.text if found is not None else None


@dataclass(frozen=True)
class _Part:
    number: int
    etag: str
    checksum: str
    size: int


def upload_parts(
    http: S3Http,
    key: str,
    reader: PartReader,
    buffers: list[memoryview],
    filled: list[tuple[memoryview, int]],
    *,
    concurrency: int,
    content_type: str | None,
    progress: ProgressCallback | None,
    too_large: Callable[[int], Exception],
) -> Uploaded:
    """A multipart upload of ``filled`` (buffers already read into, the last maybe
    partly) and the rest of ``reader``.

    ``buffers`` are the free buffers; at most ``concurrency`` parts are in flight.
    """
    headers = {"x-amz-checksum-algorithm": "CRC32C"}
    if content_type:
        headers["Content-Type"] = content_type
    created = http.send(
        "POST", key, operation="CreateMultipartUpload", query="uploads", headers=headers
    )
    upload_id = _xml(created, "UploadId")
    if not upload_id:
        raise http.http_error(created, "CreateMultipartUpload", key)
    try:
        parts = _send_parts(
            http, key, upload_id, reader, buffers, filled, concurrency, progress, too_large
        )
        listing = "".join(
            f"<Part><PartNumber>{p.number}</PartNumber><ETag>{_xml_text(p.etag)}</ETag>"
            f"<ChecksumCRC32C>{p.checksum}</ChecksumCRC32C></Part>"
            for p in parts
        )
        document = f'<CompleteMultipartUpload xmlns="{_S3_NS}">{listing}</CompleteMultipartUpload>'
        # A 200 with an <Error> body is retried by ``send`` (``s3_http._ERRORS_IN_200``).
        answer = http.send(
            "POST",
            key,
            operation="CompleteMultipartUpload",
            query=f"uploadId={quote(upload_id, safe='')}",
            body=document.encode(),
        )
    except BaseException:
        abort(http, key, upload_id)
        raise
    return Uploaded(reader.total, unquoted_etag(_xml(answer, "ETag")))


def _send_parts(
    http: S3Http,
    key: str,
    upload_id: str,
    reader: PartReader,
    free: list[memoryview],
    filled: list[tuple[memoryview, int]],
    concurrency: int,
    progress: ProgressCallback | None,
    too_large: Callable[[int], Exception],
) -> list[_Part]:
    done: list[_Part] = []
    in_flight: dict[Future[_Part], memoryview] = {}
    query = f"uploadId={quote(upload_id, safe='')}"

    def send(number: int, data: memoryview) -> _Part:
        answer = http.send(
            "PUT",
            key,
            operation="UploadPart",
            query=f"partNumber={number}&{query}",
            headers={CHECKSUM_HEADER: (crc := checksum(data))},
            body=data,
        )
        etag = answer.header("ETag")
        if not etag:
            raise http.http_error(answer, "UploadPart", key)
        logger.debug("object.part key=%s part=%d bytes=%d", key, number, len(data))
        return _Part(number, etag, crc, len(data))

    def harvest(until: int) -> None:
        """Wait until at most ``until`` parts are in flight; take back their buffers."""
        while len(in_flight) > until:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                free.append(in_flight.pop(future))
                part = future.result()
                done.append(part)
                if progress:
                    progress(part.size)

    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="s3-put")
    try:
        number = 0
        pending = list(filled)
        while True:
            if pending:
                buffer, length = pending.pop(0)
            else:
                if not free:
                    harvest(len(in_flight) - 1)
                buffer, length = free.pop(), 0
            if length < len(buffer):
                try:
                    length += reader.fill(buffer[length:])
                except OverLimit as exc:
                    raise too_large(exc.max_bytes) from exc
            if length == 0:
                free.append(buffer)
                break
            number += 1
            if number > MAX_PARTS:
                raise too_large(MAX_PARTS * len(buffer))
            harvest(concurrency - 1)
            in_flight[pool.submit(send, number, buffer[:length])] = buffer
        harvest(0)
    finally:
        # On failure: drop queued parts and wait for running ones, so no part
        # lands after the abort that follows (and no buffer is unmapped in use).
        pool.shutdown(wait=True, cancel_futures=True)
    return sorted(done, key=lambda p: p.number)


def abort(http: S3Http, key: str, upload_id: str) -> None:
    """Abort a multipart upload; never raises, so the original error stays visible."""
    try:
        http.send(
            "DELETE",
            key,
            operation="AbortMultipartUpload",
            query=f"uploadId={quote(upload_id, safe='')}",
            ok=frozenset({200, 204}),
        )
    except PermissionDeniedError:
        logger.warning(
            "object.abort_refused key=%s bucket=%s reason=%s note=%s",
            key,
            http.connection.bucket,
            "no s3:AbortMultipartUpload permission",
            "the bucket lifecycle rule will remove the uploaded parts",
        )
    except Exception as exc:  # noqa: BLE001  # logged; the upload's own error is raised
        # The server is gone or refusing: its parts stay (and cost) until something
        # aborts them. Say which upload, and what will clean it up.
        logger.warning(
            "object.abort_failed key=%s bucket=%s upload_id=%s error=%s note=%s",
            key,
            http.connection.bucket,
            upload_id,
            getattr(exc, "summary", type(exc).__name__),
            "the upload stays open until the bucket lifecycle rule (ivrimeet setup-bucket) "
            "aborts it",
        )
    else:
        logger.info("object.aborted key=%s", key)


def _xml_text(value: str) -> str:
    """``value`` as XML character data (``xml.sax.saxutils.escape``, without importing
    ``urllib.request`` through it)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
