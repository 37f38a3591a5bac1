"""``S3Store``: the object store on S3 or an S3-compatible server.

Uploads go through boto3 (single PutObject for one part, else multipart with a
bounded thread pool). ``download_to_file`` uses the fast ranged downloader in
``ranged_get.py`` (stdlib ``http.client``, SigV4 per request, ``os.pwrite``).
Every botocore error is translated in ``s3_errors.py``.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager, suppress
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from ivrimeet.errors import (
    ConfigurationError,
    CreateOnlyUnsupportedError,
    ObjectNotFoundError,
    SizeLimitError,
)
from ivrimeet.objects import s3_errors
from ivrimeet.objects.chunks import Body, OverLimit, iter_parts
from ivrimeet.objects.ranged_get import RangedDownloader
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.store import (
    Digest,
    ObjectInfo,
    ProgressCallback,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["MIN_PART_SIZE", "S3Store"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
"""S3's smallest allowed multipart part (all but the last)."""
_MAX_PART_SIZE = 5 * 1024 * MiB
_MAX_PARTS = 10_000
_DELETE_BATCH = 1000
PROBE_PREFIX = "_ivrimeet/probe/"
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})
_NOT_IMPLEMENTED_CODES = frozenset({"NotImplemented", "XNotImplemented", "501"})


class S3Store:
    """Objects in one S3 bucket; see ``ObjectStore`` for the guarantees.

    Tunables: ``part_size`` and ``concurrency`` shape downloads (ranged GETs of
    ``part_size`` on ``concurrency`` connections) and uploads; ``upload_buffer_bytes``
    caps what an upload may hold in memory.

    Memory: a ``put`` holds at most ``(upload_concurrency + 1) * upload_part_size``
    bytes of body (parts uploading plus one filling), which is at most
    ``max(upload_buffer_bytes, 2 * 5 MiB)`` whatever the body's length: uploads
    use ``part_size`` and ``concurrency`` when they fit the budget, else parts
    shrink (not below S3's 5 MiB minimum), then fewer go in parallel.
    ``download_to_file`` holds one 1 MiB buffer per thread whatever the size.
    """

    def __init__(
        self,
        connection: S3Connection,
        *,
        part_size: int = 16 * MiB,
        concurrency: int = 8,
        list_page_size: int = 1000,
        upload_buffer_bytes: int = 64 * MiB,
    ) -> None:
        if not MIN_PART_SIZE <= part_size <= _MAX_PART_SIZE:
            raise ConfigurationError(
                f"part_size={part_size} is out of range: S3 parts are 5 MiB to 5 GiB.",
                hints=[f"set TRANSFER_PART_SIZE between {MIN_PART_SIZE} and {_MAX_PART_SIZE}"],
            )
        if not 1 <= concurrency <= 64:
            raise ConfigurationError(
                f"concurrency={concurrency} is out of range (1..64).",
                hints=["set TRANSFER_CONCURRENCY between 1 and 64"],
            )
        if not 1 <= list_page_size <= 1000:
            raise ConfigurationError(f"list_page_size={list_page_size} is out of range (1..1000).")
        self.connection = connection
        self.part_size = part_size
        self.concurrency = concurrency
        self.list_page_size = list_page_size
        self.upload_part_size, self.upload_concurrency = _upload_shape(
            part_size, concurrency, upload_buffer_bytes
        )
        self._boto3_client: S3Client | None = None
        self._downloader = RangedDownloader(
            connection, part_size=part_size, concurrency=concurrency
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

        Memory stays under ``(upload_concurrency + 1) * upload_part_size`` (see the
        class docstring) whatever the body's length. Over ``max_bytes`` raises
        ``SizeLimitError``; any failure (also a ``KeyboardInterrupt`` or an error
        raised by the body's iterator) aborts the multipart upload, so no object
        and no open upload remain.
        """
        validate_key(key)
        started = time.monotonic()
        parts = iter_parts(body, self.upload_part_size, max_bytes=max_bytes)
        try:
            first = next(parts, bytearray())
            second = next(parts, None) if len(first) == self.upload_part_size else None
        except OverLimit as exc:
            raise self._too_large(key, exc.max_bytes) from exc
        if second is None:
            info = self._put_single(key, first, content_type)
            if progress:
                progress(info.size)
        else:
            info = self._put_multipart(key, chain([first, second], parts), content_type, progress)
        seconds = time.monotonic() - started
        logger.info(
            "object.put key=%s bytes=%d seconds=%.3f mib_s=%.1f",
            key,
            info.size,
            seconds,
            info.size / MiB / max(seconds, 1e-9),
        )
        return info

    def _too_large(self, key: str, max_bytes: int) -> SizeLimitError:
        return SizeLimitError(
            f"Upload to {self.url_for(key)} is larger than the limit of {max_bytes} bytes.",
            hints=["send a smaller file or raise MAX_UPLOAD_BYTES"],
        )

    def _put_single(
        self, key: str, data: bytearray, content_type: str | None, **extra: Any
    ) -> ObjectInfo:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data, **extra}
        if content_type:
            args["ContentType"] = content_type
        with self._translated("PutObject", key):
            answer = self._client.put_object(**args)
        return ObjectInfo(
            key=key, size=len(data), etag=_etag(answer.get("ETag")), content_type=content_type
        )

    def _put_multipart(
        self,
        key: str,
        parts: Iterator[bytearray],
        content_type: str | None,
        progress: ProgressCallback | None,
    ) -> ObjectInfo:
        # Parts carry CRC32 checksums (botocore's default) that S3 verifies; the upload
        # is declared CRC32 so Complete can list them, as s3transfer does.
        create: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ChecksumAlgorithm": "CRC32"}
        if content_type:
            create["ContentType"] = content_type
        with self._translated("CreateMultipartUpload", key):
            upload_id = self._client.create_multipart_upload(**create)["UploadId"]
        try:
            done, size = self._upload_parts(key, upload_id, parts, progress)
            with self._translated("CompleteMultipartUpload", key):
                answer = self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [done[number] for number in sorted(done)]},
                )
        except BaseException:
            self._abort(key, upload_id)
            raise
        return ObjectInfo(
            key=key, size=size, etag=_etag(answer.get("ETag")), content_type=content_type
        )

    def _upload_parts(
        self,
        key: str,
        upload_id: str,
        parts: Iterator[bytearray],
        progress: ProgressCallback | None,
    ) -> tuple[dict[int, CompletedPartTypeDef], int]:
        """Upload every part, at most ``upload_concurrency`` in flight; (parts, total bytes)."""
        uploaded: dict[int, CompletedPartTypeDef] = {}
        size = 0
        in_flight: set[Future[tuple[CompletedPartTypeDef, int]]] = set()

        def harvest(done: set[Future[tuple[CompletedPartTypeDef, int]]]) -> None:
            for future in done:
                part, length = future.result()
                uploaded[part["PartNumber"]] = part
                if progress:
                    progress(length)

        pool = ThreadPoolExecutor(self.upload_concurrency, thread_name_prefix="s3-put")
        try:
            number = 0
            while True:
                try:
                    part = next(parts, None)
                except OverLimit as exc:
                    raise self._too_large(key, exc.max_bytes) from exc
                if part is None:
                    break
                number += 1
                if number > _MAX_PARTS:
                    raise self._too_large(key, _MAX_PARTS * self.upload_part_size)
                size += len(part)
                while len(in_flight) >= self.upload_concurrency:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    harvest(done)
                in_flight.add(pool.submit(self._upload_part, key, upload_id, number, part))
                del part
            done, in_flight = wait(in_flight)
            harvest(done)
        finally:
            # On failure: drop queued parts and wait for running ones, so no part
            # lands after the abort that follows.
            pool.shutdown(wait=True, cancel_futures=True)
        return uploaded, size

    def _upload_part(
        self, key: str, upload_id: str, number: int, part: bytearray
    ) -> tuple[CompletedPartTypeDef, int]:
        with self._translated("UploadPart", key):
            answer = self._client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=part,  # type: ignore[arg-type]  # botocore takes bytearray (validate.py)
            )
        logger.debug("object.part key=%s part=%d bytes=%d", key, number, len(part))
        completed: CompletedPartTypeDef = {"PartNumber": number, "ETag": answer["ETag"]}
        if answer.get("ChecksumCRC32"):
            completed["ChecksumCRC32"] = answer["ChecksumCRC32"]
        return completed, len(part)

    def _abort(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload; never raises, so the original error stays visible."""
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if s3_errors.is_access_denied(exc):
                logger.warning(
                    "object.abort_refused key=%s bucket=%s reason=%s note=%s",
                    key,
                    self.bucket,
                    "no s3:AbortMultipartUpload permission",
                    "the bucket lifecycle rule will remove the uploaded parts",
                )
                return
            error = s3_errors.translate_client_error(
                exc, operation="AbortMultipartUpload", bucket=self.bucket, key=key
            )
            self._abort_failed(key, upload_id, error.summary)
        except BotoCoreError as exc:
            self._abort_failed(key, upload_id, type(exc).__name__)
        else:
            logger.info("object.aborted key=%s", key)

    def _abort_failed(self, key: str, upload_id: str, reason: str) -> None:
        # The server is gone or refusing: its parts stay (and cost) until something aborts
        # them. Say which upload, and what will clean it up, so an operator can act.
        logger.warning(
            "object.abort_failed key=%s bucket=%s upload_id=%s error=%s note=%s",
            key,
            self.bucket,
            upload_id,
            reason,
            "the upload stays open until the bucket lifecycle rule (ivrimeet setup-bucket) "
            "aborts it",
        )

    def put_if_absent(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Create ``key`` with ``If-None-Match: *``; ``AlreadyExistsError`` if it exists.

        Raises ``CreateOnlyUnsupportedError`` when the server ignores the header
        (probed once per store), rather than silently overwriting.
        """
        validate_key(key)
        if not self.supports_create_only():
            raise self._create_only_unsupported(key)
        info = self._put_single(key, bytearray(data), content_type, IfNoneMatch="*")
        logger.info("object.put_if_absent key=%s bytes=%d", key, info.size)
        return info

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
                self._create_only = self._probe_create_only()
            return self._create_only

    def _probe_create_only(self) -> bool:
        probe = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            for attempt in (1, 2):
                try:
                    self._client.put_object(
                        Bucket=self.bucket, Key=probe, Body=b"", IfNoneMatch="*"
                    )
                except ClientError as exc:
                    code = s3_errors.S3Answer.from_client_error(exc).code
                    if attempt == 2 and code in _PRECONDITION_CODES:
                        return True
                    if code in _NOT_IMPLEMENTED_CODES:
                        return False
                    raise s3_errors.translate_client_error(
                        exc,
                        operation="PutObject",
                        bucket=self.bucket,
                        key=probe,
                        connection=self.connection,
                    ) from exc
                except BotoCoreError as exc:
                    raise s3_errors.translate_boto_error(
                        exc,
                        operation="PutObject",
                        bucket=self.bucket,
                        key=probe,
                        connection=self.connection,
                    ) from exc
            logger.warning(
                "object.create_only_unsupported endpoint=%s", self.connection.endpoint_label
            )
            return False
        finally:
            with suppress(ClientError, BotoCoreError):
                self._client.delete_object(Bucket=self.bucket, Key=probe)

    # --- reading --------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        with self._translated("HeadObject", key):
            answer = self._client.head_object(Bucket=self.bucket, Key=key)
        return ObjectInfo(
            key=key,
            size=int(answer["ContentLength"]),
            etag=_etag(answer.get("ETag")),
            last_modified=answer.get("LastModified"),
            content_type=answer.get("ContentType"),
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
        """Open the object (or bytes ``start``..``end`` inclusive) as a readable stream."""
        validate_key(key)
        return self._open(key, start, end)

    @contextmanager
    def _open(self, key: str, start: int | None, end: int | None) -> Iterator[BinaryIO]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        ranged = start is not None or end is not None
        if ranged:
            args["Range"] = f"bytes={start or 0}-{'' if end is None else end}"
        try:
            answer = self._client.get_object(**args)
        except ClientError as exc:
            if ranged and s3_errors.S3Answer.from_client_error(exc).code == "InvalidRange":
                # The range starts past the end: nothing to read, like a file's read().
                yield _EmptyReader()  # type: ignore[misc]  # duck-typed BinaryIO
                return
            raise s3_errors.translate_client_error(
                exc, operation="GetObject", bucket=self.bucket, key=key, connection=self.connection
            ) from exc
        except BotoCoreError as exc:
            raise s3_errors.translate_boto_error(
                exc, operation="GetObject", bucket=self.bucket, key=key, connection=self.connection
            ) from exc
        body = answer["Body"]
        try:
            reader = _BodyReader(body, self, key)
            if ranged and not answer.get("ContentRange"):
                # The server ignored Range and sent the whole object: skip to the range.
                reader.skip(start or 0)
                if end is not None:
                    reader.limit(end - (start or 0) + 1)
            yield reader  # type: ignore[misc]  # duck-typed BinaryIO
        finally:
            body.close()

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
        token: str | None = None
        while True:
            args: dict[str, Any] = {
                "Bucket": self.bucket,
                "Prefix": prefix,
                "MaxKeys": self.list_page_size,
            }
            if token:
                args["ContinuationToken"] = token
            with self._translated("ListObjectsV2", prefix or None):
                page = self._client.list_objects_v2(**args)
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    key=item["Key"],
                    size=int(item["Size"]),
                    etag=_etag(item.get("ETag")),
                    last_modified=item.get("LastModified"),
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

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
        try:
            answer = self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )
        except ClientError as exc:
            code = s3_errors.S3Answer.from_client_error(exc).code
            if code not in _NOT_IMPLEMENTED_CODES:
                raise s3_errors.translate_client_error(
                    exc,
                    operation="DeleteObjects",
                    bucket=self.bucket,
                    key=keys[0],
                    connection=self.connection,
                ) from exc
            logger.debug("object.delete_objects_unsupported falling back to single deletes")
            for key in keys:
                self.delete(key)
            return len(keys)
        except BotoCoreError as exc:
            raise s3_errors.translate_boto_error(
                exc, operation="DeleteObjects", bucket=self.bucket, connection=self.connection
            ) from exc
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise s3_errors.translate_answer(
                s3_errors.S3Answer(
                    code=str(first.get("Code", "")), status=0, message=str(first.get("Message", ""))
                ),
                operation="DeleteObject",
                bucket=self.bucket,
                key=first.get("Key"),
                connection=self.connection,
            )
        return len(keys)

    # --- signed URLs ----------------------------------------------------------

    def presign_get(self, key: str, expires_seconds: int = 900) -> str:
        """A presigned GET URL. It acts as a secret: never log it."""
        validate_key(key)
        with self._translated("GetObject", key):
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires_seconds,
            )


def _upload_shape(part_size: int, concurrency: int, budget: int) -> tuple[int, int]:
    """(part size, parts in flight) for uploads so that (in flight + 1) parts fit ``budget``.

    Measured on rclone (bench/, README.md, Performance): many smaller parts upload
    as fast as a few big ones, so parts shrink first and parallelism goes last.
    """
    if (concurrency + 1) * part_size <= budget:
        return part_size, concurrency
    size = max(MIN_PART_SIZE, budget // (concurrency + 1) // MiB * MiB)
    return size, max(1, min(concurrency, budget // size - 1))


def _etag(value: object) -> str | None:
    return str(value).strip('"') if value else None


class _EmptyReader:
    def read(self, size: int = -1) -> bytes:
        return b""

    def readable(self) -> bool:
        return True


class _BodyReader:
    """A botocore streaming body whose read errors come out translated."""

    def __init__(self, body: Any, store: S3Store, key: str) -> None:
        self._body = body
        self._store = store
        self._key = key
        self._left: int | None = None

    def skip(self, count: int) -> None:
        while count > 0:
            got = self._read(min(count, MiB))
            if not got:
                return
            count -= len(got)

    def limit(self, count: int) -> None:
        self._left = count

    def _read(self, size: int) -> bytes:
        with self._store._translated("GetObject", self._key):
            return bytes(self._body.read(size if size >= 0 else None))

    def read(self, size: int = -1) -> bytes:
        if self._left is not None:
            if self._left <= 0:
                return b""
            size = self._left if size < 0 else min(size, self._left)
        data = self._read(size)
        if self._left is not None:
            self._left -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._body.close()
