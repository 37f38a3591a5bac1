"""Signed S3 requests over the standard library's ``http.client``, with retries.

The upload, streamed-read and HEAD paths of ``S3Store`` use this instead of
boto3: no ``import boto3``, no client (~35 MiB of an idle API server, 0.3 s of
start-up), and bodies go from the caller's buffer to the socket without the
copies botocore and urllib3 make. Requests are signed with SigV4
(``sigv4``, standard library only) with ``UNSIGNED-PAYLOAD``: upload bodies carry a CRC32C
checksum header that S3 verifies instead (``s3_put``; 0.05 against 0.6 CPU-s/GiB for a
SHA-256 payload hash, ``README.md``, Performance).

Addressing is the client's: path-style under ``S3_ENDPOINT_URL``, else
virtual-hosted on AWS (path-style for dotted bucket names). Connections are
kept alive in a small pool shared by threads. A request that fails on the way
(connection refused or reset, timeout, 408/429/5xx) is retried with
exponential backoff and jitter, up to ``S3Connection.max_attempts`` tries; then
it raises the translated error (``s3_errors``).
"""

from __future__ import annotations

import http.client
import logging
import random
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from botocore.exceptions import BotoCoreError, NoCredentialsError

from ivrimeet.errors import IvrimeetError
from ivrimeet.objects import s3_errors
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.sigv4 import (
    SigningKeys,
    chain_keys,
    explicit_keys,
    presign_url,
    sign_headers,
)

if TYPE_CHECKING:
    from botocore.credentials import Credentials

__all__ = [
    "RETRY_STATUS",
    "TRANSIENT",
    "Answer",
    "Retryable",
    "S3Http",
    "Target",
    "error_body",
]

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT = (OSError, http.client.HTTPException)
"""What a broken or stalled connection raises: worth a retry on a fresh connection."""
_BACKOFF_SECONDS = 0.2
_ERROR_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Target:
    """Where a request goes: connection class, host, port, path (with query) and URL."""

    scheme: str
    host: str
    port: int | None
    path: str
    url: str


@dataclass(frozen=True)
class Answer:
    """A whole (small) S3 answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), None)


class Retryable(Exception):  # a signal between this module and its callers in objects/
    """A try failed in a way worth retrying (on a fresh connection); carries the error."""

    def __init__(self, error: IvrimeetError) -> None:
        super().__init__(error.summary)
        self.error = error


class S3Http:
    """Signed requests to one bucket; thread-safe, connections pooled."""

    def __init__(self, connection: S3Connection) -> None:
        self.connection = connection
        self._ssl: ssl.SSLContext | None = None
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        # Idle connections are closed when the store goes away (no unclosed sockets).
        weakref.finalize(self, _close_all, self._idle)

    # --- addressing and signing ---------------------------------------------------

    def target(self, key: str = "", query: str = "") -> Target:
        """Where a request about ``key`` goes (the bucket itself for ``key=""``)."""
        bucket = self.connection.bucket
        quoted = quote(key, safe="/~")
        if self.connection.endpoint_url:
            base = urlsplit(self.connection.endpoint_url)
            path = f"{base.path.rstrip('/')}/{bucket}/{quoted}"
            scheme, host, port = base.scheme or "http", base.hostname or "", base.port
        else:
            region = self.connection.region or "us-east-1"
            scheme, port = "https", None
            if "." in bucket:
                # A dotted bucket breaks the TLS wildcard certificate: use path-style.
                host, path = f"s3.{region}.amazonaws.com", f"/{bucket}/{quoted}"
            else:
                host, path = f"{bucket}.s3.{region}.amazonaws.com", f"/{quoted}"
        if query:
            path = f"{path}?{query}"
        netloc = f"{host}:{port}" if port else host
        return Target(scheme, host, port, path, f"{scheme}://{netloc}{path}")

    def signing_keys(self, operation: str, key: str | None) -> SigningKeys:
        """The keys to sign with: explicit ones, else the AWS chain's (fetched once)."""
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
        self, method: str, target: Target, headers: Mapping[str, str], operation: str, key: str
    ) -> dict[str, str]:
        """``headers`` plus the SigV4 ones for this request (payload unsigned: CRC32C instead)."""
        keys = self.signing_keys(operation, key)
        return sign_headers(method, target.url, headers, keys, self._region)

    def presign_get(self, key: str, expires_seconds: int) -> str:
        """A presigned GET URL for ``key`` (query-string SigV4), made without a client."""
        keys = self.signing_keys("GetObject", key)
        return presign_url("GET", self.target(key).url, keys, self._region, expires_seconds)

    # --- connections ----------------------------------------------------------------

    def connect(self, target: Target) -> http.client.HTTPConnection:
        """A keep-alive connection from the pool that is still open, or a new one.

        Servers close idle connections (rclone, S3 after a while): one that the
        server has closed shows as readable (EOF or reset) and is dropped here,
        instead of failing the request sent on it.
        """
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if conn.sock is not None and not _closed_by_peer(conn.sock):
                return conn
            conn.close()
        return self.new_connection(target)

    def new_connection(self, target: Target) -> http.client.HTTPConnection:
        """A fresh connection to ``target``'s host, outside the pool."""
        timeout = self.connection.read_timeout
        if target.scheme == "https":
            if self._ssl is None:
                from botocore.httpsession import where

                self._ssl = ssl.create_default_context(cafile=where())
            return http.client.HTTPSConnection(
                target.host, target.port, timeout=timeout, context=self._ssl
            )
        return http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def release(self, conn: http.client.HTTPConnection) -> None:
        """Give a connection whose last answer was read completely back to the pool."""
        with self._lock:
            if len(self._idle) < self.connection.max_pool_connections:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            _close_all(self._idle)

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

    def connection_error(
        self, exc: BaseException, target: Target, operation: str, key: str | None
    ) -> IvrimeetError:
        return s3_errors.translate_connection_error(
            exc, operation=operation, url=target.url, bucket=self.connection.bucket, key=key
        )

    def backoff(self, attempt: int) -> None:
        time.sleep(_BACKOFF_SECONDS * (2 ** (attempt - 1)) * (0.5 + random.random()))

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
        attempts = max(1, self.connection.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self._try(method, target, key, operation, headers or {}, body, ok)
            except Retryable as failed:
                if attempt == attempts:
                    raise failed.error from failed.__cause__
                logger.debug(
                    "object.request_retry op=%s key=%s attempt=%d reason=%s",
                    operation,
                    key,
                    attempt,
                    failed.error.summary,
                )
                self.backoff(attempt)
        raise AssertionError("unreachable")

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
        if answer.status in ok or (method == "HEAD" and answer.status == 404):
            return answer
        error = self.http_error(answer, operation, key)
        if answer.status in RETRY_STATUS:
            raise Retryable(error)
        raise error

    def open(
        self, key: str, headers: Mapping[str, str], *, operation: str = "GetObject"
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a GET and return its live response (the caller reads and closes it).

        No retries here: a streamed read resumes at the byte it reached instead.
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
            conn.request(method, target.path, body=body, headers=signed)
            response = conn.getresponse()
            return conn, response, response.read() if read_body else b""
        except TRANSIENT as exc:
            conn.close()
            raise Retryable(self.connection_error(exc, target, operation, key)) from exc
        except BaseException:
            conn.close()
            raise


def _closed_by_peer(sock: socket.socket) -> bool:
    """True if an idle connection's socket is readable: the server closed or reset it."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    while connections:
        connections.pop().close()


def error_body(response: http.client.HTTPResponse) -> bytes:
    """At most 64 KiB of an error answer's body (enough for S3's XML)."""
    return response.read(_ERROR_BODY_BYTES)
