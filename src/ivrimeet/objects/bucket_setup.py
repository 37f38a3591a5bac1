"""Prepare a bucket for ivrimeet, idempotently: each step says applied, already or skipped.

Steps, in order (``setup_bucket``)::

    bucket               create it when missing (in the connection's region)
    public-access-block  all four "block public access" switches on
    default-encryption   SSE-S3 (AES256) unless some default encryption is already set
    lifecycle            abort incomplete multipart uploads after 1 day (other rules kept)
    iam-user             optional: an IAM user with the least-privilege policy + one key

A compatible server that lacks a feature (``rclone serve s3`` answers every
bucket sub-resource PUT as if it were CreateBucket; MinIO answers
``NotImplemented``; R2 has no IAM API) gets that step *skipped* with the
server's answer as the reason, never a failure. A setting the server accepts
but does not keep (read back after writing) is reported as skipped too.
Permission and credential problems are real failures: they raise the
project's errors (``objects/s3_errors.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ivrimeet.errors import (
    ConflictError,
    IvrimeetError,
    PermissionDeniedError,
    UnsupportedError,
    WrongRegionError,
)
from ivrimeet.objects.iam_user import ensure_iam_user
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.s3_errors import S3Answer, translate_boto_error, translate_client_error
from ivrimeet.objects.setup_steps import (
    CreatedUser,
    SetupReport,
    StepResult,
    StepStatus,
    Unsupported,
    record,
    skipped,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "LIFECYCLE_RULE_ID",
    "CreatedUser",
    "SetupReport",
    "StepResult",
    "StepStatus",
    "setup_bucket",
]

logger = logging.getLogger(__name__)

LIFECYCLE_RULE_ID = "ivrimeet-abort-incomplete-multipart-uploads"
"""The id of the lifecycle rule ``setup_bucket`` adds (rules with other ids are kept)."""

_ABORT_AFTER_DAYS = 1

_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}

# Answers meaning "this server does not implement that request", beyond the
# NotImplemented/501 that s3_errors maps to UnsupportedError: rclone serve s3 treats
# any PUT on the bucket (``?lifecycle``, ``?encryption``...) as CreateBucket and
# answers BucketAlreadyExists; some servers answer 405 MethodNotAllowed.
_UNSUPPORTED_CODES = frozenset({"MethodNotAllowed", "BucketAlreadyExists", "405"})

# Answers to "get this bucket setting" meaning "the setting is not set".
_NOT_SET_CODES = frozenset(
    {
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchLifecycleConfiguration",
    }
)


def setup_bucket(connection: S3Connection, *, create_user: str | None = None) -> SetupReport:
    """Run every set-up step on ``connection.bucket``; safe to run again and again.

    Raises the project's errors (``PermissionDeniedError``, ``CredentialsError``,
    ``WrongRegionError``...) when the caller's identity cannot do a step that
    the server supports.
    """
    client = connection.client()
    steps = [
        _ensure_bucket(client, connection),
        _ensure_public_access_block(client, connection),
        _ensure_default_encryption(client, connection),
        _ensure_lifecycle_rule(client, connection),
    ]
    created: CreatedUser | None = None
    if create_user is not None:
        step, created = ensure_iam_user(connection, create_user)
        steps.append(step)
    return SetupReport(connection.bucket, tuple(steps), created)


def _s3_call(
    operation: str,
    connection: S3Connection,
    call: Callable[[], Any],
    *,
    not_set_ok: bool = False,
) -> Any:
    """Run one S3 request; ``None`` for "setting not set", ``Unsupported`` for a missing
    feature, the project's error for everything else."""
    try:
        return call()
    except ClientError as exc:
        answer = S3Answer.from_client_error(exc)
        if not_set_ok and answer.code in _NOT_SET_CODES:
            return None
        error = translate_client_error(
            exc, operation=operation, bucket=connection.bucket, connection=connection
        )
        if isinstance(error, UnsupportedError) or answer.code in _UNSUPPORTED_CODES:
            raise Unsupported(
                f"the server does not support {operation} (it answered {answer.code})"
            ) from exc
        raise _for_setup(error, operation, connection) from exc
    except BotoCoreError as exc:
        raise translate_boto_error(
            exc, operation=operation, bucket=connection.bucket, connection=connection
        ) from exc


# The IAM action behind each bucket-configuration request (their names differ).
_SETUP_ACTIONS = {
    "CreateBucket": "s3:CreateBucket",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
}


def _for_setup(error: IvrimeetError, operation: str, connection: S3Connection) -> IvrimeetError:
    """A refused bucket-configuration request names the admin permission it needs.

    (s3_errors' hints are about the permissions ivrimeet needs at run time.)
    """
    action = _SETUP_ACTIONS.get(operation)
    if action is None or not isinstance(error, PermissionDeniedError):
        return error
    bucket = connection.bucket
    return PermissionDeniedError(
        f"Cannot set up s3://{bucket}: S3 refused {operation} (AccessDenied).",
        details=error.details,
        hints=[
            f"run setup-bucket as an identity allowed {action} on arn:aws:s3:::{bucket} "
            "(an administrator: ivrimeet itself needs only `ivrimeet iam-policy` at run time)",
            "or apply that bucket setting in your provider's console and run setup-bucket again",
        ],
    )


# --- bucket -------------------------------------------------------------------


def _bucket_region(answer: Mapping[str, Any]) -> str | None:
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = headers.get("x-amz-bucket-region")
    return str(region) if region else None


def _ensure_bucket(client: S3Client, connection: S3Connection) -> StepResult:
    bucket = connection.bucket
    try:
        answer: Mapping[str, Any] = client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if S3Answer.from_client_error(exc).status != 404:
            raise translate_client_error(
                exc, operation="HeadBucket", bucket=bucket, connection=connection
            ) from exc
    except BotoCoreError as exc:
        raise translate_boto_error(
            exc, operation="HeadBucket", bucket=bucket, connection=connection
        ) from exc
    else:
        _check_region(bucket, _bucket_region(answer), connection.region)
        return record("bucket", StepStatus.ALREADY, f"bucket {bucket} exists", bucket)
    return _create_bucket(client, connection)


def _check_region(bucket: str, actual: str | None, configured: str | None) -> None:
    # AWS reports the bucket's region in every HeadBucket answer; compatible
    # servers often do not, and then there is nothing to compare.
    if actual is None or configured is None or actual == configured:
        return
    raise WrongRegionError(
        f"Bucket {bucket} is in region {actual}, not {configured}.",
        hints=[f"set S3_REGION={actual}", "or choose another bucket name for this region"],
    )


def _create_bucket(client: S3Client, connection: S3Connection) -> StepResult:
    bucket = connection.bucket
    region = connection.region
    try:
        # us-east-1 is the default location and must not be named explicitly.
        if region and region != "us-east-1":
            client.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]  # any region string
            )
        else:
            client.create_bucket(Bucket=bucket)
    except ClientError as exc:
        code = S3Answer.from_client_error(exc).code
        if code == "BucketAlreadyOwnedByYou":
            return record("bucket", StepStatus.ALREADY, f"bucket {bucket} exists", bucket)
        if code == "BucketAlreadyExists":
            raise ConflictError(
                f"Cannot create bucket {bucket}: the name is taken by another account.",
                hints=["bucket names are global on AWS: pick another name for S3_BUCKET"],
            ) from exc
        error = translate_client_error(
            exc, operation="CreateBucket", bucket=bucket, connection=connection
        )
        raise _for_setup(error, "CreateBucket", connection) from exc
    except BotoCoreError as exc:
        raise translate_boto_error(
            exc, operation="CreateBucket", bucket=bucket, connection=connection
        ) from exc
    where = f" in {region}" if region else ""
    return record("bucket", StepStatus.APPLIED, f"created bucket {bucket}{where}", bucket)


# --- bucket settings ------------------------------------------------------------


def _ensure_public_access_block(client: S3Client, connection: S3Connection) -> StepResult:
    bucket = connection.bucket
    step = "public-access-block"

    def current() -> Mapping[str, Any]:
        answer = _s3_call(
            "GetPublicAccessBlock",
            connection,
            lambda: client.get_public_access_block(Bucket=bucket),
            not_set_ok=True,
        )
        return dict((answer or {}).get("PublicAccessBlockConfiguration", {}))

    def is_blocked(config: Mapping[str, Any]) -> bool:
        return all(config.get(name) is True for name in _PUBLIC_ACCESS_BLOCK)

    try:
        if is_blocked(current()):
            return record(step, StepStatus.ALREADY, "public access is blocked", bucket)
        _s3_call(
            "PutPublicAccessBlock",
            connection,
            lambda: client.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration=_PUBLIC_ACCESS_BLOCK,  # type: ignore[arg-type]  # plain dict of the TypedDict's keys
            ),
        )
        if not is_blocked(current()):
            raise Unsupported("the server accepted PutPublicAccessBlock but did not keep it")
    except Unsupported as why:
        return skipped(
            step, bucket, str(why), "objects stay private only if the server's defaults are private"
        )
    return record(step, StepStatus.APPLIED, "blocked all public access", bucket)


def _ensure_default_encryption(client: S3Client, connection: S3Connection) -> StepResult:
    bucket = connection.bucket
    step = "default-encryption"

    def algorithm() -> str | None:
        answer = _s3_call(
            "GetBucketEncryption",
            connection,
            lambda: client.get_bucket_encryption(Bucket=bucket),
            not_set_ok=True,
        )
        rules = (answer or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        for rule in rules:
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm"):
                return str(default["SSEAlgorithm"])
        return None

    try:
        existing = algorithm()
        if existing:
            return record(
                step, StepStatus.ALREADY, f"objects are encrypted with {existing}", bucket
            )
        _s3_call(
            "PutBucketEncryption",
            connection,
            lambda: client.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            ),
        )
        if algorithm() is None:
            raise Unsupported("the server accepted PutBucketEncryption but did not keep it")
    except Unsupported as why:
        return skipped(step, bucket, str(why), "use disk encryption on the server instead")
    return record(step, StepStatus.APPLIED, "default encryption set to SSE-S3 (AES256)", bucket)


def _aborts_incomplete_uploads(rule: Mapping[str, Any]) -> bool:
    """True if ``rule`` aborts every incomplete multipart upload within a day."""
    days = rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
    whole_bucket = not rule.get("Prefix") and not any(
        rule.get("Filter", {}).get(name) for name in ("Prefix", "Tag", "And")
    )
    return (
        rule.get("Status") == "Enabled"
        and isinstance(days, int)
        and days <= _ABORT_AFTER_DAYS
        and whole_bucket
    )


def _ensure_lifecycle_rule(client: S3Client, connection: S3Connection) -> StepResult:
    bucket = connection.bucket
    step = "lifecycle"

    def rules() -> list[dict[str, Any]]:
        answer = _s3_call(
            "GetBucketLifecycleConfiguration",
            connection,
            lambda: client.get_bucket_lifecycle_configuration(Bucket=bucket),
            not_set_ok=True,
        )
        return [dict(rule) for rule in (answer or {}).get("Rules", [])]

    ours = {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": _ABORT_AFTER_DAYS},
    }
    try:
        existing = rules()
        if any(_aborts_incomplete_uploads(rule) for rule in existing):
            return record(
                step,
                StepStatus.ALREADY,
                "incomplete multipart uploads are aborted after 1 day",
                bucket,
            )
        # Keep the owner's other rules: a lifecycle PUT replaces the whole configuration.
        # Plain dicts: the rules come back from S3 in the shape S3 accepts.
        wanted: list[Any] = [rule for rule in existing if rule.get("ID") != LIFECYCLE_RULE_ID]
        wanted.append(ours)
        _s3_call(
            "PutBucketLifecycleConfiguration",
            connection,
            lambda: client.put_bucket_lifecycle_configuration(
                Bucket=bucket,
                LifecycleConfiguration={"Rules": wanted},
            ),
        )
        if not any(_aborts_incomplete_uploads(rule) for rule in rules()):
            raise Unsupported(
                "the server accepted PutBucketLifecycleConfiguration but did not keep it"
            )
    except Unsupported as why:
        return skipped(
            step,
            bucket,
            str(why),
            "parts of failed uploads may stay behind: grant s3:AbortMultipartUpload "
            "(see `ivrimeet iam-policy`) so ivrimeet can abort them itself",
        )
    return record(
        step,
        StepStatus.APPLIED,
        "added a rule aborting incomplete multipart uploads after 1 day",
        bucket,
    )
