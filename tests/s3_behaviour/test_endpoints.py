"""Endpoints and signing as botocore does them: no host names of ivrimeet's own."""

from __future__ import annotations

import datetime

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ivrimeet.objects import S3Connection, S3Store
from ivrimeet.objects.endpoints import resolve
from ivrimeet.objects.sigv4 import SigningKeys, sign_headers
from ivrimeet.runtime import object_store
from ivrimeet.settings import Settings
from tests.servers.s3 import S3Server


@pytest.mark.parametrize(
    ("bucket", "region", "env", "host"),
    [
        ("plain-bucket", "eu-west-1", {}, "plain-bucket.s3.eu-west-1.amazonaws.com"),
        ("china-bucket", "cn-north-1", {}, "china-bucket.s3.cn-north-1.amazonaws.com.cn"),
        # A dotted name breaks the wildcard certificate: botocore goes path-style.
        ("dotted.bucket", "eu-west-1", {}, "s3.eu-west-1.amazonaws.com"),
        (
            "dual-bucket",
            "us-west-2",
            {"AWS_USE_DUALSTACK_ENDPOINT": "true"},
            "dual-bucket.s3.dualstack.us-west-2.amazonaws.com",
        ),
        (
            "fips-bucket",
            "us-east-1",
            {"AWS_USE_FIPS_ENDPOINT": "true"},
            "fips-bucket.s3-fips.us-east-1.amazonaws.com",
        ),
    ],
)
def test_aws_endpoints_are_botocores(
    monkeypatch: pytest.MonkeyPatch, bucket: str, region: str, env: dict[str, str], host: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    target = resolve(S3Connection(bucket=bucket, region=region)).target("models/a b.json")

    assert (target.scheme, target.host, target.port) == ("https", host, None)
    prefix = f"/{bucket}" if "." in bucket else ""
    assert target.path == f"{prefix}/models/a%20b.json"


def test_trace_headers_are_left_unsigned_as_botocore_leaves_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = datetime.datetime(2026, 12, 7, 2, 0, 0, tzinfo=datetime.UTC)
    # botocore reads the time through this name, as a naive UTC datetime.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
    headers = {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "vendor=1",
        "baggage": "user=1",
        "Content-Type": "application/json",
    }
    url = "https://b.s3.eu-west-1.amazonaws.com/k"
    keys = SigningKeys("AKIDEXAMPLE0000", "secret")
    ours = sign_headers("PUT", url, headers, keys, "eu-west-1", now=now)
    request = AWSRequest("PUT", url, headers=dict(headers))
    credentials = Credentials("AKIDEXAMPLE0000", "secret")
    botocore.auth.S3SigV4Auth(credentials, "s3", "eu-west-1").add_auth(request)

    def signed(authorization: str) -> str:
        return authorization.split("SignedHeaders=")[1].split(",")[0]

    assert signed(ours["Authorization"]) == "content-type;host;x-amz-content-sha256;x-amz-date"
    assert signed(ours["Authorization"]) == signed(request.headers["Authorization"])


def test_aws_endpoint_url_reaches_every_call_when_s3_endpoint_url_is_unset(
    moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_s3.new_bucket().bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3.endpoint_url)
    store = object_store(
        Settings(
            env_file=None,
            s3_bucket=bucket,
            s3_region=moto_s3.region,
            aws_access_key_id=moto_s3.access_key,
            aws_secret_access_key=moto_s3.secret_key,
        )
    )
    assert isinstance(store, S3Store)

    store.put("k", b"own client")  # http.client
    listed = [info.key for info in store.list()]  # boto3

    assert listed == ["k"]
    assert store.get_bytes("k") == b"own client"


@pytest.mark.parametrize(
    ("variables", "chosen"),
    [
        ({"S3_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_S3": "http://b"}, "http://a"),
        ({"AWS_ENDPOINT_URL_S3": "http://b", "AWS_ENDPOINT_URL": "http://c"}, "http://b"),
        ({"AWS_ENDPOINT_URL": "http://c"}, "http://c"),
        ({}, None),
    ],
)
def test_the_endpoint_follows_botocores_precedence(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], chosen: str | None
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    assert Settings(env_file=None).s3_endpoint_url == chosen
