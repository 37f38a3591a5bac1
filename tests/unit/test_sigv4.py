"""The standard-library SigV4 signer against botocore's, byte for byte, on the same clock."""

from __future__ import annotations

import datetime
from urllib.parse import quote

import pytest
from botocore import auth as botocore_auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ivrimeet.objects.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    SigningKeys,
    presign_url,
    sign_headers,
)

NOW = datetime.datetime(2026, 3, 1, 23, 59, 58, tzinfo=datetime.UTC)

KEYS = [
    "plain.bin",
    "with space/and more  spaces.txt",
    "unicode/שלום/ünïcødé-😀.json",
    "a+b=c~d%e&f?g#h.bin",
    "double//slash/",
    "trailing/",
    "models/org/name/blobs/0123abcd",
    "*'()!$,;:@[]",
]
BASES = [
    "https://bucket.s3.eu-west-1.amazonaws.com",
    "https://s3.us-east-1.amazonaws.com/dotted.bucket",
    "http://127.0.0.1:9000/bucket",
    "http://LocalHost:80/prefix/path/bucket",
    "https://minio.example.com:8443/some/prefix/bucket",
    "https://[::1]:9443/bucket",
]
QUERIES = [
    "",
    "uploads",
    "uploadId=2~abc%2Bdef&partNumber=7",
    "list-type=2&prefix=models%2Forg%2F&continuation-token=a%2Bb%3D%3D&delimiter=%2F",
    "partNumber=10&uploadId=x&partNumber=2",
]
HEADERS = [
    {},
    {"Range": "bytes=0-1048575", "If-Match": '"etag-1"'},
    {
        "Content-Length": "11",
        "Content-Type": "application/octet-stream",
        "x-amz-checksum-crc32": "DUoRhQ==",
        "User-Agent": "not signed",
        "X-Amz-Meta-Note": "  spaced   out  value ",
    },
]
CREDENTIALS = [
    ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    ("ASIAEXAMPLE", "secret/with+chars=", "session//token+=="),
]


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore reads the time through this name, as a naive UTC datetime.
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))


def _url(base: str, key: str, query: str) -> str:
    url = f"{base}/{quote(key, safe='/~')}"
    return f"{url}?{query}" if query else url


class _UnsignedPayload(botocore_auth.S3SigV4Auth):
    def _should_sha256_sign_payload(self, request: AWSRequest) -> bool:
        return False


@pytest.mark.parametrize("access_key,secret_key,token", CREDENTIALS)
@pytest.mark.parametrize("headers", HEADERS)
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_headers_match_botocore(
    method: str,
    base: str,
    query: str,
    headers: dict[str, str],
    access_key: str,
    secret_key: str,
    token: str | None,
) -> None:
    credentials = Credentials(access_key, secret_key, token)
    keys = SigningKeys(access_key, secret_key, token)
    for key in KEYS:
        url = _url(base, key, query)
        for signer, payload in ((_UnsignedPayload, UNSIGNED_PAYLOAD), (None, EMPTY_SHA256)):
            request = AWSRequest(method=method, url=url, headers=dict(headers))
            (signer or botocore_auth.S3SigV4Auth)(credentials, "s3", "eu-west-1").add_auth(request)
            expected = dict(request.headers.items())
            got = sign_headers(method, url, headers, keys, "eu-west-1", payload=payload, now=NOW)
            assert got == expected, url


def test_replaces_stale_signing_headers() -> None:
    """A retried request's old signature and date are replaced, never doubled."""
    keys = SigningKeys("AKIDEXAMPLE", "secret", "token")
    url = "https://bucket.s3.us-east-1.amazonaws.com/key"
    first = sign_headers("GET", url, {"Range": "bytes=0-9"}, keys, "us-east-1", now=NOW)
    later = NOW + datetime.timedelta(seconds=5)
    again = sign_headers("GET", url, first, keys, "us-east-1", now=later)
    assert set(again) == set(first)
    assert again["X-Amz-Date"] == later.strftime("%Y%m%dT%H%M%SZ")
    assert again["Authorization"] != first["Authorization"]
    assert again == sign_headers("GET", url, {"Range": "bytes=0-9"}, keys, "us-east-1", now=later)


@pytest.mark.parametrize("access_key,secret_key,token", CREDENTIALS)
@pytest.mark.parametrize("query", ["", "response-content-type=audio%2Fwav&x=a%20b"])
@pytest.mark.parametrize("base", BASES)
def test_presigned_url_matches_botocore(
    base: str, query: str, access_key: str, secret_key: str, token: str | None
) -> None:
    credentials = Credentials(access_key, secret_key, token)
    keys = SigningKeys(access_key, secret_key, token)
    for key in KEYS:
        url = _url(base, key, query)
        for expires in (1, 3600, 604800):
            request = AWSRequest(method="GET", url=url)
            botocore_auth.S3SigV4QueryAuth(
                credentials, "s3", "ap-southeast-2", expires=expires
            ).add_auth(request)
            got = presign_url("GET", url, keys, "ap-southeast-2", expires, now=NOW)
            assert got == request.url, url


def test_signing_keys_repr_hides_secrets() -> None:
    shown = repr(SigningKeys("AKIDEXAMPLE", "very-secret", "session-token"))
    assert "AKIDEXAMPLE" in shown
    assert "very-secret" not in shown and "session-token" not in shown
