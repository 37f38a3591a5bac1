"""``S3Store.get`` over real broken sockets: the stream resumes where it broke, bytes identical.

The TCP fault proxy (``tests/faults/proxy.py``) sits between the store and
moto or rclone and resets the connection of a GET after N bytes of its answer.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator

import pytest

from ivrimeet.errors import IntegrityError, StorageUnavailableError
from ivrimeet.objects import S3Store
from tests.faults.proxy import FaultProxy, port_of, running_proxy
from tests.servers.s3 import S3Server

MiB = 1024 * 1024
BODY = os.urandom(3 * MiB + 4321)
KEY = "audio/resume/original.wav"


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def server(request: pytest.FixtureRequest) -> S3Server:
    found: S3Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def proxied(server: S3Server) -> Iterator[tuple[S3Store, FaultProxy, str]]:
    """A store whose requests go through a fault proxy; BODY stored at KEY (directly)."""
    bucket = server.new_bucket("resume").bucket
    server.admin_client().put_object(Bucket=bucket, Key=KEY, Body=BODY)  # type: ignore[no-untyped-call]
    with running_proxy(port_of(server.endpoint_url)) as proxy:
        connection = server.connection(
            bucket, endpoint_url=proxy.url, max_attempts=3, read_timeout=5.0
        )
        yield S3Store(connection), proxy, bucket


def _read_in_pieces(store: S3Store, **span: int) -> bytes:
    with store.get(KEY, **span) as stream:
        pieces = []
        while piece := stream.read(256 * 1024):
            pieces.append(piece)
    return b"".join(pieces)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_read_cut_twice_resumes_and_returns_identical_bytes(
    proxied: tuple[S3Store, FaultProxy, str], caplog: pytest.LogCaptureFixture
) -> None:
    store, proxy, bucket = proxied
    proxy.cut(MiB, request=f"GET /{bucket}/{KEY}", times=2)

    with caplog.at_level(logging.INFO):
        got = _read_in_pieces(store)

    assert _sha(got) == _sha(BODY)
    assert proxy.faults == 2
    resumes = [m for m in caplog.messages if m.startswith("object.get_resume")]
    assert len(resumes) == 2, caplog.messages


def test_a_whole_read_cut_midway_resumes(proxied: tuple[S3Store, FaultProxy, str]) -> None:
    store, proxy, bucket = proxied
    proxy.cut(2 * MiB + 17, request=f"GET /{bucket}/{KEY}", times=1)

    assert _sha(store.get_bytes(KEY)) == _sha(BODY)
    assert proxy.faults == 1


def test_a_ranged_read_cut_midway_resumes_within_its_range(
    proxied: tuple[S3Store, FaultProxy, str],
) -> None:
    store, proxy, bucket = proxied
    proxy.cut(MiB, request=f"GET /{bucket}/{KEY}", times=1)

    got = _read_in_pieces(store, start=100_000, end=2 * MiB + 99_999)

    assert _sha(got) == _sha(BODY[100_000 : 2 * MiB + 100_000])
    assert proxy.faults == 1


def test_a_server_gone_mid_read_fails_clearly_after_bounded_retries(
    proxied: tuple[S3Store, FaultProxy, str],
) -> None:
    store, proxy, bucket = proxied

    proxy.cut(MiB, request=f"GET /{bucket}/{KEY}", times=1)

    with pytest.raises(StorageUnavailableError) as caught, store.get(KEY) as stream:
        proxy.refuse(drop_open=False)  # the read goes on until the cut; then nobody answers
        stream.read()

    assert caught.value.summary == (
        f"Cannot read s3://{bucket}/{KEY}: cannot connect to the S3 endpoint "
        f"{proxy.url}/{bucket}/{KEY}."
    )


def test_an_object_replaced_mid_read_is_never_spliced(
    server: S3Server, proxied: tuple[S3Store, FaultProxy, str]
) -> None:
    if server.name == "rclone":
        pytest.skip("rclone serve s3 ignores If-Match")
    store, proxy, bucket = proxied
    proxy.cut(MiB, request=f"GET /{bucket}/{KEY}", times=1)

    changed = pytest.raises(IntegrityError, match="changed while it was being read")
    with changed, store.get(KEY) as stream:
        stream.read(512 * 1024)
        server.admin_client().put_object(Bucket=bucket, Key=KEY, Body=BODY[::-1])  # type: ignore[no-untyped-call]
        while stream.read(256 * 1024):
            pass
