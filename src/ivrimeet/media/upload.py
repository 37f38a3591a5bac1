"""Streaming an HTTP request body into the object store in constant memory.

``store_upload`` takes the request body as an async iterator of byte chunks
(``request.stream()``) and ends with one object in the store, or none:

::

    event loop                                       writer thread
    ──────────                                       ─────────────
    body chunks ─▶ [multipart parser] ─▶ file bytes
                   first SNIFF_BYTES ─▶ sniff ─▶ 415 if not audio/video
                   size > max_bytes ─▶ 413
                   1 MiB batches ─▶ bounded queue (QUEUE_CHUNKS) ─▶ store.put(key, chunks)
                                                                   (multipart upload on S3)

Memory is bounded by ``QUEUE_CHUNKS`` × ``CHUNK_BYTES`` here plus the store's
part buffers (``UPLOAD_CONCURRENCY + 1`` parts on S3); nothing is written to
local disk. The body is
either raw (``Content-Type: audio/*``, ``video/*`` or
``application/octet-stream``) or ``multipart/form-data`` with the recording
in the field ``file`` (and an optional ``title`` field), parsed as a stream
with python-multipart's ``MultipartParser``, never spooled.

Whenever the upload does not complete (size limit, not audio, truncated
multipart body, client disconnect, storage error) the writer thread's body
iterator raises ``UploadAborted``, so ``store.put`` abandons its multipart
upload and no object is left behind; then the original error propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Final

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ivrimeet.errors import InvalidInputError, SizeLimitError, UnsupportedMediaError
from ivrimeet.media.sniff import SNIFF_BYTES, require_media
from ivrimeet.objects import ObjectInfo, ObjectStore

__all__ = [
    "CHUNK_BYTES",
    "MAX_TITLE_CHARS",
    "QUEUE_CHUNKS",
    "StoredUpload",
    "UploadAborted",
    "store_upload",
]

logger = logging.getLogger(__name__)

CHUNK_BYTES: Final = 1024 * 1024
"""Bytes handed to the writer thread at a time (a batch of the request's chunks, not joined:
the store copies each byte once, into its part buffer)."""
QUEUE_CHUNKS: Final = 4
"""Batches that may wait for the writer: the upload's memory bound on this side."""
MAX_TITLE_CHARS: Final = 500
_MAX_FIELD_BYTES: Final = 4 * MAX_TITLE_CHARS
# Room for the multipart framing and a title around the file when checking Content-Length.
_FORM_OVERHEAD_BYTES: Final = 64 * 1024
_RAW_TYPES: Final = ("audio/", "video/", "application/octet-stream")


class UploadAborted(Exception):  # a signal to the writer, not an error users see
    """Raised inside ``store.put``'s body iterator when the request body stops."""


@dataclass(frozen=True)
class StoredUpload:
    """The stored recording: where it went, how big, what it is."""

    key: str
    size: int
    content_type: str
    extension: str
    title: str | None
    filename: str | None


# --- hand-off between the event loop and the writer thread --------------------

_END: Final = b""
_ABORT: Final = None


class _ChunkPipe:
    """A bounded queue from the event loop (``send``) to one blocking reader (``chunks``).

    ``send`` waits without blocking the loop while the queue is full; it raises
    ``_ReaderGone`` once the reader has stopped, so a failed ``store.put`` never
    leaves the request waiting on a queue nobody drains.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: queue.Queue[list[bytes] | bytes | None] = queue.Queue(QUEUE_CHUNKS)
        self._space = asyncio.Event()
        self._reader_gone = False

    async def send(self, item: list[bytes] | bytes | None) -> None:
        while True:
            if self._reader_gone:
                raise _ReaderGone
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                # ``set`` only ever runs on the loop, after this clear: no lost wake-up.
                self._space.clear()
                await self._space.wait()

    def chunks(self) -> Iterator[bytes]:
        """The body as the writer thread sees it; ``UploadAborted`` if the request stopped."""
        while True:
            item = self._queue.get()
            self._notify(self._space.set)
            if item is _ABORT:
                raise UploadAborted("the request body stopped before the upload completed")
            if isinstance(item, bytes):  # _END
                return
            yield from item

    def reader_finished(self) -> None:
        self._notify(self._mark_reader_gone)

    def _mark_reader_gone(self) -> None:
        self._reader_gone = True
        self._space.set()

    def _notify(self, callback: Callable[[], None]) -> None:
        # A closed loop (server shutting down) means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback)


class _ReaderGone(Exception):  # internal control flow
    pass


class _Writer:
    """``store.put`` running in its own thread, fed through a ``_ChunkPipe``."""

    def __init__(self, store: ObjectStore, key: str, content_type: str, max_bytes: int) -> None:
        loop = asyncio.get_running_loop()
        self._store = store
        self._key = key
        self.pipe = _ChunkPipe(loop)
        self._done: asyncio.Future[ObjectInfo] = loop.create_future()
        self._thread = threading.Thread(
            target=self._run,
            args=(loop, store, key, content_type, max_bytes),
            name=f"upload-{key}",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        store: ObjectStore,
        key: str,
        content_type: str,
        max_bytes: int,
    ) -> None:
        try:
            info = store.put(
                key, self.pipe.chunks(), max_bytes=max_bytes, content_type=content_type
            )
        except BaseException as exc:  # noqa: BLE001  # handed to the request, re-raised there
            self._settle(loop, None, exc)
        else:
            self._settle(loop, info, None)
        finally:
            self.pipe.reader_finished()

    def _settle(
        self,
        loop: asyncio.AbstractEventLoop,
        info: ObjectInfo | None,
        exc: BaseException | None,
    ) -> None:
        def settle() -> None:
            if self._done.done():
                return
            if exc is not None:
                self._done.set_exception(exc)
            else:
                assert info is not None
                self._done.set_result(info)

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle)

    async def send(self, batch: list[bytes]) -> None:
        try:
            await self.pipe.send(batch)
        except _ReaderGone:
            # store.put stopped early: its error is the one to report.
            await self._done
            raise RuntimeError("store.put returned before the body ended") from None

    async def finish(self) -> ObjectInfo:
        with contextlib.suppress(_ReaderGone):
            await self.pipe.send(_END)
        return await self._done

    async def abort(self) -> None:
        """Stop the upload and wait until ``store.put`` has cleaned up."""
        with contextlib.suppress(_ReaderGone):
            await self.pipe.send(_ABORT)
        try:
            await asyncio.shield(self._done)
        except UploadAborted:
            return
        except Exception as exc:  # noqa: BLE001  # the abort's own cause is what we report
            logger.warning("upload.abort_failed key=%s error=%s", self._key, type(exc).__name__)
            return
        # store.put had already completed: remove what it stored.
        await asyncio.to_thread(self._store.delete, self._key)
        logger.info("upload.discarded key=%s", self._key)


# --- the file's bytes: sniff, limit, join, write ------------------------------


class _FileSink:
    """Receives the recording's bytes in order and ends as one stored object."""

    def __init__(
        self,
        store: ObjectStore,
        key_for: Callable[[str], str],
        max_bytes: int,
    ) -> None:
        self._store = store
        self._key_for = key_for
        self._max_bytes = max_bytes
        self._head = bytearray()
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._writer: _Writer | None = None
        self.size = 0
        self.key: str | None = None
        self.extension = ""
        self.content_type = "application/octet-stream"

    async def write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self._max_bytes:
            raise _too_large(self._max_bytes)
        if self._writer is None:
            self._head += data
            if len(self._head) >= SNIFF_BYTES:
                await self._start()
            return
        self._batch.append(data)
        self._batch_bytes += len(data)
        if self._batch_bytes >= CHUNK_BYTES:
            await self._flush()

    async def finish(self) -> ObjectInfo:
        if self.size == 0:
            raise InvalidInputError(
                "The upload is empty.", hints=["send the recording as the request body"]
            )
        if self._writer is None:
            await self._start()
        assert self._writer is not None
        await self._flush()
        return await self._writer.finish()

    async def abort(self) -> None:
        if self._writer is not None:
            await self._writer.abort()

    async def _start(self) -> None:
        head = bytes(self._head)
        self._head.clear()
        kind = require_media(head, name="The upload")
        self.extension = kind.extension
        self.content_type = kind.content_type
        self.key = self._key_for(kind.extension)
        self._writer = _Writer(self._store, self.key, self.content_type, self._max_bytes)
        self._batch.append(head)
        self._batch_bytes += len(head)
        if self._batch_bytes >= CHUNK_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._batch and self._writer is not None:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            await self._writer.send(batch)


def _too_large(max_bytes: int) -> SizeLimitError:
    return SizeLimitError(
        f"The upload is larger than the limit of {max_bytes} bytes.",
        hints=["send a smaller recording, or raise MAX_UPLOAD_BYTES on the server"],
    )


# --- request bodies -----------------------------------------------------------


@dataclass
class _Part:
    name: str | None = None
    filename: str | None = None


class _FormReader:
    """Feeds a multipart/form-data body through python-multipart's streaming parser.

    The parser's callbacks only record what they saw; the async caller acts on it
    after each ``write`` so that back-pressure reaches the request stream.
    """

    def __init__(self, boundary: bytes) -> None:
        self.events: list[tuple[str, bytes | _Part | None]] = []
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self.ended = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_end": self._on_end,
            },
        )

    def write(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except MultipartParseError as exc:
            raise _malformed(str(exc)) from exc

    def finalize(self) -> None:
        self._parser.finalize()
        if not self.ended:
            raise _malformed("the body ended before the closing boundary")

    def _on_part_begin(self) -> None:
        self._part = _Part()
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name")
        filename = options.get(b"filename")
        self._part.name = name.decode("utf-8", "replace") if name is not None else None
        self._part.filename = filename.decode("utf-8", "replace") if filename else None
        self.events.append(("part", self._part))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(("data", data[start:end]))

    def _on_part_end(self) -> None:
        self.events.append(("end", None))

    def _on_end(self) -> None:
        self.ended = True


def _malformed(reason: str) -> InvalidInputError:
    return InvalidInputError(
        f"The multipart/form-data body is malformed: {reason}.",
        hints=["send the recording as the form field 'file', or as a raw audio/* body"],
    )


def _media_type(content_type: str | None) -> tuple[str, dict[bytes, bytes]]:
    value, options = parse_options_header(content_type or "")
    return value.decode("latin-1").lower(), options


async def store_upload(
    body: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: int | None,
    store: ObjectStore,
    key_for: Callable[[str], str],
    max_bytes: int,
    title: str | None = None,
) -> StoredUpload:
    """Stream ``body`` into ``store`` at ``key_for(extension)``; see the module docstring.

    Raises ``SizeLimitError`` (413), ``UnsupportedMediaError`` (415),
    ``InvalidInputError`` (422, malformed form, empty or over-long title), any
    storage error from ``store.put``, or whatever ``body`` raises (a client
    disconnect); in every one of those cases nothing is stored.
    """
    media_type, options = _media_type(content_type)
    started = time.monotonic()
    if media_type == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise _malformed("the Content-Type header has no boundary")
        if content_length is not None and content_length > max_bytes + _FORM_OVERHEAD_BYTES:
            raise _too_large(max_bytes)
        sink = _FileSink(store, key_for, max_bytes)
        try:
            filename, form_title = await _read_form(body, _FormReader(boundary), sink)
            title = _clean_title(form_title if form_title is not None else title)
            info = await sink.finish()
        except BaseException:
            await sink.abort()
            raise
    elif media_type.startswith(_RAW_TYPES):
        if content_length is not None and content_length > max_bytes:
            raise _too_large(max_bytes)
        title = _clean_title(title)
        sink = _FileSink(store, key_for, max_bytes)
        filename = None
        try:
            async for chunk in body:
                await sink.write(chunk)
            if content_length is not None and sink.size != content_length:
                raise InvalidInputError(
                    f"The body ended after {sink.size} of {content_length} bytes.",
                    hints=["retry the upload"],
                )
            info = await sink.finish()
        except BaseException:
            await sink.abort()
            raise
    else:
        raise UnsupportedMediaError(
            f"Cannot take a {media_type or 'body without Content-Type'} upload.",
            hints=[
                "send the recording as a raw body with Content-Type audio/* (or video/*)",
                "or as multipart/form-data with the recording in the field 'file'",
            ],
        )
    assert sink.key is not None
    logger.info(
        "upload.stored key=%s bytes=%d content_type=%s seconds=%.3f",
        sink.key,
        info.size,
        sink.content_type,
        time.monotonic() - started,
    )
    return StoredUpload(
        key=sink.key,
        size=info.size,
        content_type=sink.content_type,
        extension=sink.extension,
        title=title,
        filename=filename,
    )


async def _read_form(
    body: AsyncIterator[bytes], form: _FormReader, sink: _FileSink
) -> tuple[str | None, str | None]:
    """Route the form's parts: ``file`` to ``sink``, ``title`` kept, others dropped."""
    current: _Part | None = None
    seen_file = False
    filename: str | None = None
    title: bytearray | None = None
    field = bytearray()

    async def handle(events: list[tuple[str, bytes | _Part | None]]) -> None:
        nonlocal current, seen_file, filename, title
        for kind, value in events:
            if kind == "part":
                assert isinstance(value, _Part)
                current = value
                if current.name == "file":
                    if seen_file:
                        raise _malformed("it has more than one 'file' field")
                    seen_file = True
                    filename = current.filename
                field.clear()
            elif kind == "data":
                assert isinstance(value, bytes)
                if current is not None and current.name == "file":
                    await sink.write(value)
                elif current is not None and current.name == "title":
                    field.extend(value)
                    if len(field) > _MAX_FIELD_BYTES:
                        raise _title_too_long()
            elif kind == "end" and current is not None and current.name == "title":
                title = bytearray(field)

    async for chunk in body:
        form.write(chunk)
        events, form.events = form.events, []
        await handle(events)
    form.finalize()
    await handle(form.events)
    if not seen_file:
        raise InvalidInputError(
            "The form has no 'file' field.",
            hints=["send the recording in the multipart field named 'file'"],
        )
    return filename, (title.decode("utf-8", "replace") if title is not None else None)


def _title_too_long() -> InvalidInputError:
    return InvalidInputError(
        f"The title is longer than {MAX_TITLE_CHARS} characters.",
        hints=["shorten the title"],
    )


def _clean_title(title: str | None) -> str | None:
    if title is None:
        return None
    title = title.strip()
    if len(title) > MAX_TITLE_CHARS:
        raise _title_too_long()
    if "\x00" in title:
        # PostgreSQL cannot store NUL in text: refused here, the same on every database.
        raise InvalidInputError(
            "The title contains a NUL character.", hints=["send the title as plain text"]
        )
    return title or None
