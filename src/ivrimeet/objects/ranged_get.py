"""The fast path for ``S3Store.download_to_file``: parallel ranged GETs written in place.

Why not boto3's transfer manager: on two cores a download is CPU-bound, and
boto3 spends 3-3.6 CPU-s/GiB (urllib3 allocates and copies on every read); the
stdlib's ``http.client`` fills a caller's buffer (``readinto``), and this path
spends ~0.7 CPU-s/GiB (``../shared/facts/s3-servers.md``).

Steps::

    1. GET bytes=0..part_size-1          the answer's Content-Range gives the size
                                         (no separate HEAD)
    2. create <dir>/.<name>.<uuid>.incomplete next to the target, sized up
       front (sparse) after checking the disk has room (``part_file``)
    3. N threads, one keep-alive connection each, take the remaining parts
       in order: GET bytes=a..b (If-Match: the first answer's ETag), the
       body copied or spliced into the file at offset a (``body_copy``)
    4. check every byte arrived, rename the temp file onto the target

With a ``digest``, ``PartFile`` hashes the bytes in order while they arrive.

Addressing and connections come from ``S3Http`` (the same as every other
request); each request is signed with the credentials of that moment, so
temporary ones are refreshed between parts. A part that fails (connection
reset, timeout, 5xx, SlowDown) is tried again through the store's retry policy
(``retry.py``) on a fresh connection; then the download fails with a
translated error and the temp file is removed. ``206`` answers are expected,
``200`` with a ``Content-Range`` too (``rclone serve s3``); a ``200`` without
one means the server ignored the range and is sending the whole object, which
is then read on that one connection.
"""

from __future__ import annotations

import http.client
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ivrimeet.errors import IntegrityError, IvrimeetError, StorageUnavailableError
from ivrimeet.objects import answer_fields
from ivrimeet.objects.answer_fields import empty_object_size
from ivrimeet.objects.body_copy import BodyCopier
from ivrimeet.objects.connections import request_target
from ivrimeet.objects.part_file import PartFile
from ivrimeet.objects.retry import Cancelled, Retryable
from ivrimeet.objects.s3_http import TRANSIENT, Answer, S3Http
from ivrimeet.objects.sigv4 import EMPTY_SHA256
from ivrimeet.objects.store import Digest

__all__ = ["RangedDownloader"]

logger = logging.getLogger(__name__)

_ACTUAL_SIZE = re.compile(rb"<ActualObjectSize>(\d+)</ActualObjectSize>")

ProgressCallback = Callable[[int], None]


class RangedDownloader:
    """Downloads one object to a file with ``concurrency`` parallel ranged GETs.

    Memory: one 1 MiB buffer per thread. Connections: one per thread, closed
    at the end of each download.
    """

    def __init__(
        self, http: S3Http, *, part_size: int, concurrency: int, zero_copy: bool = True
    ) -> None:
        self.http = http
        self.connection = http.connection
        self.part_size = part_size
        self.concurrency = concurrency
        # splice(2) bodies of plain-HTTP answers into the file (Linux); turned off for
        # good if the file system refuses it.
        self.zero_copy = zero_copy

    # --- the download -------------------------------------------------------------

    def download(
        self,
        key: str,
        path: Path,
        *,
        progress: ProgressCallback | None = None,
        digest: Digest | None = None,
    ) -> int:
        """Write object ``key`` to ``path`` (atomically, via a temp file); returns its size.

        ``digest`` is updated with the whole body, in order, before this returns.
        """
        job = _Download(self, key, path, progress, digest)
        return job.run()


class _Download:
    """One download's state: the temp file, the parts still to fetch, the first error."""

    def __init__(
        self,
        owner: RangedDownloader,
        key: str,
        path: Path,
        progress: ProgressCallback | None,
        digest: Digest | None,
    ) -> None:
        self.owner = owner
        self.key = key
        self.path = path
        self.target = owner.http.target(key)
        self.etag: str | None = None
        self._lock = threading.Lock()
        self._parts: Iterator[tuple[int, int]] = iter(())
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.file = PartFile(
            path,
            source=f"s3://{owner.connection.bucket}/{key}",
            part_size=owner.part_size,
            digest=digest,
            progress=progress,
            stop=self._stop,
        )
        self.copier = BodyCopier(self.file, self._broken, zero_copy=owner.zero_copy)

    # --- requests ---------------------------------------------------------------

    def _signed(self, method: str, headers: dict[str, str]) -> dict[str, str]:
        # Signed with the credentials of this moment: temporary ones that expire
        # during a long download are refreshed between its parts.
        return self.owner.http.sign(
            method, self.target, headers, "GetObject", self.key, payload=EMPTY_SHA256
        )

    def _headers(self, first: int, last: int) -> dict[str, str]:
        headers = {"Range": f"bytes={first}-{last}"}
        if self.etag:
            headers["If-Match"] = self.etag
        return self._signed("GET", headers)

    def _request(
        self, conn: http.client.HTTPConnection, first: int, last: int
    ) -> http.client.HTTPResponse:
        conn.request("GET", request_target(conn, self.target), headers=self._headers(first, last))
        return conn.getresponse()

    def _error_for(
        self, response: http.client.HTTPResponse, body: bytes | None = None
    ) -> IvrimeetError:
        if body is None:
            body = response.read(64 * 1024)
        answer = Answer(response.status, dict(response.getheaders()), body)
        return self.owner.http.http_error(answer, "GetObject", self.key)

    def _failed(self, response: http.client.HTTPResponse) -> Retryable:
        """An error answer, for the retry policy to judge."""
        answer = Answer(response.status, dict(response.getheaders()), response.read(64 * 1024))
        return self.owner.http.failed_answer(answer, "GetObject", self.key)

    def _broken(self, exc: BaseException) -> Retryable:
        """A connection that failed mid-request, for the retry policy to judge."""
        return self.owner.http.broken(exc, self.target, "GetObject", self.key)

    # --- running ----------------------------------------------------------------

    def run(self) -> int:
        try:
            self._run()
        except BaseException:
            self._stop.set()
            self.file.wake()
            # Workers must be gone before the descriptor is closed (and its number reused).
            for thread in self._threads:
                thread.join()
            self.file.discard()
            raise
        finally:
            if not self.copier.zero_copy:
                self.owner.zero_copy = False  # the file system refused splice: remember
        return self.file.size

    def _run(self) -> None:
        conn = self.owner.http.new_connection(self.target)
        try:
            first_last = self._first_part(conn)
            if first_last is None:
                # The server ignored the range: the whole object came on this connection.
                pass
            else:
                self._parallel(conn, first_last)
        finally:
            conn.close()
        if self.file.error is not None:
            raise self.file.error
        if self.file.written != self.file.size:
            raise IntegrityError(
                f"Download of s3://{self.owner.connection.bucket}/{self.key} is incomplete: "
                f"{self.file.written} of {self.file.size} bytes arrived.",
                hints=["retry; if it persists, check the server and any proxy in between"],
            )
        self.file.finish()

    def _first_part(self, conn: http.client.HTTPConnection) -> int | None:
        """Fetch part 0 (with retries); learn the size. Returns the last byte fetched,
        or None if the server sent the whole object."""

        def attempt() -> int | None:
            try:
                return self._try_first_part(conn)
            except Retryable:
                conn.close()
                raise

        return self.owner.http.with_retries(attempt, "GetObject", self.key, self._stop)

    def _try_first_part(self, conn: http.client.HTTPConnection) -> int | None:
        last = self.owner.part_size - 1
        try:
            response = self._request(conn, 0, last)
        except TRANSIENT as exc:
            raise self._broken(exc) from exc
        status = response.status
        content_range = response.getheader("Content-Range")
        if status == 416:
            # An empty object has no byte 0. AWS says so in Content-Range (bytes */0),
            # moto only in the XML body (ActualObjectSize).
            body = response.read()
            size = empty_object_size(content_range)
            if size is None:
                actual = _ACTUAL_SIZE.search(body)
                size = int(actual.group(1)) if actual else self._head_size(conn)
            if size != 0:
                raise self._error_for(response, body)
            self.file.open(0)
            return last
        if status not in (200, 206):
            raise self._failed(response)
        self.etag = response.getheader("ETag")
        if content_range:
            got = answer_fields.content_range(content_range)
            if got is None or got.size is None or got.first != 0:
                raise self._bad_answer(f"unexpected Content-Range {content_range!r}")
            self.file.open(got.size)
            self.copier.receive(conn, response, 0, got.last + 1)
            return got.last
        if status == 206:
            raise self._bad_answer("a 206 answer without Content-Range")
        # 200 without Content-Range: the whole object is on its way.
        length = response.getheader("Content-Length")
        if length is None:
            # Chunked, size unknown until the body ends: read it all, then size the file.
            self.file.open(0, hash_now=False)
            self.file.open(self.copier.receive_to_end(response))
            return None
        self.file.open(int(length))
        self.copier.receive(conn, response, 0, self.file.size)
        return None

    def _head_size(self, conn: http.client.HTTPConnection) -> int | None:
        """The object's size from a HEAD (rclone's 416 answers do not carry it)."""
        try:
            conn.request(
                "HEAD", request_target(conn, self.target), headers=self._signed("HEAD", {})
            )
            response = conn.getresponse()
            response.read()
        except TRANSIENT as exc:
            raise self._broken(exc) from exc
        length = response.getheader("Content-Length")
        return int(length) if response.status == 200 and length is not None else None

    def _bad_answer(self, what: str) -> IvrimeetError:
        return StorageUnavailableError(
            f"Cannot read s3://{self.owner.connection.bucket}/{self.key}: "
            f"the server at {self.owner.connection.endpoint_label} sent {what}.",
            hints=["check S3_ENDPOINT_URL points at an S3-compatible server"],
        )

    # --- the remaining parts, in parallel ------------------------------------------

    def _parallel(self, conn: http.client.HTTPConnection, fetched_last: int) -> None:
        part_size, size = self.owner.part_size, self.file.size
        self.file.later_parts_start = fetched_last + 1
        starts = range(fetched_last + 1, size, part_size)
        self._parts = ((start, min(start + part_size, size) - 1) for start in starts)
        workers = min(self.owner.concurrency, len(starts)) - 1
        self._threads = [
            threading.Thread(target=self._worker, args=(None,), name=f"s3-get-{n}", daemon=True)
            for n in range(max(workers, 0))
        ]
        for thread in self._threads:
            thread.start()
        if starts:
            self._worker(conn)
        for thread in self._threads:
            thread.join()
        if self._error is not None:
            raise self._error

    def _next_part(self) -> tuple[int, int] | None:
        with self._lock:
            if self._stop.is_set():
                return None
            return next(self._parts, None)

    def _worker(self, conn: http.client.HTTPConnection | None) -> None:
        own = conn is None
        connection = conn or self.owner.http.new_connection(self.target)
        try:
            while (part := self._next_part()) is not None:
                connection = self._fetch(connection, *part)
        except Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001  # handed to the main thread, raised there
            with self._lock:
                if self._error is None:
                    self._error = exc
            self._stop.set()
        finally:
            if own:
                connection.close()

    def _fetch(
        self, conn: http.client.HTTPConnection, first: int, last: int
    ) -> http.client.HTTPConnection:
        def attempt() -> None:
            try:
                self._try_fetch(conn, first, last)
            except Retryable:
                conn.close()  # the next try reconnects (http.client opens it on request)
                raise

        self.owner.http.with_retries(attempt, "GetObject", self.key, self._stop)
        return conn

    def _try_fetch(self, conn: http.client.HTTPConnection, first: int, last: int) -> None:
        try:
            response = self._request(conn, first, last)
        except TRANSIENT as exc:
            raise self._broken(exc) from exc
        if response.status == 412:
            response.read()
            raise IntegrityError(
                f"s3://{self.owner.connection.bucket}/{self.key} changed while it was being "
                "downloaded.",
                hints=["retry the download"],
            )
        if response.status not in (200, 206):
            raise self._failed(response)
        content_range = response.getheader("Content-Range") or ""
        got = answer_fields.content_range(content_range)
        if got is None or (got.first, got.last) != (first, last):
            raise self._bad_answer(
                f"bytes {content_range or '(no Content-Range)'} for a request of "
                f"bytes {first}-{last}"
            )
        self.copier.receive(conn, response, first, last - first + 1)
