"""The one place where botocore and raw S3 HTTP failures become ivrimeet errors.

Use the context manager around every S3 call::

    with s3_errors.translated("PutObject", connection, key=key):
        client.put_object(...)

or, where the caller needs the error as a value, ``translate_client_error`` /
``translate_boto_error`` / ``translate_http_error`` (the fast downloader talks
HTTP itself). The most specific match wins:

    S3 answer / botocore error                        ivrimeet error
    ------------------------------------------------  ------------------------------
    NoSuchKey, 404 on an object                       ObjectNotFoundError
    NoSuchBucket, 404 on the bucket                   BucketNotFoundError
    AccessDenied, AllAccessDisabled, 403              PermissionDeniedError
    SignatureDoesNotMatch, InvalidAccessKeyId,
      ExpiredToken, NoCredentials, PartialCredentials CredentialsError
    PermanentRedirect, 301, AuthorizationHeader-
      Malformed, IllegalLocationConstraint            WrongRegionError
    PreconditionFailed, 412, ConditionalRequest-
      Conflict                                        AlreadyExistsError
    EntityTooLarge                                    SizeLimitError
    NotImplemented, 501                               UnsupportedError
    SlowDown, 5xx, timeouts, unreachable endpoint     StorageUnavailableError

Every translated error keeps ``s3_code``, ``operation``, ``bucket``, ``key``
and ``request_id`` as attributes and is chained (``raise ... from exc``).
Messages name what failed, S3's answer, where the credentials came from (key
id tail only) and what to do. They never contain a secret, a signature or a
presigned URL.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ivrimeet.errors import (
    AlreadyExistsError,
    BucketNotFoundError,
    ClockSkewError,
    ConfigurationError,
    CredentialsError,
    IvrimeetError,
    ObjectNotFoundError,
    PermissionDeniedError,
    SizeLimitError,
    StorageUnavailableError,
    UnsupportedError,
    WrongRegionError,
)
from ivrimeet.objects.s3_client import S3Connection, describe_credentials
from ivrimeet.objects.s3_wording import (
    access_hints,
    address,
    failure_summary,
    finish,
    iam_action,
)
from ivrimeet.objects.transport_errors import (
    safe_url,
    translate_boto_error,
    translate_connection_error,
)

__all__ = [
    "S3Answer",
    "iam_action",
    "is_access_denied",
    "safe_url",
    "translate_answer",
    "translate_boto_error",
    "translate_client_error",
    "translate_connection_error",
    "translate_http_error",
    "translated",
]

logger = logging.getLogger(__name__)

_NOT_FOUND_KEY = frozenset({"NoSuchKey", "NotFound", "404"})
_ACCESS_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "Forbidden", "403"})
_BAD_SIGNATURE = frozenset({"SignatureDoesNotMatch"})
_UNKNOWN_KEY_ID = frozenset({"InvalidAccessKeyId", "InvalidClientTokenId"})
_EXPIRED = frozenset({"ExpiredToken", "TokenRefreshRequired", "InvalidToken", "RequestExpired"})
_WRONG_REGION = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)
_PRECONDITION = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})
_UNAVAILABLE = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
)
_UNSUPPORTED = frozenset({"NotImplemented", "XNotImplemented"})
_EXPECTED_REGION = re.compile(r"expecting '([a-z0-9-]+)'")


@dataclass(frozen=True)
class S3Answer:
    """An S3 error answer, whichever client received it."""

    code: str
    status: int
    message: str = ""
    request_id: str | None = None
    region: str | None = None
    server_time: str | None = None
    request_time: str | None = None

    @classmethod
    def from_client_error(cls, exc: ClientError) -> S3Answer:
        error: Mapping[str, Any] = exc.response.get("Error", {})
        meta: Mapping[str, Any] = exc.response.get("ResponseMetadata", {})
        headers: Mapping[str, Any] = meta.get("HTTPHeaders", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        code = str(error.get("Code") or status or "Unknown")
        region = error.get("Region") or headers.get("x-amz-bucket-region")
        return cls(
            code=code,
            status=status,
            message=str(error.get("Message") or ""),
            request_id=meta.get("RequestId") or headers.get("x-amz-request-id"),
            region=str(region) if region else None,
            server_time=error.get("ServerTime"),
            request_time=error.get("RequestTime"),
        )

    @classmethod
    def from_http(cls, status: int, headers: Mapping[str, str], body: bytes) -> S3Answer:
        """Parse an S3 XML error body (``<Error><Code>...``); HEAD answers have none."""
        fields: dict[str, str] = {}
        try:
            root = ET.fromstring(body) if body.strip() else None  # noqa: S314  # S3's own answer, small
        except ET.ParseError:
            root = None
        if root is not None:
            for child in root:
                fields[child.tag.rsplit("}", 1)[-1]] = (child.text or "").strip()
        lower = {name.lower(): value for name, value in headers.items()}
        region = fields.get("Region") or lower.get("x-amz-bucket-region")
        return cls(
            code=fields.get("Code") or str(status),
            status=status,
            message=fields.get("Message", ""),
            request_id=fields.get("RequestId") or lower.get("x-amz-request-id"),
            region=region or None,
            server_time=fields.get("ServerTime"),
            request_time=fields.get("RequestTime"),
        )


def is_access_denied(exc: ClientError) -> bool:
    """True if S3 refused the request for lack of permission."""
    return S3Answer.from_client_error(exc).code in _ACCESS_DENIED


def _credentials_line(connection: S3Connection | None) -> str | None:
    if connection is None:
        return None
    try:
        found = connection.credentials()
    except BotoCoreError:
        return None
    return describe_credentials(found)


def _region_of(answer: S3Answer) -> str | None:
    if answer.region:
        return answer.region
    match = _EXPECTED_REGION.search(answer.message)
    return match.group(1) if match else None


def translate_answer(
    answer: S3Answer,
    *,
    operation: str,
    bucket: str | None = None,
    key: str | None = None,
    connection: S3Connection | None = None,
) -> IvrimeetError:
    """The ivrimeet error for an S3 error answer (see the module docstring's table)."""
    code = answer.code
    status = answer.status
    endpoint = connection.endpoint_label if connection else None
    where = address(bucket, key)
    summary = failure_summary(operation, bucket, key)
    said = f"S3 refused {operation}: {code}"
    context = [f"request id {answer.request_id}"] if answer.request_id else []
    if endpoint:
        context.append(f"endpoint {endpoint}")
    evidence = f"{said} ({', '.join(context)})" if context else said
    details = [evidence]
    action = iam_action(operation)
    bucket_name = bucket or "BUCKET"
    error: IvrimeetError

    def with_credentials() -> list[str]:
        line = _credentials_line(connection)
        return [*details, line] if line else details

    if code in _NOT_FOUND_KEY and key and status in (404, 0):
        error = ObjectNotFoundError(f"No object at {where}.", details=details)
    elif code == "NoSuchBucket" or (code in ("404", "NotFound") and not key):
        setup_region = connection.region if connection and connection.region else "REGION"
        error = BucketNotFoundError(
            f"{summary}: bucket {bucket_name} does not exist on {endpoint or 'this endpoint'}.",
            details=details,
            hints=[
                f"create it with `ivrimeet setup-bucket {bucket_name} --region {setup_region}`",
                "or check that S3_BUCKET (and S3_ENDPOINT_URL) name the bucket you meant",
            ],
        )
    elif code in _BAD_SIGNATURE:
        error = CredentialsError(
            f"{summary}: the endpoint rejected the request signature.",
            details=with_credentials(),
            hints=[
                "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID: "
                "copy both from the same key pair",
                "check for stray spaces or quotes around the secret in your environment or .env",
                "run `ivrimeet doctor` to check the credentials",
            ],
        )
    elif code in _UNKNOWN_KEY_ID:
        error = CredentialsError(
            f"{summary}: the access key id is unknown to {endpoint or 'this endpoint'}.",
            details=with_credentials(),
            hints=[
                "AWS_ACCESS_KEY_ID is not a key of this account or endpoint "
                "(deleted key, or keys for another S3 service)",
                "check S3_ENDPOINT_URL when using MinIO, R2 or B2",
            ],
        )
    elif code in _EXPIRED:
        error = CredentialsError(
            f"{summary}: the credentials have expired.",
            details=with_credentials(),
            hints=[
                "refresh the session token (AWS_SESSION_TOKEN) or log in again "
                "(`aws sso login`), then retry",
            ],
        )
    elif code in _WRONG_REGION or status == 301:
        region = _region_of(answer)
        configured = connection.region if connection else None
        in_region = f"in region {region}" if region else "in another region"
        hints = [f"set S3_REGION={region}"] if region else ["set S3_REGION to the bucket's region"]
        error = WrongRegionError(
            f"{summary}: bucket {bucket_name} is {in_region}"
            + (f", not {configured}." if configured else "."),
            details=details,
            hints=[*hints, "run `ivrimeet doctor` to check the bucket"],
        )
    elif code in _ACCESS_DENIED:
        error = PermissionDeniedError(
            summary,
            details=with_credentials(),
            hints=access_hints(action, bucket_name, key, operation),
        )
    elif code in _PRECONDITION:
        error = AlreadyExistsError(
            f"{where} already exists; create-only write refused.", details=details
        )
    elif code == "EntityTooLarge":
        error = SizeLimitError(
            f"{summary}: S3 refused the object as too large.",
            details=details,
            hints=["objects over 5 GiB must be uploaded in parts: use put() with a stream"],
        )
    elif code in _UNSUPPORTED or status == 501:
        error = UnsupportedError(
            f"{summary}: the server does not implement {operation}.",
            details=details,
            hints=["use an S3 server that supports it, or check S3_ENDPOINT_URL"],
        )
    elif code == "RequestTimeTooSkewed":
        error = ClockSkewError(
            f"{summary}: S3 refused the request time: this machine's clock is off.",
            details=[*details, *_clock_details(answer)],
            hints=[
                "synchronise the clock (NTP: chronyd or systemd-timesyncd); S3 accepts "
                "requests up to 15 minutes off",
                "in a container, the host's clock is the one to fix",
            ],
        )
    elif code in _UNAVAILABLE or status >= 500:
        error = StorageUnavailableError(
            f"{summary}: S3 kept failing ({code}) after retries.",
            details=details,
            hints=["wait and retry; if it persists, check the S3 service's status"],
        )
    elif code == "InvalidBucketName":
        error = ConfigurationError(
            f"{summary}: {bucket_name!r} is not a valid bucket name.",
            details=details,
            hints=["set S3_BUCKET to a valid bucket name (3-63 lowercase letters, digits, '-')"],
        )
    else:
        error = IvrimeetError(
            f"{summary}: {answer.message or code}.",
            details=details,
            hints=["run `ivrimeet doctor` to check the storage configuration"],
        )
    return finish(
        error,
        code=code,
        operation=operation,
        bucket=bucket,
        key=key,
        request_id=answer.request_id,
    )


def _clock_details(answer: S3Answer) -> list[str]:
    if answer.server_time and answer.request_time:
        return [f"S3's time was {answer.server_time}, the request said {answer.request_time}."]
    return []


def translate_client_error(
    exc: ClientError,
    *,
    operation: str,
    bucket: str | None = None,
    key: str | None = None,
    connection: S3Connection | None = None,
) -> IvrimeetError:
    """The ivrimeet error for a botocore ``ClientError`` (raise it ``from exc``)."""
    return translate_answer(
        S3Answer.from_client_error(exc),
        operation=operation,
        bucket=bucket,
        key=key,
        connection=connection,
    )


def translate_http_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    operation: str,
    bucket: str | None = None,
    key: str | None = None,
    connection: S3Connection | None = None,
) -> IvrimeetError:
    """The ivrimeet error for a raw HTTP error answer from S3 (the fast downloader)."""
    return translate_answer(
        S3Answer.from_http(status, headers, body),
        operation=operation,
        bucket=bucket,
        key=key,
        connection=connection,
    )


@contextmanager
def translated(
    operation: str,
    connection: S3Connection | None = None,
    *,
    bucket: str | None = None,
    key: str | None = None,
) -> Iterator[None]:
    """Turn botocore errors raised inside the block into ivrimeet errors (chained)."""
    where = bucket if bucket is not None else (connection.bucket if connection else None)
    try:
        yield
    except ClientError as exc:
        raise translate_client_error(
            exc, operation=operation, bucket=where, key=key, connection=connection
        ) from exc
    except BotoCoreError as exc:
        raise translate_boto_error(
            exc, operation=operation, bucket=where, key=key, connection=connection
        ) from exc
