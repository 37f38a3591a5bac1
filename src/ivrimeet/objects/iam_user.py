"""The optional last step of ``setup_bucket``: an IAM user with the least-privilege policy.

Idempotent: an existing user gets its policy checked (and set when it differs),
never a second key. An endpoint without an IAM API (R2, rclone) gets the step
skipped with its answer as the reason.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ivrimeet.errors import CredentialsError, IvrimeetError, PermissionDeniedError
from ivrimeet.objects.iam_policy import least_privilege_policy
from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.setup_steps import (
    CreatedUser,
    StepResult,
    StepStatus,
    Unsupported,
    record,
    skipped,
)

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

__all__ = ["ensure_iam_user"]


def _iam_client(connection: S3Connection) -> IAMClient:
    # IAM is global on AWS; a compatible endpoint (moto) serves it on the same URL.
    config = Config(
        connect_timeout=connection.transfer.connect_timeout,
        read_timeout=connection.transfer.read_timeout,
        retries={"mode": "standard", "max_attempts": connection.transfer.max_attempts},
    )
    return connection.session().client("iam", endpoint_url=connection.endpoint_url, config=config)


def _policy_document(value: object) -> object:
    """The policy as a comparable value: AWS returns it URL-encoded, boto3 may decode it."""
    if isinstance(value, str):
        return json.loads(urllib.parse.unquote(value))
    return value


def ensure_iam_user(connection: S3Connection, name: str) -> tuple[StepResult, CreatedUser | None]:
    step = "iam-user"
    bucket = connection.bucket
    iam = _iam_client(connection)
    policy_name = f"ivrimeet-{bucket}"
    policy = least_privilege_policy(bucket)
    try:
        exists = _iam_call("GetUser", name, lambda: iam.get_user(UserName=name), missing_ok=True)
        if exists is not None:
            current = _iam_call(
                "GetUserPolicy",
                name,
                lambda: iam.get_user_policy(UserName=name, PolicyName=policy_name),
                missing_ok=True,
            )
            if current is not None and _policy_document(current["PolicyDocument"]) == policy:
                return (
                    record(
                        step,
                        StepStatus.ALREADY,
                        f"IAM user {name} exists with policy {policy_name}; its keys are not "
                        "shown again (create a new key in the IAM console if they are lost)",
                        bucket,
                    ),
                    None,
                )
            _iam_call(
                "PutUserPolicy",
                name,
                lambda: iam.put_user_policy(
                    UserName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
                ),
            )
            detail = f"IAM user {name} existed: set its policy {policy_name}; no new key created"
            return record(step, StepStatus.APPLIED, detail, bucket), None
        _iam_call("CreateUser", name, lambda: iam.create_user(UserName=name))
        _iam_call(
            "PutUserPolicy",
            name,
            lambda: iam.put_user_policy(
                UserName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
            ),
        )
        key = _iam_call("CreateAccessKey", name, lambda: iam.create_access_key(UserName=name))
    except Unsupported as why:
        consequence = (
            "create a key in your provider's console with the policy from "
            f"`ivrimeet iam-policy {bucket}`"
        )
        return skipped(step, bucket, str(why), consequence), None
    created = CreatedUser(
        name=name,
        policy_name=policy_name,
        access_key_id=key["AccessKey"]["AccessKeyId"],
        secret_access_key=key["AccessKey"]["SecretAccessKey"],
    )
    detail = f"created IAM user {name} with policy {policy_name} and one access key"
    return record(step, StepStatus.APPLIED, detail, bucket), created


def _iam_call(
    operation: str, user: str, call: Callable[[], Any], *, missing_ok: bool = False
) -> Any:
    """Run one IAM request: ``None`` for NoSuchEntity when allowed, ``Unsupported`` when
    the endpoint has no IAM API, a project error for refused credentials or permissions."""
    try:
        return call()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if missing_ok and code == "NoSuchEntity":
            return None
        raise _iam_error(exc, code, operation, user) from exc
    except BotoCoreError as exc:
        raise Unsupported(f"the endpoint does not answer IAM {operation} ({exc})") from exc


def _iam_error(exc: ClientError, code: str, operation: str, user: str) -> Exception:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in ("AccessDenied", "AccessDeniedException"):
        return PermissionDeniedError(
            f"IAM refused {operation} for user {user}: AccessDenied.",
            hints=[
                f"run setup-bucket with an identity allowed iam:{operation} "
                "(iam:GetUser, iam:CreateUser, iam:PutUserPolicy, iam:GetUserPolicy, "
                "iam:CreateAccessKey)",
                "or drop --create-user and attach the policy from `ivrimeet iam-policy` yourself",
            ],
        )
    if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken"):
        return CredentialsError(
            f"IAM refused the credentials for {operation}: {code}.",
            hints=["check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"],
        )
    if code in ("EntityAlreadyExists", "LimitExceeded", "NoSuchEntity"):
        return IvrimeetError(f"IAM {operation} for user {user} failed: {code}.")
    # Anything else (no error code, 404, 501...) means the endpoint is not an IAM API.
    return Unsupported(f"the endpoint has no IAM API (it answered {code or status} to {operation})")
