"""``S3Store.get``'s streamed reader: it resumes where a broken connection left off.

A long read (a recording decoded by ffmpeg, a model blob) must not fail
because one connection broke after gigabytes. The reader remembers the next
byte it owes the caller; when the connection is reset, times out or ends
early, it sends ``GET`` again with ``Range: bytes=<that byte>-<last>`` and
``If-Match: <the first answer's ETag>`` (so a replaced object is never
spliced: ``412`` → ``IntegrityError``), through the store's retry policy
(``retry.py``: ``max_attempts`` tries per read without progress); then the
translated ``StorageUnavailableError``. A ``200`` without ``Content-Length``
(chunked: compatible servers and proxies send it) is read until its body
ends. The caller sees one uninterrupted stream of the right bytes.

Servers differ in how they answer a range: ``206`` with ``Content-Range``
(AWS, moto), ``200`` with ``Content-Range`` (``rclone serve s3``), or ``200``
with the whole object when they ignore ``Range``; the reader discards what
comes before the byte it asked for in that last case.
"""

from __future__ import annotations

import http.client
import logging

from ivrimeet.errors import IntegrityError
from ivrimeet.objects.answer_fields import content_range
from ivrimeet.objects.retry import Retryable
from ivrimeet.objects.s3_http import TRANSIENT, Answer, S3Http, error_body

__all__ = ["ResumingReader"]

logger = logging.getLogger(__name__)

_SKIP_CHUNK = 1024 * 1024


class ResumingReader:
    """Bytes ``start``..``end`` (inclusive; ``None``: from 0 / to the end) of one object."""

    def __init__(self, s3: S3Http, key: str, start: int | None, end: int | None) -> None:
        self._http = s3
        self._key = key
        self._ranged = start is not None or end is not None
        self._position = start or 0
        self._last: int | None = end  # the last byte to deliver, once known
        # A 200 without Content-Length (chunked): the end is where the body ends.
        self._until_eof = False
        self._etag: str | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self.resumes = 0

    # --- requests ----------------------------------------------------------------

    def open(self) -> ResumingReader:
        """Send the first request; raises the translated error (e.g. ``ObjectNotFoundError``)."""
        self._request(first=True)
        return self

    def _request(self, *, first: bool) -> None:
        self._http.with_retries(lambda: self._try_request(first=first), "GetObject", self._key)

    def _try_request(self, *, first: bool) -> None:
        self._drop_connection()
        headers: dict[str, str] = {}
        if self._ranged or not first:
            last = "" if self._last is None else str(self._last)
            headers["Range"] = f"bytes={self._position}-{last}"
        if self._etag:
            headers["If-Match"] = self._etag
        self._conn, response = self._http.open(self._key, headers)
        self._response = response
        status = response.status
        if status == 416 and first:
            # The range starts past the end: nothing to read, like a file's read().
            response.read()
            self._last = self._position - 1
            return
        if status == 412 and not first:
            response.read()
            raise IntegrityError(
                f"s3://{self._http.connection.bucket}/{self._key} changed while it was being read.",
                hints=["retry the read"],
            )
        if status not in (200, 206):
            answer = Answer(response.status, dict(response.getheaders()), error_body(response))
            self._drop_connection()
            raise self._http.failed_answer(answer, "GetObject", self._key)
        if first:
            self._etag = response.getheader("ETag")
        got = content_range(response.getheader("Content-Range"))
        if got is not None:
            offset, answer_last = got.first, got.last
        else:
            # The whole object (asked for, or the server ignored the range).
            offset = 0
            length = response.getheader("Content-Length")
            if length is None:
                # Chunked (or ended by closing): read until the body ends, never guess.
                self._until_eof = self._last is None
                self._skip(offset)
                return
            answer_last = int(length) - 1
        if self._last is None or self._last > answer_last:
            self._last = answer_last
        self._skip(offset)

    def _skip(self, offset: int) -> None:
        """Discard what the answer holds before the byte we owe (``offset`` is its first)."""
        assert self._response is not None
        left = self._position - offset
        while left > 0:
            try:
                got = self._response.read(min(left, _SKIP_CHUNK))
            except TRANSIENT as exc:
                self._drop_connection()
                raise self._broken(exc) from exc
            if not got:
                self._drop_connection()
                raise self._broken(http.client.IncompleteRead(b"", left))
            left -= len(got)

    def _broken(self, exc: BaseException) -> Retryable:
        return self._http.broken(exc, self._http.target(self._key), "GetObject", self._key)

    # --- reading ---------------------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for ``size < 0``); ``b""`` at the end."""
        chunks: list[bytes] = []
        while size != 0:
            if self._until_eof:
                data = self._read_resuming(_SKIP_CHUNK if size < 0 else size)
                if not data:
                    self._until_eof = False
                    self._last = self._position - 1
                    break
            else:
                assert self._last is not None
                left = self._last - self._position + 1
                if left <= 0:
                    break
                data = self._read_resuming(left if size < 0 else min(left, size))
            self._position += len(data)
            chunks.append(data)
            if size > 0:
                break
        if self._last is not None and self._position > self._last:
            self._finish()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _read_resuming(self, want: int) -> bytes:
        """Some of the next ``want`` bytes; on a broken connection, ask again from here
        (each try after the first sends ``GET`` with ``Range: bytes=<here>-``)."""
        return self._http.with_retries(lambda: self._read_some(want), "GetObject", self._key)

    def _read_some(self, want: int) -> bytes:
        if self._response is None:
            self.resumes += 1
            logger.info(
                "object.get_resume key=%s offset=%d resumes=%d",
                self._key,
                self._position,
                self.resumes,
            )
            self._try_request(first=False)
        assert self._response is not None
        try:
            data: bytes = self._response.read(want)
        except TRANSIENT as exc:
            self._drop_connection()
            raise self._broken(exc) from exc
        if not data and not self._until_eof:
            # http.client returns b"" when a body ends early: the connection broke.
            self._drop_connection()
            raise self._broken(http.client.IncompleteRead(b"", want))
        return data

    def readable(self) -> bool:
        return True

    # --- connections -------------------------------------------------------------

    def _finish(self) -> None:
        """Everything was read: a cleanly ended connection goes back to the pool."""
        if self._conn is not None and self._response is not None:
            if self._response.isclosed() and not self._response.will_close:
                self._http.release(self._conn)
            else:
                self._conn.close()
        self._conn = None
        self._response = None

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._response = None

    def close(self) -> None:
        self._drop_connection()
