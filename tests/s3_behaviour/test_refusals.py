"""Refusals S3 gives that no retry fixes: ivrimeet fails as boto3 does, saying what to do."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig as Boto3TransferConfig
from botocore.exceptions import ClientError

from ivrimeet.errors import (
    ClockSkewError,
    CredentialsError,
    StorageUnavailableError,
    WrongRegionError,
)
from tests.s3_behaviour.conftest import Behind, MiB


@pytest.mark.parametrize(
    ("status", "code", "fields", "headers"),
    [
        (301, "PermanentRedirect", {}, {"x-amz-bucket-region": "eu-west-1"}),
        (
            400,
            "AuthorizationHeaderMalformed",
            {"Region": "eu-west-1"},
            {},
        ),
    ],
)
def test_a_bucket_in_another_region_is_named_in_the_error(
    moto_behind: Behind,
    status: int,
    code: str,
    fields: dict[str, str],
    headers: dict[str, str],
) -> None:
    body_fields = {**fields, "Message": "the region 'us-east-1' is wrong; expecting 'eu-west-1'"}
    rule = moto_behind.proxy.when("GET", "/k", times=None)
    rule.answer(status, code, headers=headers, **body_fields)

    with pytest.raises(ClientError):
        moto_behind.boto3().get_object(Bucket=moto_behind.bucket, Key="k")
    with pytest.raises(WrongRegionError) as ours:
        moto_behind.store().get_bytes("k")

    assert "eu-west-1" in ours.value.summary
    assert "set S3_REGION=eu-west-1" in ours.value.hints


def test_an_expired_session_token_fails_with_a_credentials_error_like_boto3(
    moto_behind: Behind,
) -> None:
    moto_behind.proxy.tokens = lambda token: False  # every token presented has expired

    with pytest.raises(ClientError) as boto3_error:
        moto_behind.boto3(aws_session_token="expired-token-1234").put_object(
            Bucket=moto_behind.bucket, Key="k", Body=b"x"
        )
    with pytest.raises(CredentialsError) as ours:
        moto_behind.store(session_token="expired-token-1234").put("k", b"x")

    assert boto3_error.value.response["Error"]["Code"] == "ExpiredToken"
    assert "expired" in ours.value.summary
    assert "expired-token-1234" not in str(ours.value)


def test_a_clock_too_far_off_is_a_clock_skew_error_with_a_clock_hint(moto_behind: Behind) -> None:
    moto_behind.proxy.when("PUT", "/k", times=None).answer(
        403,
        "RequestTimeTooSkewed",
        ServerTime="2026-12-07T02:00:00Z",
        RequestTime="20261207T023000Z",
    )

    with pytest.raises(ClientError) as boto3_error:
        moto_behind.boto3().put_object(Bucket=moto_behind.bucket, Key="k", Body=b"x")
    with pytest.raises(ClockSkewError) as ours:
        moto_behind.store().put("k", b"x")

    assert boto3_error.value.response["Error"]["Code"] == "RequestTimeTooSkewed"
    # An upstream problem to the layers above: the worker retries, models fall back.
    assert isinstance(ours.value, StorageUnavailableError)
    assert "clock" in ours.value.summary
    assert any("2026-12-07T02:00:00Z" in line for line in ours.value.details)


# --- temporary credentials that expire during a download ------------------------------


class _ContainerCredentials:
    """The ECS/EKS container credentials endpoint: a new token on every fetch."""

    def __init__(self) -> None:
        self.issued: dict[str, float] = {}
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # http.server's naming
                with owner._lock:
                    token = f"token-{len(owner.issued)}-0123456789"
                    owner.issued[token] = time.monotonic()
                # 14 minutes: inside botocore's 15-minute advisory window, so every
                # signing asks for fresh keys, as near the end of a real session.
                expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=14)
                body = json.dumps(
                    {
                        "AccessKeyId": "ASIATESTCONTAINER0001",
                        "SecretAccessKey": "container-secret-0123456789",
                        "Token": token,
                        "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def valid_for(self, seconds: float) -> Callable[[str | None], bool]:
        def valid(token: str | None) -> bool:
            with self._lock:
                issued = self.issued.get(token or "")
            return issued is not None and time.monotonic() - issued < seconds

        return valid


@pytest.fixture
def container_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[_ContainerCredentials]:
    endpoint = _ContainerCredentials()
    endpoint.thread.start()
    port = endpoint.server.server_address[1]
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{port}/creds")
    try:
        yield endpoint
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()


def test_temporary_credentials_are_refreshed_between_the_parts_of_one_download(
    moto_behind: Behind,
    container_credentials: _ContainerCredentials,
    payload: Callable[[int], bytes],
    tmp_path: Path,
) -> None:
    data = payload(30 * MiB)
    moto_behind.server.admin_client().put_object(Bucket=moto_behind.bucket, Key="big", Body=data)
    proxy = moto_behind.proxy
    # A token lives 1.5 s; six parts of 0.4 s each outlive the first one.
    proxy.tokens = container_credentials.valid_for(1.5)
    proxy.when("GET", "/big", times=None).delay(0.4)

    moto_behind.boto3(aws_access_key_id=None, aws_secret_access_key=None).download_file(
        moto_behind.bucket,
        "big",
        str(tmp_path / "boto3"),
        Config=Boto3TransferConfig(
            multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=1
        ),
    )
    store = moto_behind.store(access_key_id=None, secret_access_key=None, concurrency=1)
    store.download_to_file("big", tmp_path / "ivrimeet")

    assert (tmp_path / "boto3").read_bytes() == (tmp_path / "ivrimeet").read_bytes() == data
    assert len(container_credentials.issued) > 4
