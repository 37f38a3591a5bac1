"""Every S3 answer and botocore failure maps to the right ivrimeet error and hint (no sockets).

The answers are the ones S3 sends (codes, statuses, headers); the translation
is pure logic, so it is tested on constructed values here and against real
servers in ``tests/integration/test_s3_errors.py``.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bce
import pytest
from botocore.exceptions import ClientError

from ivrimeet.errors import (
    AlreadyExistsError,
    BucketNotFoundError,
    ConfigurationError,
    CredentialsError,
    IvrimeetError,
    ObjectNotFoundError,
    PermissionDeniedError,
    StorageUnavailableError,
    UnsupportedError,
    WrongRegionError,
)
from ivrimeet.objects import S3Connection, s3_errors

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CONNECTION = S3Connection(
    bucket="meetings-prod",
    region="eu-west-1",
    access_key_id="AKIAIOSFODNN7QXA",
    secret_access_key=SECRET,
)


def client_error(
    code: str,
    status: int,
    operation: str = "GetObject",
    *,
    message: str = "",
    headers: dict[str, str] | None = None,
    region: str | None = None,
) -> ClientError:
    error: dict[str, Any] = {"Code": code, "Message": message}
    if region:
        error["Region"] = region
    response: Any = {
        "Error": error,
        "ResponseMetadata": {
            "HTTPStatusCode": status,
            "RequestId": "7K2Q9XJ4M1PB",
            "HTTPHeaders": headers or {},
        },
    }
    return ClientError(response, operation)


def translate(
    exc: ClientError, operation: str = "GetObject", key: str | None = "k"
) -> IvrimeetError:
    return s3_errors.translate_client_error(
        exc, operation=operation, bucket="meetings-prod", key=key, connection=CONNECTION
    )


def test_access_denied_on_get_reads_like_the_style_guide_example() -> None:
    error = translate(
        client_error("AccessDenied", 403), key="models/manifests/pyannote/84fd5d0e.json"
    )

    text = str(error)
    assert isinstance(error, PermissionDeniedError)
    assert text.splitlines()[0] == (
        "Cannot read s3://meetings-prod/models/manifests/pyannote/84fd5d0e.json"
    )
    assert "S3 refused GetObject: AccessDenied (request id 7K2Q9XJ4M1PB, endpoint " in text
    assert "s3.eu-west-1.amazonaws.com" in text
    assert "AWS_ACCESS_KEY_ID ending in 7QXA" in text
    assert "allow s3:GetObject on arn:aws:s3:::meetings-prod/*" in text
    assert "kms:Decrypt" in text
    assert "403 instead of 404" in text and "arn:aws:s3:::meetings-prod to see which" in text
    assert "`ivrimeet doctor`" in text
    assert SECRET not in text
    assert (error.s3_code, error.operation, error.bucket, error.request_id) == (
        "AccessDenied",
        "GetObject",
        "meetings-prod",
        "7K2Q9XJ4M1PB",
    )


@pytest.mark.parametrize(
    ("operation", "action", "resource"),
    [
        ("PutObject", "s3:PutObject", "arn:aws:s3:::meetings-prod/*"),
        ("UploadPart", "s3:PutObject", "arn:aws:s3:::meetings-prod/*"),
        ("CreateMultipartUpload", "s3:PutObject", "arn:aws:s3:::meetings-prod/*"),
        ("DeleteObject", "s3:DeleteObject", "arn:aws:s3:::meetings-prod/*"),
        ("ListObjectsV2", "s3:ListBucket", "arn:aws:s3:::meetings-prod"),
        ("AbortMultipartUpload", "s3:AbortMultipartUpload", "arn:aws:s3:::meetings-prod/*"),
    ],
)
def test_access_denied_names_the_iam_action_and_resource(
    operation: str, action: str, resource: str
) -> None:
    error = translate(client_error("AccessDenied", 403, operation), operation)

    assert isinstance(error, PermissionDeniedError)
    assert f"allow {action} on {resource} for" in str(error)


def test_head_403_without_body_is_a_permission_error_with_the_listbucket_note() -> None:
    error = translate(client_error("403", 403, "HeadObject"), "HeadObject")

    assert isinstance(error, PermissionDeniedError)
    assert "403 instead of 404" in str(error)


@pytest.mark.parametrize(
    ("code", "status", "expected", "phrase"),
    [
        ("NoSuchKey", 404, ObjectNotFoundError, "No object at s3://meetings-prod/k"),
        ("404", 404, ObjectNotFoundError, "No object at"),
        ("NoSuchBucket", 404, BucketNotFoundError, "setup-bucket meetings-prod --region eu-west-1"),
        (
            "SignatureDoesNotMatch",
            403,
            CredentialsError,
            "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID",
        ),
        ("InvalidAccessKeyId", 403, CredentialsError, "access key id is unknown"),
        ("ExpiredToken", 400, CredentialsError, "refresh the session token"),
        ("PreconditionFailed", 412, AlreadyExistsError, "create-only write refused"),
        ("ConditionalRequestConflict", 409, AlreadyExistsError, "already exists"),
        ("SlowDown", 503, StorageUnavailableError, "after retries"),
        ("InternalError", 500, StorageUnavailableError, "after retries"),
        ("NotImplemented", 501, UnsupportedError, "does not implement"),
        ("InvalidBucketName", 400, ConfigurationError, "not a valid bucket name"),
    ],
)
def test_s3_codes_map_to_the_error_a_user_can_act_on(
    code: str, status: int, expected: type[IvrimeetError], phrase: str
) -> None:
    error = translate(client_error(code, status))

    assert type(error) is expected
    assert phrase in str(error)
    assert error.s3_code == code
    assert SECRET not in str(error)


def test_head_bucket_404_is_a_missing_bucket_not_a_missing_object() -> None:
    error = translate(client_error("404", 404, "HeadBucket"), "HeadBucket", key=None)

    assert isinstance(error, BucketNotFoundError)


@pytest.mark.parametrize(
    "exc",
    [
        client_error("PermanentRedirect", 301, headers={"x-amz-bucket-region": "us-west-2"}),
        client_error("301", 301, headers={"x-amz-bucket-region": "us-west-2"}),
        client_error("AuthorizationHeaderMalformed", 400, region="us-west-2"),
        client_error(
            "AuthorizationHeaderMalformed",
            400,
            message="the region 'eu-west-1' is wrong; expecting 'us-west-2'",
        ),
    ],
)
def test_wrong_region_answers_name_the_buckets_region(exc: ClientError) -> None:
    error = translate(exc)

    assert isinstance(error, WrongRegionError)
    assert "is in region us-west-2, not eu-west-1" in str(error)
    assert "set S3_REGION=us-west-2" in str(error)


def test_raw_http_error_body_is_parsed_like_botocore_does() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message><RequestId>ABC123</RequestId></Error>"
    )

    error = s3_errors.translate_http_error(
        403, {}, body, operation="GetObject", bucket="b", key="k", connection=None
    )

    assert isinstance(error, PermissionDeniedError)
    assert error.request_id == "ABC123"
    assert "allow s3:GetObject on arn:aws:s3:::b/*" in str(error)


def test_no_credentials_say_where_the_chain_looked() -> None:
    error = s3_errors.translate_boto_error(
        bce.NoCredentialsError(), operation="PutObject", bucket="b", key="k"
    )

    assert isinstance(error, CredentialsError)
    assert "AWS_PROFILE" in str(error) and "instance metadata" in str(error)


def test_unreachable_endpoint_names_the_url_without_query_or_user_info() -> None:
    exc = bce.EndpointConnectionError(
        endpoint_url="https://user:pw@minio.internal:9000/b/k?X-Amz-Signature=abc"
    )

    error = s3_errors.translate_boto_error(exc, operation="GetObject", bucket="b", key="k")

    assert isinstance(error, StorageUnavailableError)
    assert "https://minio.internal:9000/b/k" in str(error)
    assert "Signature" not in str(error) and "pw" not in str(error)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (bce.NoCredentialsError(), CredentialsError),
        (
            bce.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            CredentialsError,
        ),
        (bce.CredentialRetrievalError(provider="sso", error_msg="x"), CredentialsError),
        (bce.NoRegionError(), ConfigurationError),
        (bce.EndpointConnectionError(endpoint_url="http://h"), StorageUnavailableError),
        (bce.ConnectTimeoutError(endpoint_url="http://h"), StorageUnavailableError),
        (bce.ReadTimeoutError(endpoint_url="http://h"), StorageUnavailableError),
        (bce.ConnectionClosedError(endpoint_url="http://h"), StorageUnavailableError),
        (bce.IncompleteReadError(actual_bytes=1, expected_bytes=2), StorageUnavailableError),
        (bce.ResponseStreamingError(error="reset"), StorageUnavailableError),
    ],
)
def test_every_client_side_botocore_failure_is_mapped(
    exc: bce.BotoCoreError, expected: type[IvrimeetError]
) -> None:
    error = s3_errors.translate_boto_error(exc, operation="GetObject", bucket="b", key="k")

    assert type(error) is expected


def test_translated_chains_the_botocore_error() -> None:
    original = client_error("NoSuchKey", 404)

    with (
        pytest.raises(ObjectNotFoundError) as caught,
        s3_errors.translated("GetObject", CONNECTION, key="k"),
    ):
        raise original

    assert caught.value.__cause__ is original
