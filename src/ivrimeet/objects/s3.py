"""``S3Store``: the object store on S3 or an S3-compatible server.

The paths that move bytes, and the ones a busy API server calls all the time,
talk HTTP themselves through ``s3_http.py`` (stdlib ``http.client``, SigV4 per
request, no boto3 client): ``put`` (``s3_put.py``: one PutObject, or a
multipart upload from reused buffers), ``get`` (``s3_read.py``: a streamed
read that resumes after a broken connection), ``head``/``exists`` and
``presign_get``. ``download_to_file`` uses the parallel ranged downloader in
``ranged_get.py``. Listing, deleting and the create-only probe use boto3,
made on first use (``s3_control.py``). Every failure is translated in
``s3_errors.py``; every number (sizes, timeouts, retries) comes from the
connection's ``TransferConfig``.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ivrimeet.errors import (
    ConfigurationError,
    CreateOnlyUnsupportedError,
    ObjectNotFoundError,
    SizeLimitError,
)
from ivrimeet.objects import s3_errors
from ivrimeet.objects.answer_fields import unquoted_etag
from ivrimeet.objects.ranged_get import RangedDownloader
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.s3_http import S3Http
from ivrimeet.objects.s3_read import ResumingReader
from ivrimeet.objects.store import (
    Digest,
    ObjectInfo,
    ProgressCallback,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ivrimeet.objects.chunks import Body, PartReader
    from ivrimeet.objects.s3_put import Uploaded

__all__ = ["S3Store"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
_DELETE_BATCH = 1000


class S3Store:
    """Objects in one S3 bucket; see ``ObjectStore`` for the guarantees.

    Tunables come from the connection's ``TransferConfig`` (``transfer_config.py``:
    part sizes, concurrency, timeouts, retry budget, all checked there); the
    keyword arguments here override its sizes for this store
    (``TransferConfig.tuned``). ``zero_copy`` (default on): over plain HTTP on
    Linux, downloads splice bodies from the socket into the file
    (``ranged_get.py``); off, or over HTTPS, they pass through a buffer.

    Memory: a ``put`` holds ``(upload_concurrency + 1) * upload_part_size``
    bytes of buffers (parts uploading plus one filling) whatever the body's
    length; ``download_to_file`` one 1 MiB buffer per thread; a ``get`` what
    its caller reads at a time.
    """

    def __init__(
        self,
        connection: S3Connection,
        *,
        part_size: int | None = None,
        concurrency: int | None = None,
        upload_part_size: int | None = None,
        upload_concurrency: int | None = None,
        list_page_size: int = 1000,
        zero_copy: bool = True,
    ) -> None:
        transfer = connection.transfer.tuned(
            part_size=part_size,
            concurrency=concurrency,
            upload_part_size=upload_part_size,
            upload_concurrency=upload_concurrency,
        )
        if not 1 <= list_page_size <= 1000:
            raise ConfigurationError(f"list_page_size={list_page_size} is out of range (1..1000).")
        if transfer is not connection.transfer:
            connection = dataclasses.replace(connection, transfer=transfer)
        self.connection = connection
        self.transfer = transfer
        self.part_size = transfer.part_size
        self.concurrency = transfer.concurrency
        self.upload_part_size = transfer.upload_part_size
        self.upload_concurrency = transfer.upload_concurrency
        self.list_page_size = list_page_size
        self.zero_copy = zero_copy
        self._boto3_client: S3Client | None = None
        self._http = S3Http(connection)
        self._downloader = RangedDownloader(
            self._http,
            part_size=transfer.part_size,
            concurrency=transfer.concurrency,
            zero_copy=zero_copy,
        )
        self._create_only: bool | None = None
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()

    @property
    def _client(self) -> S3Client:
        """The boto3 client, made on first use: a download alone never pays its ~0.3 s."""
        with self._lock:
            if self._boto3_client is None:
                self._boto3_client = self.connection.client()
            return self._boto3_client

    # --- naming ---------------------------------------------------------------

    @property
    def bucket(self) -> str:
        return self.connection.bucket

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}"

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _translated(self, operation: str, key: str | None = None) -> AbstractContextManager[None]:
        return s3_errors.translated(operation, self.connection, key=key)

    # --- writing --------------------------------------------------------------
    # The upload modules are imported by the methods that upload: a process that
    # only restores models never loads them (start-up time, ``README.md``).

    def put(
        self,
        key: str,
        body: Body,
        *,
        max_bytes: int | None = None,
        content_type: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        """Store ``body`` at ``key``: one PutObject if it fits in a part, else multipart.

        Memory stays at ``(upload_concurrency + 1) * upload_part_size`` (see the
        class docstring) whatever the body's length. Over ``max_bytes`` raises
        ``SizeLimitError``; any failure (also a ``KeyboardInterrupt`` or an error
        raised by the body's iterator) aborts the multipart upload, so no object
        and no open upload remain.
        """
        from ivrimeet.objects.chunks import PartReader
        from ivrimeet.objects.s3_put import put_single

        validate_key(key)
        started = time.monotonic()
        if isinstance(body, bytes | bytearray | memoryview) and len(body) <= self.upload_part_size:
            if max_bytes is not None and len(body) > max_bytes:
                raise self._too_large(key, max_bytes)
            # Small objects (results, snippets, manifests) go as they are: no buffer.
            uploaded = put_single(self._http, key, memoryview(body).cast("B"), content_type)
        else:
            uploaded = self._put_stream(key, PartReader(body, max_bytes), content_type)
        if progress:
            progress(uploaded.size)
        seconds = time.monotonic() - started
        logger.info(
            "object.put key=%s bytes=%d seconds=%.3f mib_s=%.1f",
            key,
            uploaded.size,
            seconds,
            uploaded.size / MiB / max(seconds, 1e-9),
        )
        return ObjectInfo(
            key=key, size=uploaded.size, etag=uploaded.etag, content_type=content_type
        )

    def _put_stream(self, key: str, reader: PartReader, content_type: str | None) -> Uploaded:
        from ivrimeet.objects.chunks import OverLimit
        from ivrimeet.objects.s3_put import part_buffers, put_single, upload_parts

        part_size = self.upload_part_size
        with part_buffers(self.upload_concurrency + 1, part_size) as buffers:
            first, second = buffers.pop(), buffers.pop()
            try:
                length = reader.fill(first)
                # One more byte decides: the multipart upload starts without waiting
                # for a whole second part (a slow client shows progress at once).
                more = reader.fill(second[:1]) if length == part_size else 0
            except OverLimit as exc:
                raise self._too_large(key, exc.max_bytes) from exc
            if more == 0:
                return put_single(self._http, key, first[:length], content_type)
            return upload_parts(
                self._http,
                key,
                reader,
                buffers,
                [(first, length), (second, more)],
                concurrency=self.upload_concurrency,
                content_type=content_type,
                progress=None,
                too_large=lambda limit: self._too_large(key, limit),
            )

    def _too_large(self, key: str, max_bytes: int) -> SizeLimitError:
        return SizeLimitError(
            f"Upload to {self.url_for(key)} is larger than the limit of {max_bytes} bytes.",
            hints=["send a smaller file or raise MAX_UPLOAD_BYTES"],
        )

    def put_if_absent(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Create ``key`` with ``If-None-Match: *``; ``AlreadyExistsError`` if it exists.

        Raises ``CreateOnlyUnsupportedError`` when the server ignores the header
        (probed once per store), rather than silently overwriting.
        """
        from ivrimeet.objects.s3_put import put_single

        validate_key(key)
        if not self.supports_create_only():
            raise self._create_only_unsupported(key)
        uploaded = put_single(
            self._http, key, memoryview(data), content_type, {"If-None-Match": "*"}
        )
        logger.info("object.put_if_absent key=%s bytes=%d", key, uploaded.size)
        return ObjectInfo(
            key=key, size=uploaded.size, etag=uploaded.etag, content_type=content_type
        )

    def _create_only_unsupported(self, key: str) -> CreateOnlyUnsupportedError:
        return CreateOnlyUnsupportedError(
            f"Cannot create {self.url_for(key)} create-only: the server at "
            f"{self.connection.endpoint_label} ignores If-None-Match: *.",
            hints=[
                "use AWS S3, R2 or MinIO, which honour create-only writes",
                "callers that can live with overwrites of identical content may use put()",
            ],
        )

    def supports_create_only(self) -> bool:
        """Whether the server honours ``If-None-Match: *``: probed once, then cached.

        The probe writes ``_ivrimeet/probe/<uuid>`` create-only twice: a server that
        lets the second write through ignores the header (``rclone serve s3``).
        """
        with self._probe_lock:
            if self._create_only is None:
                from ivrimeet.objects.s3_control import probe_create_only

                self._create_only = probe_create_only(self._client, self.connection)
            return self._create_only

    # --- reading --------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        answer = self._http.send("HEAD", key, operation="HeadObject")
        if answer.status == 404:
            raise self._http.http_error(answer, "HeadObject", key)
        modified = answer.header("Last-Modified")
        return ObjectInfo(
            key=key,
            size=int(answer.header("Content-Length") or 0),
            etag=unquoted_etag(answer.header("ETag")),
            last_modified=_http_date(modified) if modified else None,
            content_type=answer.header("Content-Type"),
        )

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AbstractContextManager[BinaryIO]:
        """Open the object (or bytes ``start``..``end`` inclusive) as a readable stream.

        A connection that breaks mid-read is resumed from the byte reached
        (``s3_read.py``), so the stream is whole or the read raises.
        """
        validate_key(key)
        return self._open(key, start, end)

    @contextmanager
    def _open(self, key: str, start: int | None, end: int | None) -> Iterator[BinaryIO]:
        reader = ResumingReader(self._http, key, start, end)
        try:
            yield reader.open()  # type: ignore[misc]  # duck-typed BinaryIO
        finally:
            reader.close()

    def get_bytes(self, key: str) -> bytes:
        with self.get(key) as handle:
            return handle.read()

    def download_to_file(
        self,
        key: str,
        path: Path,
        *,
        progress: ProgressCallback | None = None,
        digest: Digest | None = None,
    ) -> ObjectInfo:
        """Write the object to ``path`` with parallel ranged GETs (see ``ranged_get.py``)."""
        validate_key(key)
        started = time.monotonic()
        size = self._downloader.download(key, path, progress=progress, digest=digest)
        seconds = time.monotonic() - started
        logger.info(
            "object.download key=%s bytes=%d seconds=%.3f mib_s=%.1f",
            key,
            size,
            seconds,
            size / MiB / max(seconds, 1e-9),
        )
        return ObjectInfo(key=key, size=size)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` in key order, one page (``list_page_size``) at a time."""
        validate_prefix(prefix)
        from ivrimeet.objects.s3_control import list_objects

        yield from list_objects(self._client, self.connection, prefix, self.list_page_size)

    # --- deleting -------------------------------------------------------------

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._translated("DeleteObject", key):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix`` in batches of 1000 (DeleteObjects)."""
        validate_prefix(prefix)
        removed = 0
        batch: builtins.list[str] = []
        for info in self.list(prefix):
            batch.append(info.key)
            if len(batch) == _DELETE_BATCH:
                removed += self._delete_batch(batch)
                batch = []
        if batch:
            removed += self._delete_batch(batch)
        logger.info("object.delete_prefix prefix=%s objects=%d", prefix, removed)
        return removed

    def _delete_batch(self, keys: builtins.list[str]) -> int:
        from ivrimeet.objects.s3_control import delete_batch

        return delete_batch(self._client, self.connection, keys, self.delete)

    # --- signed URLs ----------------------------------------------------------

    def presign_get(self, key: str, expires_seconds: int = 900) -> str:
        """A presigned GET URL. It acts as a secret: never log it."""
        validate_key(key)
        return self._http.presign_get(key, expires_seconds)


def _http_date(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
