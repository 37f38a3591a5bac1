"""The ObjectStore contract: every backend (local folder, moto, rclone) passes the same tests.

Each test gets a fresh store: a new folder, or a new bucket on a session-wide
server. Parts are 5 MiB (S3's minimum) so multipart paths run on small data.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ivrimeet.errors import (
    AlreadyExistsError,
    CreateOnlyUnsupportedError,
    InvalidKeyError,
    ObjectNotFoundError,
    SizeLimitError,
    UnsupportedError,
)
from ivrimeet.objects import LocalStore, ObjectStore, S3Store
from tests.servers.s3 import S3Server

MiB = 1024 * 1024
PART = 5 * MiB


@dataclass
class Backend:
    """A store under test plus a way to look behind it (open multipart uploads)."""

    name: str
    store: ObjectStore
    server: S3Server | None = None
    bucket: str | None = None

    def open_uploads(self) -> list[dict[str, object]]:
        if self.server is None or self.bucket is None:
            return []
        try:
            answer = self.server.admin_client().list_multipart_uploads(Bucket=self.bucket)
        except ClientError as exc:
            # rclone answers NoSuchUpload when a bucket has no upload in progress.
            if exc.response["Error"]["Code"] == "NoSuchUpload":
                return []
            raise
        return list(answer.get("Uploads", []))

    def leftover_files(self) -> list[str]:
        """Temporary files a local store left behind (none expected after any put)."""
        if not isinstance(self.store, LocalStore):
            return []
        incomplete = self.store.root.with_name(self.store.root.name + ".incomplete")
        return [p.name for p in incomplete.iterdir()]


@pytest.fixture(params=["local", "moto", "rclone"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return Backend("local", LocalStore(tmp_path / "objects"))
    server: S3Server = request.getfixturevalue(f"{request.param}_s3")
    connection = server.new_bucket()
    store = S3Store(connection, part_size=PART, concurrency=4, list_page_size=7)
    return Backend(request.param, store, server, connection.bucket)


@pytest.fixture
def store(backend: Backend) -> ObjectStore:
    return backend.store


def pattern(size: int, seed: int = 1) -> bytes:
    """Deterministic, non-repeating-looking bytes (a misplaced part changes the hash)."""
    block = hashlib.sha256(str(seed).encode()).digest() * 4096  # 128 KiB
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += counter.to_bytes(8, "big") + block[: min(len(block), size - len(out) - 8)]
        counter += 1
    return bytes(out[:size])


def in_chunks(data: bytes, chunk: int = 1 * MiB + 17) -> Iterator[bytes]:
    for offset in range(0, len(data), chunk):
        yield data[offset : offset + chunk]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MiB):
            digest.update(block)
    return digest.hexdigest()


# --- round trips ---------------------------------------------------------------


def test_small_bytes_round_trip_with_size_in_head(store: ObjectStore) -> None:
    info = store.put("docs/a.json", b'{"a": 1}', content_type="application/json")

    assert isinstance(store, ObjectStore)
    assert info.size == 8
    assert store.get_bytes("docs/a.json") == b'{"a": 1}'
    assert store.head("docs/a.json").size == 8
    assert store.exists("docs/a.json")


def test_put_overwrites_the_previous_object(store: ObjectStore) -> None:
    store.put("k", b"first version")
    store.put("k", b"second")

    assert store.get_bytes("k") == b"second"


def test_empty_object_round_trips_and_downloads_as_empty_file(
    store: ObjectStore, tmp_path: Path
) -> None:
    store.put("empty", b"")
    target = tmp_path / "empty.bin"

    info = store.download_to_file("empty", target)

    assert store.get_bytes("empty") == b""
    assert info.size == 0
    assert target.read_bytes() == b""


def test_stream_larger_than_a_part_goes_up_as_multipart_and_round_trips(
    backend: Backend, tmp_path: Path
) -> None:
    data = pattern(2 * PART + 12345)
    seen: list[int] = []

    info = backend.store.put("audio/m1/original.wav", in_chunks(data), progress=seen.append)

    assert info.size == len(data)
    assert sum(seen) == len(data)
    assert backend.store.head("audio/m1/original.wav").size == len(data)
    if backend.name == "moto":  # rclone keeps a plain file: its ETag is the whole-file MD5
        etag = backend.store.head("audio/m1/original.wav").etag or ""
        assert etag.endswith("-3"), f"expected a 3-part multipart ETag, got {etag!r}"
    target = tmp_path / "copy.wav"
    backend.store.download_to_file("audio/m1/original.wav", target)
    assert sha256_file(target) == hashlib.sha256(data).hexdigest()
    assert backend.open_uploads() == []


def test_put_from_a_pipe_of_unknown_length_round_trips(store: ObjectStore) -> None:
    data = pattern(PART + 3 * MiB, seed=2)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with open(write_fd, "wb") as sink:
            sink.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with open(read_fd, "rb") as source:
        info = store.put("from-pipe", source)
    writer.join()

    assert info.size == len(data)
    assert store.get_bytes("from-pipe") == data


def test_body_of_exactly_one_part_round_trips(store: ObjectStore) -> None:
    data = pattern(PART, seed=3)

    store.put("exact", iter([data]))

    assert store.get_bytes("exact") == data


# --- downloads -------------------------------------------------------------------


def test_ranged_parallel_download_is_byte_identical_to_the_source(
    store: ObjectStore, tmp_path: Path
) -> None:
    data = pattern(3 * PART + 777, seed=4)
    store.put("models/blobs/x", data)
    (tmp_path / "download").mkdir()
    target = tmp_path / "download" / "x.bin"
    progress: list[int] = []

    info = store.download_to_file("models/blobs/x", target, progress=progress.append)

    assert info.size == len(data)
    assert sum(progress) == len(data)
    assert sha256_file(target) == hashlib.sha256(data).hexdigest()
    assert [p.name for p in target.parent.iterdir()] == ["x.bin"], "a temp file was left"


def test_download_replaces_an_existing_file(store: ObjectStore, tmp_path: Path) -> None:
    store.put("k", b"new content")
    target = tmp_path / "k.bin"
    target.write_bytes(b"old content that is longer than the new one")

    store.download_to_file("k", target)

    assert target.read_bytes() == b"new content"


def test_download_of_a_missing_key_raises_not_found_and_leaves_no_file(
    store: ObjectStore, tmp_path: Path
) -> None:
    target = tmp_path / "download" / "missing.bin"
    target.parent.mkdir()

    with pytest.raises(ObjectNotFoundError):
        store.download_to_file("no/such/key", target)

    assert list(target.parent.iterdir()) == []


def test_get_with_a_range_returns_exactly_those_bytes(store: ObjectStore) -> None:
    data = pattern(2 * MiB, seed=5)
    store.put("ranged", data)

    with store.get("ranged", start=1000, end=1999) as handle:
        middle = handle.read()
    with store.get("ranged", start=len(data) - 10) as handle:
        tail = handle.read()
    with store.get("ranged") as handle:
        whole = b"".join(iter(lambda: handle.read(300_000), b""))

    assert middle == data[1000:2000]
    assert tail == data[-10:]
    assert whole == data


def test_head_get_and_exists_on_a_missing_key(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.head("missing")
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("missing")
    assert not store.exists("missing")


# --- failures leave nothing behind ------------------------------------------------


def test_size_limit_hit_mid_stream_leaves_no_object_and_no_open_upload(
    backend: Backend,
) -> None:
    data = pattern(3 * PART, seed=6)

    with pytest.raises(SizeLimitError, match="larger than the limit of"):
        backend.store.put("too-big", in_chunks(data), max_bytes=2 * PART + 1)

    assert not backend.store.exists("too-big")
    assert backend.open_uploads() == []
    assert backend.leftover_files() == []


def test_size_limit_on_a_single_part_body_leaves_no_object(backend: Backend) -> None:
    with pytest.raises(SizeLimitError):
        backend.store.put("small-but-over", b"x" * 100, max_bytes=99)

    assert not backend.store.exists("small-but-over")


def test_body_exactly_at_the_limit_is_accepted(store: ObjectStore) -> None:
    store.put("at-limit", in_chunks(pattern(PART + 10)), max_bytes=PART + 10)

    assert store.head("at-limit").size == PART + 10


def test_generator_raising_mid_upload_leaves_nothing_behind(backend: Backend) -> None:
    def broken_body() -> Iterator[bytes]:
        yield pattern(PART)
        yield pattern(PART, seed=7)
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        backend.store.put("broken", broken_body())

    assert not backend.store.exists("broken")
    assert backend.open_uploads() == []
    assert backend.leftover_files() == []


def test_keyboard_interrupt_mid_upload_leaves_nothing_behind(backend: Backend) -> None:
    def interrupted_body() -> Iterator[bytes]:
        yield pattern(2 * PART)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backend.store.put("interrupted", interrupted_body())

    assert not backend.store.exists("interrupted")
    assert backend.open_uploads() == []


# --- create-only -------------------------------------------------------------------


def test_create_only_refuses_the_second_write_or_reports_it_cannot(backend: Backend) -> None:
    store = backend.store
    if backend.name == "rclone":
        # rclone serve s3 ignores If-None-Match: * ; the store must say so, not pretend.
        assert store.supports_create_only() is False
        with pytest.raises(CreateOnlyUnsupportedError, match="ignores If-None-Match"):
            store.put_if_absent("manifest.json", b"first")
        assert not store.exists("manifest.json")
    else:
        assert store.supports_create_only() is True
        store.put_if_absent("manifest.json", b"first")
        with pytest.raises(AlreadyExistsError):
            store.put_if_absent("manifest.json", b"second")
        assert store.get_bytes("manifest.json") == b"first"
    assert [info.key for info in store.list("_ivrimeet/")] == [], "the probe was left behind"


def test_concurrent_create_only_writers_have_exactly_one_winner(backend: Backend) -> None:
    if not backend.store.supports_create_only():
        pytest.skip(f"{backend.name} cannot do create-only writes")

    def attempt(n: int) -> bool:
        try:
            backend.store.put_if_absent("lease", f"writer {n}".encode())
        except AlreadyExistsError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))

    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    assert backend.store.get_bytes("lease") == f"writer {winner}".encode()


# --- listing and deleting -------------------------------------------------------------


def test_list_returns_every_key_under_the_prefix_in_order_across_pages(
    store: ObjectStore,
) -> None:
    keys = [f"snippets/m1/speaker-{n:02d}.ogg" for n in range(17)]
    for key in reversed(keys):
        store.put(key, key.encode())
    store.put("snippets/m2/other.ogg", b"x")
    store.put("snippets-not-a-child", b"x")

    listed = list(store.list("snippets/m1/"))

    assert [info.key for info in listed] == keys
    assert [info.size for info in listed] == [len(k) for k in keys]
    assert len(list(store.list(""))) == 19


def test_delete_prefix_removes_exactly_that_prefix(store: ObjectStore) -> None:
    for n in range(9):
        store.put(f"meetings/m1/{n}", b"x")
    store.put("meetings/m10/keep", b"x")
    store.put("meetings/m2/keep", b"x")

    removed = store.delete_prefix("meetings/m1/")

    assert removed == 9
    assert [i.key for i in store.list("meetings/")] == ["meetings/m10/keep", "meetings/m2/keep"]


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put("gone-soon", b"x")

    store.delete("gone-soon")
    store.delete("gone-soon")

    assert not store.exists("gone-soon")


def test_more_than_a_thousand_keys_list_and_delete_in_batches(rclone_s3: S3Server) -> None:
    store = S3Store(rclone_s3.new_bucket(), part_size=PART, concurrency=4)
    keys = [f"many/{n:05d}" for n in range(1003)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.put(k, b""), keys))

    assert [info.key for info in store.list("many/")] == keys
    assert store.delete_prefix("many/") == 1003
    assert list(store.list("")) == []


# --- keys and signed URLs --------------------------------------------------------------


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../../b", "ctl\x00x", "a//b", ""])
def test_hostile_keys_are_refused_before_any_io(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put(key, b"x")
    with pytest.raises(InvalidKeyError):
        store.get_bytes(key)


def test_presigned_get_url_serves_the_object(moto_s3: S3Server) -> None:
    # Only moto: rclone serve s3 does not support presigned URLs, the folder store
    # hands out none (next test).
    store = S3Store(moto_s3.new_bucket())
    data = pattern(100_000, seed=8)
    store.put("media/snippet.ogg", data)

    url = store.presign_get("media/snippet.ogg", expires_seconds=60)

    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310  # http://127.0.0.1 test server
        assert answer.read() == data


def test_local_store_refuses_presign_and_points_at_the_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    store.put("media/snippet.ogg", b"ogg")

    with pytest.raises(UnsupportedError) as raised:
        store.presign_get("media/snippet.ogg", expires_seconds=60)

    assert "media/snippet.ogg" in raised.value.summary
    assert raised.value.hints == (f"read the file at {store.url_for('media/snippet.ogg')} instead",)


def test_rclone_answers_ranged_gets_with_200_and_content_range(rclone_s3: S3Server) -> None:
    """The premise of the 200-with-Content-Range path: rclone really answers that way."""
    connection = rclone_s3.new_bucket()
    store = S3Store(connection, part_size=PART, concurrency=4)
    store.put("k", pattern(PART * 2))
    endpoint = urllib.parse.urlsplit(rclone_s3.endpoint_url)
    request = AWSRequest(
        method="GET",
        url=f"{rclone_s3.endpoint_url}/{connection.bucket}/k",
        headers={"Range": "bytes=10-19"},
    )
    S3SigV4Auth(
        Credentials(rclone_s3.access_key, rclone_s3.secret_key), "s3", rclone_s3.region
    ).add_auth(request)
    conn = http.client.HTTPConnection(endpoint.hostname or "", endpoint.port, timeout=10)
    conn.request("GET", f"/{connection.bucket}/k", headers=dict(request.headers.items()))
    answer = conn.getresponse()
    body = answer.read()
    conn.close()

    assert answer.status == 200
    assert answer.getheader("Content-Range") == f"bytes 10-19/{PART * 2}"
    assert body == pattern(PART * 2)[10:20]
