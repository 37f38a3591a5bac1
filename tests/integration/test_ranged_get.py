"""The fast downloader against a misbehaving S3 stand-in: real sockets, real failures.

The stand-in (an ``http.server`` on 127.0.0.1) serves one object and can be
told to misbehave: ignore ``Range``, cut a body short and close, answer 503,
send a wrong ``Content-Range``, or report that the object changed (412 on
``If-Match``). Signatures are not checked here; rclone and moto check them in
the contract suite.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ivrimeet.errors import IntegrityError, StorageUnavailableError
from ivrimeet.objects import S3Connection, S3Store
from ivrimeet.objects.transfer_config import TransferConfig

MiB = 1024 * 1024
PART = 5 * MiB
BODY = hashlib.sha256(b"seed").digest() * (3 * PART // 32 + 1000)
ETAG = '"0123456789abcdef"'


@dataclass
class Behaviour:
    """What the stand-in does; counters are shared by its handler threads."""

    honour_range: bool = True
    status_200_with_content_range: bool = False
    cut_bodies: int = 0  # this many answers are cut short mid-body
    cut_later_bodies: int = 0  # the same, for answers to parts after the first
    unavailable: int = 0  # this many answers are 503 SlowDown
    wrong_range: bool = False
    changed_after_first: bool = False
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, counter: str) -> bool:
        with self.lock:
            left = getattr(self, counter)
            if left > 0:
                setattr(self, counter, left - 1)
                return True
            return False


def make_handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # stdlib name
            return

        def do_GET(self) -> None:  # stdlib name
            range_header = self.headers.get("Range", "")
            with behaviour.lock:
                behaviour.requests.append(range_header)
            if self.headers.get("If-Match") and behaviour.changed_after_first:
                self._send(412, b"<Error><Code>PreconditionFailed</Code></Error>")
                return
            if behaviour.take("unavailable"):
                self._send(503, b"<Error><Code>SlowDown</Code><Message>Slow</Message></Error>")
                return
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", range_header)
            first, last = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
            last = min(last, len(BODY) - 1)
            if not behaviour.honour_range or not match:
                self._send(200, BODY, etag=True)
                return
            if behaviour.wrong_range and first > 0:
                first, last = first + 1, last
            body = BODY[first : last + 1]
            status = 200 if behaviour.status_200_with_content_range else 206
            headers = {"Content-Range": f"bytes {first}-{last}/{len(BODY)}"}
            if behaviour.take("cut_bodies") or (first > 0 and behaviour.take("cut_later_bodies")):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(status, body, etag=True, headers=headers)

        def do_HEAD(self) -> None:  # stdlib name
            self._send(200, b"", length=len(BODY))

        def _send(
            self,
            status: int,
            body: bytes,
            *,
            etag: bool = False,
            headers: dict[str, str] | None = None,
            length: int | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            if etag:
                self.send_header("ETag", ETAG)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour()


@pytest.fixture(params=["spliced", "copied"])
def store(behaviour: Behaviour, request: pytest.FixtureRequest) -> Iterator[S3Store]:
    """The store under test; every case runs with bodies spliced and copied."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(behaviour))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = S3Connection(
        bucket="bucket",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        access_key_id="standin-access-key",
        secret_access_key="standin-secret-key-0123456789",
        transfer=TransferConfig(max_attempts=3),
    )
    try:
        yield S3Store(
            connection, part_size=PART, concurrency=3, zero_copy=request.param == "spliced"
        )
    finally:
        server.shutdown()
        server.server_close()


BODY_SHA256 = hashlib.sha256(BODY).hexdigest()


def download(store: S3Store, tmp_path: Path) -> tuple[Path, list[int]]:
    """Download "k"; the digest fed while streaming must match the body every time."""
    target = tmp_path / "out.bin"
    progress: list[int] = []
    digest = hashlib.sha256()
    store.download_to_file("k", target, progress=progress.append, digest=digest)
    assert digest.hexdigest() == BODY_SHA256, "the in-order hash differs from the body's"
    return target, progress


def test_parallel_ranges_reassemble_the_object(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    target, progress = download(store, tmp_path)

    assert target.read_bytes() == BODY
    assert sum(progress) == len(BODY)
    assert len(behaviour.requests) == 4  # 3 full parts + the tail, no separate HEAD


def test_plain_http_bodies_are_spliced_into_the_file_unless_turned_off(
    store: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_splice = os.splice

    def counting_splice(*args: object, **kwargs: object) -> int:
        calls.append(1)
        return real_splice(*args, **kwargs)  # type: ignore[arg-type]  # passed through

    monkeypatch.setattr(os, "splice", counting_splice)
    target, _ = download(store, tmp_path)
    assert target.read_bytes() == BODY
    assert (len(calls) > 0) == store.zero_copy


def test_a_file_system_refusing_splice_falls_back_to_copying(
    store: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_splice = os.splice

    def no_splice_into_files(*args: object, **kwargs: object) -> int:
        if "offset_dst" in kwargs:  # pipe -> file: what this file system refuses
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_splice(*args, **kwargs)  # type: ignore[arg-type]  # passed through

    monkeypatch.setattr(os, "splice", no_splice_into_files)
    target, _ = download(store, tmp_path)
    assert target.read_bytes() == BODY
    assert not store._downloader.zero_copy  # the rest of this store's downloads copy


def test_200_with_content_range_is_accepted_as_a_partial_answer(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.status_200_with_content_range = True

    target, _ = download(store, tmp_path)

    assert target.read_bytes() == BODY


def test_server_ignoring_range_sends_the_whole_object_which_is_kept(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.honour_range = False

    target, progress = download(store, tmp_path)

    assert target.read_bytes() == BODY
    assert sum(progress) == len(BODY)
    assert len(behaviour.requests) == 1, "no ranged requests after a whole-object answer"


def test_body_cut_short_is_retried_and_progress_rewinds(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.cut_bodies = 2

    target, progress = download(store, tmp_path)

    assert target.read_bytes() == BODY
    assert sum(progress) == len(BODY)
    assert any(step < 0 for step in progress), "a retried part rewinds its progress"


@pytest.mark.parametrize(("first", "later"), [(1, 0), (0, 1), (2, 2), (0, 4)])
def test_hash_fed_while_streaming_survives_parts_retried_after_a_cut(
    store: S3Store, behaviour: Behaviour, tmp_path: Path, first: int, later: int
) -> None:
    behaviour.cut_bodies = first
    behaviour.cut_later_bodies = later

    target, _ = download(store, tmp_path)  # asserts the digest

    assert hashlib.sha256(target.read_bytes()).hexdigest() == BODY_SHA256


def test_slow_down_answers_are_retried(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.unavailable = 2

    target, _ = download(store, tmp_path)

    assert target.read_bytes() == BODY


def test_bodies_cut_every_time_fail_cleanly_after_retries(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.cut_bodies = 10**6

    with pytest.raises(StorageUnavailableError, match="after retries"):
        download(store, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_persistent_slow_down_becomes_storage_unavailable(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.unavailable = 10**6

    with pytest.raises(StorageUnavailableError) as caught:
        download(store, tmp_path)

    assert caught.value.s3_code == "SlowDown"
    assert list(tmp_path.iterdir()) == []


def test_wrong_content_range_is_refused_and_leaves_no_file(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.wrong_range = True

    with pytest.raises(StorageUnavailableError, match="for a request of bytes"):
        download(store, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_object_replaced_during_download_is_an_integrity_error(
    store: S3Store, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.changed_after_first = True

    with pytest.raises(IntegrityError, match="changed while it was being downloaded"):
        download(store, tmp_path)

    assert list(tmp_path.iterdir()) == []
