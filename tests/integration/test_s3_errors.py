"""S3 failures reach the caller as ivrimeet errors that say what to do, against real servers.

Each test checks the error class, the hint a user acts on, and that neither
the message nor the logs contain a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivrimeet.errors import (
    BucketNotFoundError,
    CredentialsError,
    IvrimeetError,
    ObjectNotFoundError,
    PermissionDeniedError,
    StorageUnavailableError,
)
from ivrimeet.objects import S3Store
from ivrimeet.objects.iam_policy import DOCUMENTED_ACTIONS, bucket_arn, objects_arn
from tests.servers.moto_iam import IamUser, MotoIam
from tests.servers.process import free_port
from tests.servers.s3 import TEST_SECRET_KEY, S3Server

MiB = 1024 * 1024
PART = 5 * MiB


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in (TEST_SECRET_KEY, *secrets):
        assert secret not in text
    assert "Signature=" not in text and "X-Amz-Signature" not in text


def two_parts_then_failure() -> Iterator[bytes]:
    yield b"a" * PART
    yield b"b" * PART
    raise OSError("the client hung up")


# --- credentials ------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["put", "get_bytes", "download_to_file", "list"])
def test_wrong_secret_says_the_secret_does_not_match_the_key_id(
    rclone_s3: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture, operation: str
) -> None:
    good = rclone_s3.new_bucket()
    S3Store(good).put("k", b"data")
    wrong_secret = "not-the-right-secret-0123456789"
    store = S3Store(rclone_s3.connection(good.bucket, secret_access_key=wrong_secret))
    calls = {
        "put": lambda: store.put("k", b"data"),
        "get_bytes": lambda: store.get_bytes("k"),
        "download_to_file": lambda: store.download_to_file("k", tmp_path / "k"),
        "list": lambda: list(store.list()),
    }

    with pytest.raises(CredentialsError) as caught:
        calls[operation]()

    message = str(caught.value)
    assert "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID" in message
    assert caught.value.s3_code == "SignatureDoesNotMatch"
    assert "ending in 0001" in message  # the key id's tail, never the whole key
    assert_no_secret(message + caplog.text, wrong_secret)
    assert not (tmp_path / "k").exists()


def test_unknown_key_id_says_the_endpoint_does_not_know_it(rclone_s3: S3Server) -> None:
    good = rclone_s3.new_bucket()
    store = S3Store(rclone_s3.connection(good.bucket, access_key_id="AKIAUNKNOWNKEY999"))

    with pytest.raises(CredentialsError, match="access key id is unknown") as caught:
        store.put("k", b"data")

    assert caught.value.s3_code == "InvalidAccessKeyId"
    assert_no_secret(str(caught.value))


def test_missing_credentials_say_where_the_chain_looked(rclone_s3: S3Server) -> None:
    good = rclone_s3.new_bucket()
    store = S3Store(rclone_s3.connection(good.bucket, access_key_id=None, secret_access_key=None))

    with pytest.raises(CredentialsError) as caught:
        store.put("k", b"data")

    message = str(caught.value)
    assert "no AWS credentials were found" in message
    assert "AWS_PROFILE" in message and "instance metadata" in message


# --- bucket and endpoint ------------------------------------------------------------


@pytest.mark.parametrize("server_name", ["moto", "rclone"])
@pytest.mark.parametrize("operation", ["put", "download_to_file"])
def test_unknown_bucket_suggests_setup_bucket(
    request: pytest.FixtureRequest, tmp_path: Path, server_name: str, operation: str
) -> None:
    server: S3Server = request.getfixturevalue(f"{server_name}_s3")
    store = S3Store(server.connection("no-such-bucket-ivrimeet"))

    with pytest.raises(BucketNotFoundError) as caught:
        if operation == "put":
            store.put("k", b"x")
        else:
            store.download_to_file("k", tmp_path / "k")

    message = str(caught.value)
    assert "`ivrimeet setup-bucket no-such-bucket-ivrimeet --region us-east-1`" in message
    assert caught.value.bucket == "no-such-bucket-ivrimeet"
    assert_no_secret(message)


@pytest.mark.parametrize("operation", ["put", "download_to_file", "list"])
def test_unreachable_endpoint_names_the_url_tried(
    rclone_s3: S3Server, tmp_path: Path, operation: str
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = S3Store(
        rclone_s3.connection("bucket", endpoint_url=endpoint, max_attempts=1, connect_timeout=2)
    )
    calls = {
        "put": lambda: store.put("k", b"x"),
        "download_to_file": lambda: store.download_to_file("k", tmp_path / "k"),
        "list": lambda: list(store.list()),
    }

    with pytest.raises(StorageUnavailableError) as caught:
        calls[operation]()

    assert endpoint in str(caught.value)
    assert "S3_ENDPOINT_URL" in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == []


def test_missing_object_is_not_found_on_every_read_path(
    rclone_s3: S3Server, tmp_path: Path
) -> None:
    store = S3Store(rclone_s3.new_bucket())

    for read in (
        lambda: store.head("nope"),
        lambda: store.get_bytes("nope"),
        lambda: store.download_to_file("nope", tmp_path / "nope"),
    ):
        with pytest.raises(ObjectNotFoundError, match="nope"):
            read()


# --- permissions (moto enforcing IAM) ------------------------------------------------


def policy(bucket: str, actions: tuple[str, ...]) -> dict[str, object]:
    object_actions = [a for a in actions if a != "s3:ListBucket"]
    statements: list[dict[str, object]] = [
        {"Effect": "Allow", "Action": object_actions, "Resource": objects_arn(bucket)}
    ]
    if "s3:ListBucket" in actions:
        statements.append(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn(bucket)}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def iam_store(moto_iam: MotoIam, actions: tuple[str, ...]) -> tuple[S3Store, IamUser, str]:
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(policy(bucket, actions))
    return S3Store(moto_iam.connection(bucket, user), part_size=PART), user, bucket


def test_put_without_put_permission_names_the_action_and_resource(moto_iam: MotoIam) -> None:
    actions = tuple(a for a in DOCUMENTED_ACTIONS if a != "s3:PutObject")
    store, user, bucket = iam_store(moto_iam, actions)

    with pytest.raises(PermissionDeniedError) as caught:
        store.put("models/manifest.json", b"{}")

    message = str(caught.value)
    assert message.startswith(f"Cannot write s3://{bucket}/models/manifest.json")
    assert f"allow s3:PutObject on arn:aws:s3:::{bucket}/*" in message
    assert f"ending in {user.access_key_id[-4:]}" in message
    assert caught.value.s3_code == "AccessDenied"
    assert caught.value.operation == "PutObject"
    assert_no_secret(message, user.secret_access_key)


def test_download_without_get_permission_names_get_object_and_kms(
    moto_iam: MotoIam, tmp_path: Path
) -> None:
    actions = tuple(a for a in DOCUMENTED_ACTIONS if a != "s3:GetObject")
    store, user, bucket = iam_store(moto_iam, actions)
    store.put("blob", b"x" * 100)

    with pytest.raises(PermissionDeniedError) as caught:
        store.download_to_file("blob", tmp_path / "blob")

    message = str(caught.value)
    assert f"allow s3:GetObject on arn:aws:s3:::{bucket}/*" in message
    assert "kms:Decrypt" in message
    assert_no_secret(message, user.secret_access_key)
    assert list(tmp_path.iterdir()) == []


def test_four_action_policy_failed_upload_keeps_the_original_error_and_warns(
    moto_iam: MotoIam, caplog: pytest.LogCaptureFixture
) -> None:
    """Users run with the documented four actions (no s3:AbortMultipartUpload)."""
    store, user, _bucket = iam_store(moto_iam, DOCUMENTED_ACTIONS)
    caplog.set_level(logging.WARNING, logger="ivrimeet")

    with pytest.raises(OSError, match="the client hung up") as caught:
        store.put("audio/m/original.wav", two_parts_then_failure())

    assert not isinstance(caught.value, IvrimeetError)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("object.abort_refused" in w and "lifecycle rule" in w for w in warnings)
    assert not store.exists("audio/m/original.wav")
    assert_no_secret(caplog.text, user.secret_access_key)


def test_full_policy_failed_upload_aborts_the_multipart_upload(moto_iam: MotoIam) -> None:
    store, _user, bucket = iam_store(moto_iam, (*DOCUMENTED_ACTIONS, "s3:AbortMultipartUpload"))

    with pytest.raises(OSError, match="the client hung up"):
        store.put("audio/m/original.wav", two_parts_then_failure())

    uploads = moto_iam.server.admin_client().list_multipart_uploads(Bucket=bucket)
    assert uploads.get("Uploads", []) == []
