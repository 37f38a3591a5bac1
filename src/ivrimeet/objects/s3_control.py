"""The control calls of ``S3Store`` that go through boto3: listing, the create-only
probe and batch deletes (DeleteObjects, with a fallback to single deletes).

They are rare (once per store, or on cleanup), so botocore's client, with its own
standard-mode retries configured from the same ``TransferConfig``, is used as is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ivrimeet.objects import s3_errors
from ivrimeet.objects.answer_fields import unquoted_etag
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.store import ObjectInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["PROBE_PREFIX", "delete_batch", "list_objects", "probe_create_only"]

logger = logging.getLogger(__name__)

PROBE_PREFIX = "_ivrimeet/probe/"
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})
_NOT_IMPLEMENTED_CODES = frozenset({"NotImplemented", "XNotImplemented", "501"})


def list_objects(
    client: S3Client, connection: S3Connection, prefix: str, page_size: int
) -> Iterator[ObjectInfo]:
    """Every object under ``prefix`` in key order, one page of ``page_size`` at a time."""
    token: str | None = None
    while True:
        args: dict[str, Any] = {"Bucket": connection.bucket, "Prefix": prefix, "MaxKeys": page_size}
        if token:
            args["ContinuationToken"] = token
        with s3_errors.translated("ListObjectsV2", connection, key=prefix or None):
            page = client.list_objects_v2(**args)
        for item in page.get("Contents", []):
            yield ObjectInfo(
                key=item["Key"],
                size=int(item["Size"]),
                etag=unquoted_etag(item.get("ETag")),
                last_modified=item.get("LastModified"),
            )
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return


def probe_create_only(client: S3Client, connection: S3Connection) -> bool:
    """Whether the server honours ``If-None-Match: *``.

    Writes ``_ivrimeet/probe/<uuid>`` create-only twice: a server that lets the
    second write through ignores the header (``rclone serve s3``).
    """
    bucket = connection.bucket
    probe = f"{PROBE_PREFIX}{os.urandom(16).hex()}"
    try:
        for attempt in (1, 2):
            with s3_errors.translated("PutObject", connection, key=probe):
                try:
                    client.put_object(Bucket=bucket, Key=probe, Body=b"", IfNoneMatch="*")
                except ClientError as exc:
                    code = s3_errors.S3Answer.from_client_error(exc).code
                    if attempt == 2 and code in _PRECONDITION_CODES:
                        return True
                    if code in _NOT_IMPLEMENTED_CODES:
                        return False
                    raise
        logger.warning("object.create_only_unsupported endpoint=%s", connection.endpoint_label)
        return False
    finally:
        with suppress(ClientError, BotoCoreError):
            client.delete_object(Bucket=bucket, Key=probe)


def delete_batch(
    client: S3Client,
    connection: S3Connection,
    keys: list[str],
    delete_one: Callable[[str], None],
) -> int:
    """Delete ``keys`` (at most 1000) with one DeleteObjects; ``delete_one`` each where the
    server does not implement it. Returns how many were deleted."""
    bucket = connection.bucket
    try:
        answer = client.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
    except ClientError as exc:
        code = s3_errors.S3Answer.from_client_error(exc).code
        if code not in _NOT_IMPLEMENTED_CODES:
            raise s3_errors.translate_client_error(
                exc,
                operation="DeleteObjects",
                bucket=bucket,
                key=keys[0],
                connection=connection,
            ) from exc
        logger.debug("object.delete_objects_unsupported falling back to single deletes")
        for key in keys:
            delete_one(key)
        return len(keys)
    except BotoCoreError as exc:
        raise s3_errors.translate_boto_error(
            exc, operation="DeleteObjects", bucket=bucket, connection=connection
        ) from exc
    errors = answer.get("Errors", [])
    if errors:
        first = errors[0]
        raise s3_errors.translate_answer(
            s3_errors.S3Answer(
                code=str(first.get("Code", "")), status=0, message=str(first.get("Message", ""))
            ),
            operation="DeleteObject",
            bucket=bucket,
            key=first.get("Key"),
            connection=connection,
        )
    return len(keys)
