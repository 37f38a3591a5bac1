"""How an S3 failure is worded and labelled, whichever module translates it.

``failure_summary`` gives a message's first line ("Cannot read s3://bucket/key"),
``finish`` stamps the S3 code, operation, bucket, key and request id on the error,
``access_hints`` says which IAM permission to grant on which resource.
"""

from __future__ import annotations

from ivrimeet.errors import IvrimeetError

__all__ = ["access_hints", "address", "failure_summary", "finish", "iam_action"]

_VERBS = {
    "GetObject": "read",
    "HeadObject": "read",
    "PutObject": "write",
    "CreateMultipartUpload": "write",
    "UploadPart": "write",
    "CompleteMultipartUpload": "write",
    "DeleteObject": "delete",
    "DeleteObjects": "delete",
    "ListObjectsV2": "list",
    "HeadBucket": "reach bucket",
}


def address(bucket: str | None, key: str | None) -> str:
    if bucket is None:
        return "S3"
    return f"s3://{bucket}/{key}" if key else f"s3://{bucket}"


def failure_summary(operation: str, bucket: str | None, key: str | None) -> str:
    verb = _VERBS.get(operation)
    where = address(bucket, key)
    if verb:
        return f"Cannot {verb} {where}"
    return f"S3 {operation} failed on {where}"


def finish(
    error: IvrimeetError,
    *,
    code: str | None,
    operation: str,
    bucket: str | None,
    key: str | None,
    request_id: str | None,
) -> IvrimeetError:
    error.s3_code = code
    error.operation = operation
    error.bucket = bucket
    error.key = key
    error.request_id = request_id
    return error


# S3 operation -> the IAM action that allows it.
_IAM_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
}
_BUCKET_LEVEL_ACTIONS = frozenset({"s3:ListBucket", "s3:ListBucketMultipartUploads"})


def iam_action(operation: str) -> str:
    """The IAM action an S3 operation needs (``PutObject`` -> ``s3:PutObject``)."""
    return _IAM_ACTIONS.get(operation, f"s3:{operation}")


def _resource(bucket: str, key: str | None, action: str) -> str:
    if action in _BUCKET_LEVEL_ACTIONS:
        return f"arn:aws:s3:::{bucket}"
    del key  # the whole bucket's objects: narrower grants break other ivrimeet features
    return f"arn:aws:s3:::{bucket}/*"


def access_hints(action: str, bucket: str, key: str | None, operation: str) -> list[str]:
    hints = [
        f"allow {action} on {_resource(bucket, key, action)} "
        "for the IAM user or role behind that key"
    ]
    if action == "s3:GetObject":
        hints.append("if the bucket uses SSE-KMS, that identity also needs kms:Decrypt")
        if operation == "HeadObject" or key:
            hints.append(
                "without s3:ListBucket, S3 answers 403 instead of 404 for a key that does not "
                f"exist: allow s3:ListBucket on arn:aws:s3:::{bucket} to see which"
            )
    elif action == "s3:PutObject":
        hints.append("if the bucket uses SSE-KMS, that identity also needs kms:GenerateDataKey")
    hints += [
        "check that S3_BUCKET and S3_REGION name the bucket you meant",
        "run `ivrimeet doctor` to try every permission ivrimeet needs",
    ]
    return hints
