"""Signed S3 requests over the standard library's ``http.client``, through one retry policy.

The upload, streamed-read and HEAD paths of ``S3Store`` use this instead of
boto3: no ``import boto3``, no client (~35 MiB of an idle API server, 0.3 s of
start-up), and bodies go from the caller's buffer to the socket without the
copies botocore and urllib3 make. Requests are signed with SigV4
(``sigv4``, standard library only) with ``UNSIGNED-PAYLOAD``: upload bodies carry a CRC32C
checksum header that S3 verifies instead (``s3_put``; 0.05 against 0.6 CPU-s/GiB for a
SHA-256 payload hash, ``README.md``, Performance).

Everything that is not the byte pump comes from botocore, as for a boto3
client on the same connection: the bucket's URLs (``endpoints``), credentials
(read again for every request, so temporary ones are refreshed between the
parts of one download), the CA bundle and proxies (``connections``), and which
failures are worth another try (``retry``). Each request is tried through the
store's one ``RetryPolicy``; then it raises the translated error (``s3_errors``).
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import BotoCoreError, NoCredentialsError

from ivrimeet.errors import IvrimeetError
from ivrimeet.objects import s3_errors
from ivrimeet.objects.connections import ConnectionPool, Target, request_target
from ivrimeet.objects.retry import Retryable, RetryPolicy
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.sigv4 import (
    UNSIGNED_PAYLOAD,
    SigningKeys,
    chain_keys,
    explicit_keys,
    presign_url,
    sign_headers,
)

if TYPE_CHECKING:
    from botocore.credentials import Credentials

    from ivrimeet.objects.endpoints import BucketEndpoint

__all__ = [
    "TRANSIENT",
    "Answer",
    "S3Http",
    "Target",
    "error_body",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT = (OSError, http.client.HTTPException)
"""What a broken or stalled connection raises: worth a retry on a fresh connection."""
_ERROR_BODY_BYTES = 64 * 1024
# Operations that S3 documents may answer 200 and put the error in the body; botocore
# turns such an answer into a 500 (then retried), and so does ``_try``.
_ERRORS_IN_200 = frozenset({"CompleteMultipartUpload", "CopyObject", "UploadPartCopy"})


@dataclass(frozen=True)
class Answer:
    """A whole (small) S3 answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), None)


class S3Http:
    """Signed requests to one bucket; thread-safe, connections pooled."""

    def __init__(self, connection: S3Connection) -> None:
        self.connection = connection
        transfer = connection.transfer
        self.retry = RetryPolicy(transfer.max_attempts)
        self.pool = ConnectionPool(
            connect_timeout=transfer.connect_timeout,
            read_timeout=transfer.read_timeout,
            max_idle=transfer.max_pool_connections,
            ca_bundle=connection.ca_bundle,
        )
        self._endpoint: BucketEndpoint | None = None
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()

    # --- addressing and signing ---------------------------------------------------

    def target(self, key: str = "", query: str = "") -> Target:
        """Where a request about ``key`` goes (the bucket itself for ``key=""``)."""
        with self._lock:
            if self._endpoint is None:
                from ivrimeet.objects.endpoints import resolve

                self._endpoint = resolve(self.connection)
            endpoint = self._endpoint
        return endpoint.target(key, query)

    def signing_keys(self, operation: str, key: str | None) -> SigningKeys:
        """The keys to sign with, read now: explicit ones, else the AWS chain's current
        keys (botocore refreshes temporary credentials that are about to expire)."""
        explicit = explicit_keys(self.connection)
        if explicit is not None:
            return explicit
        try:
            with self._lock:
                if self._credentials is None:
                    found = self.connection.credentials()
                    if found is None:
                        raise NoCredentialsError()
                    self._credentials = found
                credentials = self._credentials
            keys = chain_keys(credentials)
            if keys is None:
                raise NoCredentialsError()
            return keys
        except BotoCoreError as exc:
            raise s3_errors.translate_boto_error(
                exc,
                operation=operation,
                bucket=self.connection.bucket,
                key=key,
                connection=self.connection,
            ) from exc

    @property
    def _region(self) -> str:
        return self.connection.region or "us-east-1"

    def sign(
        self,
        method: str,
        target: Target,
        headers: Mapping[str, str],
        operation: str,
        key: str | None,
        *,
        payload: str = UNSIGNED_PAYLOAD,
    ) -> dict[str, str]:
        """``headers`` plus the SigV4 ones for this request, with the keys of this moment."""
        keys = self.signing_keys(operation, key)
        return sign_headers(method, target.url, headers, keys, self._region, payload=payload)

    def presign_get(self, key: str, expires_seconds: int) -> str:
        """A presigned GET URL for ``key`` (query-string SigV4), made without a client."""
        keys = self.signing_keys("GetObject", key)
        return presign_url("GET", self.target(key).url, keys, self._region, expires_seconds)

    # --- connections ----------------------------------------------------------------

    def connect(self, target: Target) -> http.client.HTTPConnection:
        """A pooled keep-alive connection, or a new one (``connections.ConnectionPool``)."""
        return self.pool.get(target)

    def new_connection(self, target: Target) -> http.client.HTTPConnection:
        """A fresh connection to ``target``'s host, outside the pool."""
        return self.pool.new(target)

    def release(self, conn: http.client.HTTPConnection) -> None:
        """Give a connection whose last answer was read completely back to the pool."""
        self.pool.release(conn)

    def close(self) -> None:
        self.pool.close()

    # --- errors ----------------------------------------------------------------------

    def http_error(self, answer: Answer, operation: str, key: str | None) -> IvrimeetError:
        return s3_errors.translate_http_error(
            answer.status,
            answer.headers,
            answer.body,
            operation=operation,
            bucket=self.connection.bucket,
            key=key,
            connection=self.connection,
        )

    def failed_answer(self, answer: Answer, operation: str, key: str | None) -> Retryable:
        """An error answer, for the retry policy to judge (``retry.py``)."""
        return Retryable(
            self.http_error(answer, operation, key), status=answer.status, headers=answer.headers
        )

    def broken(
        self, exc: BaseException, target: Target, operation: str, key: str | None
    ) -> Retryable:
        """A request that got no (whole) answer, for the retry policy to judge."""
        return Retryable(self.connection_error(exc, target, operation, key))

    def connection_error(
        self, exc: BaseException, target: Target, operation: str, key: str | None
    ) -> IvrimeetError:
        return s3_errors.translate_connection_error(
            exc, operation=operation, url=target.url, bucket=self.connection.bucket, key=key
        )

    def with_retries(
        self,
        attempt: Callable[[], T],
        operation: str,
        key: str | None,
        interrupt: threading.Event | None = None,
    ) -> T:
        """``attempt()`` through the store's retry policy (it raises ``Retryable`` to ask)."""
        return self.retry.call(attempt, operation=operation, key=key, interrupt=interrupt)

    # --- whole requests -------------------------------------------------------------

    def send(
        self,
        method: str,
        key: str,
        *,
        operation: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: memoryview | bytes | None = None,
        ok: frozenset[int] = frozenset({200}),
    ) -> Answer:
        """One request with retries; the whole answer, or the translated error.

        Answers in ``ok`` are returned, as are 404 answers to HEAD (the caller
        decides); others raise. ``body`` is sent as is (a retry sends it again).
        """
        target = self.target(key, query)
        return self.with_retries(
            lambda: self._try(method, target, key, operation, headers or {}, body, ok),
            operation,
            key,
        )

    def _try(
        self,
        method: str,
        target: Target,
        key: str,
        operation: str,
        headers: Mapping[str, str],
        body: memoryview | bytes | None,
        ok: frozenset[int],
    ) -> Answer:
        conn, response, data = self._exchange(
            method, target, key, operation, headers, body, read_body=True
        )
        answer = Answer(response.status, dict(response.getheaders()), data)
        if response.will_close:
            conn.close()
        else:
            self.release(conn)
        if operation in _ERRORS_IN_200 and answer.status == 200 and b"<Error>" in data[:512]:
            answer = Answer(500, answer.headers, data)
        if answer.status in ok or (method == "HEAD" and answer.status == 404):
            return answer
        raise self.failed_answer(answer, operation, key)

    def open(
        self, key: str, headers: Mapping[str, str], *, operation: str = "GetObject"
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a GET and return its live response (the caller reads and closes it).

        One try: a streamed read retries (and resumes) itself, through ``with_retries``.
        """
        conn, response, _ = self._exchange("GET", self.target(key), key, operation, headers, None)
        return conn, response

    def _exchange(
        self,
        method: str,
        target: Target,
        key: str,
        operation: str,
        headers: Mapping[str, str],
        body: memoryview | bytes | None,
        *,
        read_body: bool = False,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, bytes]:
        """Sign and send one request: its response, and with ``read_body`` its whole body
        (else ``b""``, left to the caller). A broken connection raises ``Retryable``."""
        signed = self.sign(method, target, headers, operation, key)
        conn = self.connect(target)
        try:
            conn.request(method, request_target(conn, target), body=body, headers=signed)
            response = conn.getresponse()
            return conn, response, response.read() if read_body else b""
        except TRANSIENT as exc:
            conn.close()
            raise self.broken(exc, target, operation, key) from exc
        except BaseException:
            conn.close()
            raise


def error_body(response: http.client.HTTPResponse) -> bytes:
    """At most 64 KiB of an error answer's body (enough for S3's XML)."""
    return response.read(_ERROR_BODY_BYTES)
