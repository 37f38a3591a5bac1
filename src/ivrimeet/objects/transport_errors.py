"""Failures with no S3 answer (a connection, a proxy, TLS, credentials) as ivrimeet errors.

``translate_connection_error`` is for the requests ivrimeet sends itself
(``http.client``), ``translate_boto_error`` for botocore's client-side errors;
both pick the most specific error:

    failure                                           ivrimeet error
    ------------------------------------------------  ------------------------
    proxy refused or unreachable (ProxyFailure,       ProxyError
      botocore ProxyConnectionError)
    TLS handshake or certificate (ssl.SSLError,       TlsError
      botocore SSLError)
    connection refused, DNS, connect timeout          StorageUnavailableError
    reset, cut short, read timeout                    StorageUnavailableError
    no / partial / unfetchable credentials            CredentialsError

All are ``StorageUnavailableError`` but the credential ones: the worker retries
them and the model store falls back to the Hub. Messages never carry a query
string (``safe_url``): no signature or token leaks through them.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import (
    BotoCoreError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
    TokenRetrievalError,
)

from ivrimeet.errors import (
    ConfigurationError,
    CredentialsError,
    IvrimeetError,
    ProxyError,
    StorageUnavailableError,
    TlsError,
)
from ivrimeet.objects.connections import ConnectTimeout, ProxyFailure
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.s3_wording import failure_summary, finish

__all__ = ["safe_url", "translate_boto_error", "translate_connection_error"]


def safe_url(url: str) -> str:
    """``url`` without query string or user info: no signature can leak through it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def translate_boto_error(
    exc: BotoCoreError,
    *,
    operation: str,
    bucket: str | None = None,
    key: str | None = None,
    connection: S3Connection | None = None,
) -> IvrimeetError:
    """The ivrimeet error for a botocore client-side failure (no S3 answer)."""
    summary = failure_summary(operation, bucket, key)
    kwargs: Mapping[str, Any] = getattr(exc, "kwargs", {}) or {}
    tried = kwargs.get("endpoint_url")
    url = safe_url(str(tried)) if tried else (connection.endpoint_label if connection else None)
    error: IvrimeetError
    if isinstance(exc, NoCredentialsError):
        error = CredentialsError(
            f"{summary}: no AWS credentials were found.",
            details=[
                "Looked at AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared "
                "files (~/.aws/credentials, ~/.aws/config), web identity, SSO, the container "
                "credentials endpoint and the instance metadata service."
            ],
            hints=[
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
                "or give the container an IAM role",
                "or unset S3_BUCKET to use the local folder store",
            ],
        )
    elif isinstance(exc, PartialCredentialsError):
        missing = kwargs.get("cred_var", "a variable")
        error = CredentialsError(
            f"{summary}: the credentials are incomplete ({missing} is missing).",
            details=[f"Found part of a key pair in {kwargs.get('provider', 'the environment')}."],
            hints=["set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"],
        )
    elif isinstance(exc, CredentialRetrievalError | TokenRetrievalError):
        error = CredentialsError(
            f"{summary}: credentials could not be fetched "
            f"from {kwargs.get('provider', 'the provider')}.",
            hints=["check the IAM role, SSO login or credential process configuration"],
        )
    elif isinstance(exc, NoRegionError):
        error = ConfigurationError(
            f"{summary}: no region is configured.",
            hints=["set S3_REGION (for example eu-west-1)"],
        )
    elif isinstance(exc, ProxyConnectionError):
        error = _proxy_failed(summary, url, f"{type(exc).__name__}.")
    elif isinstance(exc, SSLError):
        error = _tls_failed(summary, url, f"{type(exc).__name__}.")
    elif isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        error = _cannot_connect(summary, url, f"Tried {url}: {type(exc).__name__}.")
    elif isinstance(exc, ReadTimeoutError | ConnectionClosedError | ResponseStreamingError):
        error = _connection_broke(
            f"{summary}: the S3 endpoint {url} stopped answering mid-request.",
            f"{type(exc).__name__} after retries.",
        )
    elif isinstance(exc, IncompleteReadError):
        error = StorageUnavailableError(
            f"{summary}: the connection to {url} closed before the whole body arrived.",
            hints=["retry; if it persists, check the server and any proxy in between"],
        )
    else:
        error = IvrimeetError(
            f"{summary}: {type(exc).__name__}.",
            hints=["run `ivrimeet doctor` to check the storage configuration"],
        )
    return finish(error, code=None, operation=operation, bucket=bucket, key=key, request_id=None)


def translate_connection_error(
    exc: BaseException,
    *,
    operation: str,
    url: str,
    bucket: str | None = None,
    key: str | None = None,
) -> IvrimeetError:
    """The ivrimeet error for a socket/HTTP failure of a raw request (the fast downloader)."""
    summary = failure_summary(operation, bucket, key)
    tried = safe_url(url)
    error: IvrimeetError
    if isinstance(exc, ProxyFailure):
        error = _proxy_failed(summary, tried, str(exc))
    elif isinstance(exc, ssl.SSLError):
        error = _tls_failed(summary, tried, f"{type(exc).__name__}: {exc}"[:300])
    elif isinstance(exc, ConnectTimeout):
        error = _cannot_connect(
            summary, tried, f"Tried {tried}: no connection within {exc.seconds:g} s."
        )
    elif isinstance(exc, ConnectionRefusedError | socket.gaierror):
        error = _cannot_connect(
            summary, tried, f"Tried {tried}: {type(exc).__name__}: {exc.strerror or exc}."
        )
    else:
        error = _connection_broke(
            f"{summary}: the connection to {tried} failed after retries.",
            f"{type(exc).__name__}: {exc}"[:300],
        )
    return finish(error, code=None, operation=operation, bucket=bucket, key=key, request_id=None)


def _proxy_failed(summary: str, url: str | None, detail: str) -> ProxyError:
    return ProxyError(
        f"{summary}: the proxy on the way to {url} refused or failed.",
        details=[detail],
        hints=[
            "check HTTPS_PROXY / HTTP_PROXY (address, port, user and password)",
            "or add the S3 endpoint's host to NO_PROXY to connect directly",
        ],
    )


def _tls_failed(summary: str, url: str | None, detail: str) -> TlsError:
    return TlsError(
        f"{summary}: the TLS connection to {url} failed.",
        details=[detail],
        hints=[
            "for a server with a private CA, set AWS_CA_BUNDLE (or ca_bundle in the "
            "profile) to the CA's PEM file",
            "check that S3_ENDPOINT_URL names the host the certificate was issued for",
        ],
    )


def _cannot_connect(summary: str, url: str | None, detail: str) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"{summary}: cannot connect to the S3 endpoint {url}.",
        details=[detail],
        hints=[
            "check S3_ENDPOINT_URL (scheme, host and port) and that the server is running",
            "check network access (firewall, DNS, proxy) from this machine",
        ],
    )


def _connection_broke(message: str, detail: str) -> StorageUnavailableError:
    return StorageUnavailableError(
        message,
        details=[detail],
        hints=["wait and retry; check the server's health and the network"],
    )
