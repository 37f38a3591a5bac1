"""Answers S3 documents as transient: ivrimeet retries them as botocore's standard mode does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.s3_behaviour.answers import error_xml
from tests.s3_behaviour.conftest import Behind, MiB


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "RequestTimeout"), (503, "SlowDown"), (500, "InternalError")],
)
def test_one_transient_answer_to_put_object_is_retried_like_boto3(
    moto_behind: Behind, status: int, code: str
) -> None:
    proxy = moto_behind.proxy
    proxy.when("PUT", "/boto3.bin").answer(status, code)
    proxy.when("PUT", "/ivrimeet.bin").answer(status, code)

    moto_behind.boto3().put_object(Bucket=moto_behind.bucket, Key="boto3.bin", Body=b"x" * 100)
    moto_behind.store().put("ivrimeet.bin", b"y" * 100)

    assert proxy.unused() == []
    admin = moto_behind.server.admin_client()
    for key, byte in (("boto3.bin", b"x"), ("ivrimeet.bin", b"y")):
        assert admin.get_object(Bucket=moto_behind.bucket, Key=key)["Body"].read() == byte * 100


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
def test_one_transient_answer_to_get_object_is_retried_like_boto3(
    moto_behind: Behind, status: int, code: str, tmp_path: Path
) -> None:
    moto_behind.server.admin_client().put_object(
        Bucket=moto_behind.bucket, Key="k", Body=b"z" * 1000
    )
    proxy = moto_behind.proxy

    proxy.when("GET", "/k").answer(status, code)
    got_boto3 = moto_behind.boto3().get_object(Bucket=moto_behind.bucket, Key="k")["Body"].read()
    proxy.when("GET", "/k").answer(status, code)
    got_ivrimeet = moto_behind.store().get_bytes("k")
    proxy.when("GET", "/k").answer(status, code)
    moto_behind.store().download_to_file("k", tmp_path / "k")

    assert proxy.unused() == []
    assert got_boto3 == got_ivrimeet == (tmp_path / "k").read_bytes() == b"z" * 1000


def test_complete_multipart_answering_200_with_an_error_is_retried_not_aborted(
    moto_behind: Behind, payload: Callable[[int], bytes]
) -> None:
    """AWS documents that CompleteMultipartUpload may answer 200 with <Error>: retry it."""
    data = payload(12 * MiB)
    proxy = moto_behind.proxy
    error = error_xml("InternalError", "We encountered an internal error.")
    proxy.when("POST", "/boto3.bin?uploadId=").answer(200, body=error)
    proxy.when("POST", "/ivrimeet.bin?uploadId=").answer(200, body=error)

    client = moto_behind.boto3()
    created = client.create_multipart_upload(Bucket=moto_behind.bucket, Key="boto3.bin")
    parts = []
    for number, start in enumerate(range(0, len(data), 5 * MiB), start=1):
        answer = client.upload_part(
            Bucket=moto_behind.bucket,
            Key="boto3.bin",
            UploadId=created["UploadId"],
            PartNumber=number,
            Body=data[start : start + 5 * MiB],
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    client.complete_multipart_upload(
        Bucket=moto_behind.bucket,
        Key="boto3.bin",
        UploadId=created["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    moto_behind.store().put("ivrimeet.bin", iter([data]))

    assert proxy.unused() == []
    admin = moto_behind.server.admin_client()
    for key in ("boto3.bin", "ivrimeet.bin"):
        assert admin.get_object(Bucket=moto_behind.bucket, Key=key)["Body"].read() == data
    assert moto_behind.server.list_multipart_uploads(moto_behind.bucket) == []


def test_throttling_that_never_ends_fails_with_a_typed_error_like_boto3(
    moto_behind: Behind,
) -> None:
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from ivrimeet.errors import StorageUnavailableError

    moto_behind.proxy.when("PUT", "/k", times=None).answer(503, "SlowDown")

    with pytest.raises(ClientError) as boto3_error:
        moto_behind.boto3(
            config=Config(
                s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 2}
            )
        ).put_object(Bucket=moto_behind.bucket, Key="k", Body=b"x")
    boto3_tries = len(moto_behind.proxy.requests)
    with pytest.raises(StorageUnavailableError) as ours:
        moto_behind.store(max_attempts=2).put("k", b"x")

    assert boto3_error.value.response["Error"]["Code"] == "SlowDown"
    assert ours.value.s3_code == "SlowDown"
    assert "What to do" in str(ours.value)
    assert boto3_tries >= 2
    assert len(moto_behind.proxy.requests) - boto3_tries == 2  # max_attempts, no more
