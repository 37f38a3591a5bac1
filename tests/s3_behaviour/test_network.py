"""The network between ivrimeet and S3: proxies, a private CA, an endpoint that drops packets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ProxyConnectionError, SSLError

from ivrimeet.errors import ProxyError, StorageUnavailableError, TlsError
from ivrimeet.objects import S3Store
from tests.s3_behaviour.answers import AnswerProxy
from tests.s3_behaviour.conftest import Behind
from tests.servers.process import free_port
from tests.servers.s3 import S3Server


def _client(server: S3Server, endpoint: str, **config: object) -> object:
    # A fresh session: boto3's default one keeps the config files it read first.
    return boto3.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        # rclone refuses botocore's aws-chunked uploads (HTTPS default): plain bodies.
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            **config,  # type: ignore[arg-type]
        ),
    )


def test_every_call_goes_through_http_proxy_and_none_past_no_proxy(
    moto_behind: Behind, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HTTP_PROXY for an http:// endpoint (HTTPS_PROXY for https://), as urllib3 reads it."""
    server = moto_behind.server
    with AnswerProxy(server.endpoint_url) as forward:
        monkeypatch.setenv("HTTP_PROXY", forward.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        store = S3Store(server.connection(moto_behind.bucket))
        client = _client(server, server.endpoint_url)

        client.put_object(Bucket=moto_behind.bucket, Key="boto3", Body=b"b")  # type: ignore[attr-defined]
        boto3_calls = forward.forwarded
        store.put("k", b"ivrimeet")
        store.get_bytes("k")
        store.download_to_file("k", tmp_path / "k")
        assert [info.key for info in store.list()] == ["boto3", "k"]
        store.delete("k")
        ours = forward.forwarded - boto3_calls

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = S3Store(server.connection(moto_behind.bucket))
        direct.put("direct", b"d")
        direct.get_bytes("direct")

    assert boto3_calls == 1
    assert ours == 5  # put, get, download, list, delete: none went direct
    assert not any("direct" in line for line in forward.requests)
    assert (tmp_path / "k").read_bytes() == b"ivrimeet"


def test_https_goes_through_a_connect_tunnel_and_trusts_the_ca_bundle(
    rclone_s3_tls: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = rclone_s3_tls
    assert server.ca_bundle is not None
    bucket = f"tls-{time.monotonic_ns()}"
    server.admin_client().create_bucket(Bucket=bucket)
    monkeypatch.setenv("AWS_CA_BUNDLE", server.ca_bundle)
    with AnswerProxy(server.endpoint_url) as forward:
        monkeypatch.setenv("HTTPS_PROXY", forward.url)
        client = _client(server, server.endpoint_url)
        client.put_object(Bucket=bucket, Key="boto3", Body=b"b")  # type: ignore[attr-defined]
        boto3_tunnels = forward.tunnels
        store = S3Store(server.connection(bucket))
        store.put("k", b"x" * 5000)
        store.download_to_file("k", tmp_path / "k")
        ours = forward.tunnels - boto3_tunnels

    assert boto3_tunnels >= 1
    assert ours >= 1
    assert (tmp_path / "k").read_bytes() == b"x" * 5000


@pytest.mark.parametrize("where", ["AWS_CA_BUNDLE", "profile"])
def test_a_private_ca_is_trusted_from_aws_ca_bundle_or_the_profile(
    rclone_s3_tls: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    server = rclone_s3_tls
    assert server.ca_bundle is not None
    bucket = f"ca-{time.monotonic_ns()}"
    server.admin_client().create_bucket(Bucket=bucket)
    if where == "AWS_CA_BUNDLE":
        monkeypatch.setenv("AWS_CA_BUNDLE", server.ca_bundle)
    else:
        config = tmp_path / "aws-config"
        config.write_text(f"[default]\nca_bundle = {server.ca_bundle}\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    client = _client(server, server.endpoint_url)
    client.put_object(Bucket=bucket, Key="boto3", Body=b"b")  # type: ignore[attr-defined]
    store = S3Store(server.connection(bucket))
    store.put("k", b"private")

    assert store.get_bytes("k") == b"private"
    assert store.get_bytes("boto3") == b"b"


def test_an_untrusted_certificate_is_a_tls_error_that_names_the_fix(
    rclone_s3_tls: S3Server,
) -> None:
    server = rclone_s3_tls
    with pytest.raises(SSLError):
        _client(server, server.endpoint_url, retries={"max_attempts": 1}).list_buckets()  # type: ignore[attr-defined]
    store = S3Store(server.connection("any-bucket", max_attempts=1))
    with pytest.raises(TlsError) as ours:
        store.get_bytes("k")

    assert isinstance(ours.value, StorageUnavailableError)  # falls back like any outage
    assert any("AWS_CA_BUNDLE" in hint for hint in ours.value.hints)


def test_a_proxy_that_is_down_is_a_proxy_error(
    moto_behind: Behind, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = moto_behind.server
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)

    with pytest.raises(ProxyConnectionError):
        _client(server, server.endpoint_url, retries={"max_attempts": 1}).list_buckets()  # type: ignore[attr-defined]
    with pytest.raises(ProxyError) as ours:
        S3Store(server.connection(moto_behind.bucket, max_attempts=1)).put("k", b"x")

    assert any("NO_PROXY" in hint for hint in ours.value.hints)


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An endpoint whose SYNs go unanswered: a listener whose backlog is full."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):  # the accept queue fills after one or two; later SYNs are dropped
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def test_an_endpoint_that_drops_packets_fails_after_the_connect_timeout(
    moto_s3: S3Server, black_hole: str
) -> None:
    """Not after the read timeout: the model store's Hub fallback must start in seconds."""
    started = time.monotonic()
    with pytest.raises(ConnectTimeoutError):
        _client(
            moto_s3, black_hole, connect_timeout=0.5, read_timeout=30, retries={"max_attempts": 2}
        ).list_buckets()  # type: ignore[attr-defined]
    boto3_seconds = time.monotonic() - started
    store = S3Store(
        moto_s3.connection(
            "b", endpoint_url=black_hole, connect_timeout=0.5, read_timeout=30, max_attempts=2
        )
    )
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError) as ours:
        store.get_bytes("k")
    ours_seconds = time.monotonic() - started

    assert boto3_seconds < 5
    assert ours_seconds < 5  # two tries of 0.5 s and a short backoff, not 2 x 30 s
    assert "cannot connect" in ours.value.summary
