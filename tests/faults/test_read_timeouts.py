"""Slow headers and stalled bodies lose their connection on a real ``ivrimeet serve``.

Raw sockets against ``ivrimeet serve --no-worker`` on moto with 1.5-second
``HTTP_HEADER_TIMEOUT`` / ``HTTP_BODY_TIMEOUT``: a client that sends nothing,
half a request line or half its headers gets ``408`` and a closed connection; an
upload that stalls mid-body is aborted with its multipart upload, leaving no
object, no row and no upload in progress.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.api_support import noise_wav
from tests.servers.ivrimeet import ivrimeet_env, serve
from tests.servers.process import RunningProcess
from tests.servers.s3 import S3Server
from tests.waiting import wait_until

TOKEN = "read-timeouts-token-3b9d1c"
TIMEOUT = 1.5
MiB = 1024 * 1024


@dataclass
class Served:
    url: str
    port: int
    bucket: str
    process: RunningProcess


@pytest.fixture(scope="module")
def served(moto_s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root: Path = tmp_path_factory.mktemp("read-timeouts")
    bucket = moto_s3.new_bucket().bucket
    env = ivrimeet_env(
        root,
        token=TOKEN,
        s3=moto_s3,
        bucket=bucket,
        HTTP_HEADER_TIMEOUT=str(TIMEOUT),
        HTTP_BODY_TIMEOUT=str(TIMEOUT),
        UPLOAD_PART_SIZE=str(5 * MiB),
    )
    with serve(env, root, "--no-worker") as (url, process):
        yield Served(url, int(url.rsplit(":", 1)[1]), bucket, process)


def _closed_after(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and the seconds that took."""
    began = time.monotonic()
    sock.settimeout(TIMEOUT + 10)  # a server that never closes fails here, not forever
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - began


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /heal", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "],
    ids=["nothing", "half-request-line", "half-headers"],
)
def test_a_client_that_stalls_before_its_headers_end_gets_408_and_is_disconnected(
    served: Served, sent: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(sent)
        received, seconds = _closed_after(sock)
    assert received.startswith(b"HTTP/1.1 408 "), received[:80]
    assert b'"code": "request_timeout"' in received
    assert TIMEOUT * 0.8 <= seconds <= TIMEOUT + 5, seconds


def test_an_upload_that_stalls_mid_body_is_aborted_and_leaves_nothing(
    served: Served, moto_s3: S3Server
) -> None:
    body = noise_wav(20 * MiB)
    sent = 12 * MiB  # past two 5 MiB parts: the multipart upload exists in the bucket
    head = (
        "POST /api/meetings HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{served.port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        "Content-Type: audio/wav\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(head + body[:sent])
        wait_until(
            lambda: moto_s3.list_multipart_uploads(served.bucket),
            timeout=30,
            message="the upload's multipart upload started",
        )
        received, seconds = _closed_after(sock)
    assert received.startswith(b"HTTP/1.1 408 "), received[:80]
    assert seconds <= TIMEOUT + 5, seconds
    wait_until(
        lambda: not moto_s3.list_multipart_uploads(served.bucket),
        timeout=30,
        message="the stalled upload's multipart upload was aborted",
    )
    listed = moto_s3.admin_client().list_objects_v2(Bucket=served.bucket)
    assert listed.get("KeyCount", 0) == 0
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        assert api.get("/api/meetings").json()["total"] == 0
    assert "http.read_timeout part=body" in served.process.log_path.read_text()


def test_an_upload_that_keeps_sending_is_not_cut_by_the_timeouts(served: Served) -> None:
    data = noise_wav(8 * MiB)
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        answer = api.post("/api/meetings", content=data, headers={"Content-Type": "audio/wav"})
        assert answer.status_code == 201, answer.text
        # Keep-alive: the next request on the same connection is not held to the first's clock.
        assert api.get(f"/api/meetings/{answer.json()['id']}").status_code == 200
        assert api.delete(f"/api/meetings/{answer.json()['id']}").status_code == 204
