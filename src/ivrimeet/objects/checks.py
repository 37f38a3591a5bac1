"""The doctor's storage checks, as data: each returns a ``CheckResult`` (ok / warn / fail).

``s3_checks`` runs, in order::

    credentials     the AWS chain resolves (where from, key id tail only)
    bucket          reachable, and in the configured region when the server says
    s3:PutObject    write a probe key under _doctor/
    s3:GetObject    read it back
    s3:ListBucket   see it in a listing
    s3:DeleteObject remove it (the probe is always removed when allowed)
    s3:AbortMultipartUpload   warn only: the lifecycle rule cleans up without it
    create-only     does the server honour If-None-Match: * (warn when not)

``free_disk`` and ``data_dir_writable`` check local disk. Each permission is
tried for real, so a failure names the action and the resource to allow.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ivrimeet.errors import CredentialsError, IvrimeetError, ObjectNotFoundError
from ivrimeet.objects.iam_policy import bucket_arn, objects_arn
from ivrimeet.objects.s3_client import S3Connection, describe_credentials
from ivrimeet.objects.s3_errors import (
    S3Answer,
    is_access_denied,
    translate_boto_error,
    translate_client_error,
)
from ivrimeet.objects.store import ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "PROBE_PREFIX",
    "CheckResult",
    "CheckStatus",
    "data_dir_writable",
    "free_disk",
    "s3_checks",
]

logger = logging.getLogger(__name__)

PROBE_PREFIX = "_doctor/"
"""Where the doctor writes its probe object (removed again at the end)."""

_PROBE_BODY = b"ivrimeet doctor probe\n"


class CheckStatus(StrEnum):
    """How one check came out."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class CheckResult:
    """One doctor line: what was checked, how it went, and what to do about it."""

    name: str
    status: CheckStatus
    message: str
    fix: str | None = None


def _result(name: str, status: CheckStatus, message: str, fix: str | None = None) -> CheckResult:
    logger.info("doctor.check name=%s status=%s", name, status.value)
    return CheckResult(name, status, message, fix)


def _from_error(
    name: str, error: IvrimeetError, status: CheckStatus = CheckStatus.FAIL
) -> CheckResult:
    # The first hint is the fix; the rest (run the doctor...) would be noise here.
    return _result(name, status, _said(error), error.hints[0] if error.hints else None)


def _said(error: IvrimeetError) -> str:
    """The error's summary plus S3's answer code, when there was one."""
    code = getattr(error, "s3_code", None)  # set by s3_errors on translated errors
    summary = error.summary.rstrip(".")
    return f"{summary} (S3 answered {code})" if code and code not in summary else summary


# --- local disk -------------------------------------------------------------------


def free_disk(tmp_dir: Path, warning_bytes: int) -> CheckResult:
    """Free space in ``tmp_dir`` (where models are restored) versus the warning threshold."""
    name = "free disk"
    try:
        free = shutil.disk_usage(tmp_dir).free
    except OSError as exc:
        return _result(
            name,
            CheckStatus.FAIL,
            f"cannot read free space of {tmp_dir}: {exc.strerror or exc}",
            "create the directory or point IVRIMEET_TMP_DIR at one that exists",
        )
    message = f"{_mib(free)} MiB free in {tmp_dir} (warning under {_mib(warning_bytes)} MiB)"
    if free < warning_bytes:
        return _result(
            name,
            CheckStatus.WARN,
            message,
            "free some space, mount a bigger volume, or point IVRIMEET_TMP_DIR elsewhere",
        )
    return _result(name, CheckStatus.OK, message)


def _mib(value: int) -> int:
    return value // (1024 * 1024)


def data_dir_writable(data_dir: Path) -> CheckResult:
    """The local store's folder exists (or can be made) and accepts a file."""
    name = "data dir"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return _result(
            name,
            CheckStatus.FAIL,
            f"cannot write to {data_dir}: {exc.strerror or exc}",
            "make the directory writable by this user or set IVRIMEET_DATA_DIR to one that is",
        )
    return _result(name, CheckStatus.OK, f"{data_dir} is writable (local folder store)")


# --- S3 -----------------------------------------------------------------------------


def s3_checks(connection: S3Connection, store: ObjectStore) -> list[CheckResult]:
    """Every storage check against the configured bucket, each permission tried for real.

    Stops after ``credentials`` or ``bucket`` fails: every later check would fail
    the same way and hide the cause.
    """
    found = credentials(connection)
    if found.status is CheckStatus.FAIL:
        return [found]
    client = connection.client()
    reached = bucket_reachable(client, connection)
    if reached.status is CheckStatus.FAIL:
        return [found, reached]
    tried = permissions(store, connection.bucket)
    put_allowed = tried[0].status is CheckStatus.OK
    return [
        found,
        reached,
        *tried,
        abort_multipart_allowed(client, connection),
        create_only(store) if put_allowed else _create_only_not_tried(),
    ]


def _create_only_not_tried() -> CheckResult:
    return _result(
        "create-only",
        CheckStatus.WARN,
        "not tried: its probe is a write, and s3:PutObject is refused (see above)",
    )


def credentials(connection: S3Connection) -> CheckResult:
    """The credential chain yields keys; says where from (key id tail only)."""
    name = "credentials"
    try:
        found = connection.session().get_credentials()
    except BotoCoreError as exc:
        return _from_error(
            name, translate_boto_error(exc, operation="resolve credentials", connection=connection)
        )
    if found is None:
        return _result(
            name,
            CheckStatus.FAIL,
            "no AWS credentials found (looked at AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE and ~/.aws, web identity, container and instance metadata)",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the "
            "container an IAM role",
        )
    return _result(name, CheckStatus.OK, describe_credentials(found))


def _bucket_region(answer: Mapping[str, Any]) -> str | None:
    region = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
    return str(region) if region else None


def bucket_reachable(client: S3Client, connection: S3Connection) -> CheckResult:
    """HeadBucket answers, and the bucket's region (when reported) is the configured one."""
    name = "bucket"
    bucket = connection.bucket
    where = f"s3://{bucket} at {connection.endpoint_label}"
    try:
        answer: Mapping[str, Any] = client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if status not in (400, 403):
            return _from_error(
                name,
                translate_client_error(
                    exc, operation="HeadBucket", bucket=bucket, connection=connection
                ),
            )
        # AWS names the bucket's region even when it refuses HeadBucket.
        wrong = _wrong_region(where, _bucket_region(exc.response), connection.region)
        # A HEAD answer has no body, so a 400 or 403 cannot say why: an expired or
        # invalid session token (400), a bad secret, an unknown key and a missing
        # permission (403) look alike. A listing's error body tells them apart.
        return wrong or _bucket_by_listing(client, connection)
    except BotoCoreError as exc:
        return _from_error(
            name,
            translate_boto_error(exc, operation="HeadBucket", bucket=bucket, connection=connection),
        )
    actual = _bucket_region(answer)
    wrong = _wrong_region(where, actual, connection.region)
    if wrong:
        return wrong
    region_note = f" in region {actual}" if actual else ""
    return _result(name, CheckStatus.OK, f"{where} is reachable{region_note}")


def _wrong_region(where: str, actual: str | None, configured: str | None) -> CheckResult | None:
    if not actual or actual == (configured or "us-east-1"):
        return None
    return _result(
        "bucket",
        CheckStatus.FAIL,
        f"{where} is in region {actual}, but S3_REGION is {configured or 'unset (us-east-1)'}",
        f"set S3_REGION={actual}",
    )


def _bucket_by_listing(client: S3Client, connection: S3Connection) -> CheckResult:
    name = "bucket"
    bucket = connection.bucket
    try:
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    except ClientError as exc:
        error = translate_client_error(
            exc, operation="ListObjectsV2", bucket=bucket, connection=connection
        )
        # Without ListBucket the bucket is still usable for the object permissions,
        # which the permission checks below name one by one.
        if isinstance(error, PermissionError) and not isinstance(error, CredentialsError):
            return _result(
                name,
                CheckStatus.OK,
                f"s3://{bucket} at {connection.endpoint_label} answers "
                "(HeadBucket and listing refused: see s3:ListBucket below)",
            )
        return _from_error(name, error)
    except BotoCoreError as exc:
        return _from_error(
            name,
            translate_boto_error(
                exc, operation="ListObjectsV2", bucket=bucket, connection=connection
            ),
        )
    return _result(
        name,
        CheckStatus.OK,
        f"s3://{bucket} at {connection.endpoint_label} is reachable (region not reported)",
    )


def permissions(store: ObjectStore, bucket: str) -> list[CheckResult]:
    """Put, get, list and delete a probe key under ``_doctor/``; one result per action."""
    key = f"{PROBE_PREFIX}probe-{uuid.uuid4().hex}"
    object_resource = objects_arn(bucket)
    results = [
        _probe("s3:PutObject", object_resource, lambda: _put(store, key)),
        _probe("s3:GetObject", object_resource, lambda: _get(store, key)),
        _probe("s3:ListBucket", bucket_arn(bucket), lambda: _list(store, key)),
        _probe("s3:DeleteObject", object_resource, lambda: _delete(store, key)),
    ]
    return results


def _probe(action: str, resource: str, attempt: Callable[[], str]) -> CheckResult:
    try:
        message = attempt()
    except IvrimeetError as error:
        # s3_errors names the action the *operation* needs; say it for the probe too.
        fix = error.hints[0] if error.hints else None
        if isinstance(error, PermissionError) and not isinstance(error, CredentialsError):
            fix = f"allow {action} on {resource} for the IAM user or role behind that key"
        return _result(action, CheckStatus.FAIL, _said(error), fix)
    return _result(action, CheckStatus.OK, message)


def _put(store: ObjectStore, key: str) -> str:
    store.put(key, _PROBE_BODY)
    return f"wrote {store.url_for(key)}"


def _get(store: ObjectStore, key: str) -> str:
    try:
        body = store.get_bytes(key)
    except ObjectNotFoundError:
        # Allowed to read, but nothing there: the put above was refused.
        return f"allowed (nothing to read at {store.url_for(key)}: the write was refused)"
    if body != _PROBE_BODY:
        raise IvrimeetError(
            f"Read {store.url_for(key)} back with different bytes ({len(body)} bytes).",
            hints=["the server or a proxy alters objects: check S3_ENDPOINT_URL"],
        )
    return f"read {store.url_for(key)} back intact"


def _list(store: ObjectStore, key: str) -> str:
    keys = [info.key for info in store.list(PROBE_PREFIX)]
    seen = "and saw the probe" if key in keys else "(probe not there: the write was refused)"
    return f"listed {store.url_for(PROBE_PREFIX)} {seen}"


def _delete(store: ObjectStore, key: str) -> str:
    store.delete(key)
    return f"removed {store.url_for(key)}"


def abort_multipart_allowed(client: S3Client, connection: S3Connection) -> CheckResult:
    """Is s3:AbortMultipartUpload granted? Probed with an upload id that does not exist.

    An allowed caller gets ``NoSuchUpload``; a refused one ``AccessDenied``. Nothing
    is created, so nothing is left behind whatever the answer.
    """
    name = "s3:AbortMultipartUpload"
    bucket = connection.bucket
    key = f"{PROBE_PREFIX}abort-probe"
    resource = objects_arn(bucket)
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId="ivrimeet-doctor-probe")
    except ClientError as exc:
        answer = S3Answer.from_client_error(exc)
        if answer.code == "NoSuchUpload" or answer.status == 404:
            return _result(name, CheckStatus.OK, "allowed: failed uploads are aborted at once")
        if is_access_denied(exc):
            return _result(
                name,
                CheckStatus.WARN,
                "not allowed: a failed upload leaves its parts until the bucket's lifecycle "
                "rule (from `ivrimeet setup-bucket`) removes them after a day",
                f"allow s3:AbortMultipartUpload on {resource} (see `ivrimeet iam-policy {bucket}`)",
            )
        error = translate_client_error(
            exc, operation="AbortMultipartUpload", bucket=bucket, key=key, connection=connection
        )
        return _from_error(name, error, CheckStatus.WARN)
    except BotoCoreError as exc:
        error = translate_boto_error(
            exc, operation="AbortMultipartUpload", bucket=bucket, key=key, connection=connection
        )
        return _from_error(name, error, CheckStatus.WARN)
    return _result(name, CheckStatus.OK, "allowed")


def create_only(store: ObjectStore) -> CheckResult:
    """Does the server honour create-only writes (``If-None-Match: *``)?"""
    name = "create-only"
    try:
        supported = store.supports_create_only()
    except IvrimeetError as error:
        return _from_error(name, error)
    if supported:
        return _result(name, CheckStatus.OK, "the server honours If-None-Match: * (create-only)")
    return _result(
        name,
        CheckStatus.WARN,
        "the server ignores If-None-Match: *: replicas cold-starting the same model at once "
        "may each upload it (identical content, no corruption)",
        "use a server with conditional writes (AWS S3, R2, MinIO) to avoid duplicate uploads",
    )
