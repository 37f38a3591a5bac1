"""Object transfers over real broken sockets: retried, or a clear error, never a truncated file.

The fault proxy sits between ``S3Store`` and moto or rclone; leftovers are
checked on the server directly (objects, open multipart uploads) and on disk
(temporary ``.incomplete`` files).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from ivrimeet.errors import StorageUnavailableError
from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.leftovers import files_left, objects_left, uploads_left

MiB = 1024 * 1024
PART = 5 * MiB
BODY = os.urandom(3 * PART + 123_457)  # four ranged parts, the last one short
KEY = "audio/fault/original.wav"


def _store(proxied: ProxiedBucket, **overrides: object) -> S3Store:
    return S3Store(
        proxied.connection(**{"max_attempts": 3, **overrides}), part_size=PART, concurrency=2
    )


def _seed(proxied: ProxiedBucket) -> None:
    proxied.admin().put_object(Bucket=proxied.bucket, Key=KEY, Body=BODY)


def _download(store: S3Store, target: Path) -> None:
    ledger.load()
    store.download_to_file(KEY, target)
    if target.read_bytes() != BODY:
        ledger.corrupt_load()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("server", ["proxied_moto", "proxied_rclone"])
def test_download_cut_mid_part_is_retried_and_the_file_is_whole(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    proxied: ProxiedBucket = request.getfixturevalue(server)
    _seed(proxied)
    # Two of the ranged GETs lose their connection 1 MiB into the body.
    proxied.proxy.cut(MiB, request=f"GET /{proxied.bucket}/{KEY}", times=2)
    target = tmp_path / "out" / "recording.wav"
    target.parent.mkdir()

    _download(_store(proxied), target)

    assert _sha(target.read_bytes()) == _sha(BODY)
    assert proxied.proxy.faults == 2
    assert files_left(target.parent, "*.incomplete") == []


def test_download_cut_on_every_attempt_fails_clearly_and_leaves_no_file(
    proxied_moto: ProxiedBucket, tmp_path: Path
) -> None:
    _seed(proxied_moto)
    proxied_moto.proxy.cut(MiB, request=f"GET /{proxied_moto.bucket}/{KEY}", times=None)
    target = tmp_path / "recording.wav"

    with pytest.raises(StorageUnavailableError) as caught:
        _download(_store(proxied_moto, max_attempts=2), target)

    assert caught.value.summary == (
        f"Cannot read s3://{proxied_moto.bucket}/{KEY}: the connection to "
        f"{proxied_moto.proxy.url}/{proxied_moto.bucket}/{KEY} failed after retries."
    )
    assert caught.value.hints == ("wait and retry; check the server's health and the network",)
    assert not target.exists()
    assert files_left(tmp_path) == []


def test_download_from_a_stalled_server_times_out_retries_and_completes(
    proxied_moto: ProxiedBucket, tmp_path: Path
) -> None:
    _seed(proxied_moto)
    proxied_moto.proxy.stall(2 * MiB, request=f"GET /{proxied_moto.bucket}/{KEY}", times=1)
    target = tmp_path / "recording.wav"

    _download(_store(proxied_moto, read_timeout=0.5), target)

    assert target.read_bytes() == BODY
    assert proxied_moto.proxy.faults == 1
    assert files_left(tmp_path, ".*") == []


def test_download_while_s3_is_down_names_the_endpoint_and_leaves_nothing(
    proxied_moto: ProxiedBucket, tmp_path: Path
) -> None:
    _seed(proxied_moto)
    store = _store(proxied_moto, max_attempts=2)
    proxied_moto.proxy.refuse()
    ledger.fault("s3 down")
    target = tmp_path / "recording.wav"

    with pytest.raises(StorageUnavailableError) as caught:
        _download(store, target)

    assert caught.value.summary == (
        f"Cannot read s3://{proxied_moto.bucket}/{KEY}: cannot connect to the S3 endpoint "
        f"{proxied_moto.proxy.url}/{proxied_moto.bucket}/{KEY}."
    )
    assert caught.value.hints[0] == (
        "check S3_ENDPOINT_URL (scheme, host and port) and that the server is running"
    )
    assert files_left(tmp_path) == []


@pytest.mark.parametrize("server", ["proxied_moto", "proxied_rclone"])
def test_upload_cut_in_one_part_is_retried_and_stores_the_whole_object(
    server: str, request: pytest.FixtureRequest
) -> None:
    proxied: ProxiedBucket = request.getfixturevalue(server)
    proxied.proxy.cut(MiB, request="partNumber=2", direction="up", times=1)
    store = _store(proxied)

    ledger.upload()
    store.put(KEY, BODY)

    stored = proxied.admin().get_object(Bucket=proxied.bucket, Key=KEY)["Body"].read()
    assert _sha(stored) == _sha(BODY)
    assert proxied.proxy.faults == 1
    assert uploads_left(proxied.server, proxied.bucket) == []


@pytest.mark.parametrize("server", ["proxied_moto", "proxied_rclone"])
def test_upload_whose_part_never_gets_through_fails_and_leaves_no_object_or_upload(
    server: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    proxied: ProxiedBucket = request.getfixturevalue(server)
    proxied.proxy.cut(MiB, request="partNumber=3", direction="up", times=None)
    store = _store(proxied, max_attempts=2)

    ledger.upload()
    with caplog.at_level(logging.INFO), pytest.raises(StorageUnavailableError) as caught:
        store.put(KEY, BODY)

    assert caught.value.summary.startswith(f"Cannot write s3://{proxied.bucket}/{KEY}: ")
    assert caught.value.operation == "UploadPart"
    assert f"object.aborted key={KEY}" in caplog.messages
    assert objects_left(proxied.server, proxied.bucket) == []
    assert uploads_left(proxied.server, proxied.bucket) == []


def test_upload_while_s3_is_down_fails_at_once_and_creates_nothing(
    proxied_moto: ProxiedBucket,
) -> None:
    store = _store(proxied_moto, max_attempts=2)
    proxied_moto.proxy.refuse()
    ledger.fault("s3 down")

    ledger.upload()
    with pytest.raises(StorageUnavailableError) as caught:
        store.put(KEY, BODY)

    assert caught.value.summary == (
        f"Cannot write s3://{proxied_moto.bucket}/{KEY}: cannot connect to the S3 endpoint "
        f"{proxied_moto.proxy.url}/{proxied_moto.bucket}/{KEY}."
    )
    proxied_moto.proxy.accept()
    assert objects_left(proxied_moto.server, proxied_moto.bucket) == []
    assert uploads_left(proxied_moto.server, proxied_moto.bucket) == []


def test_upload_when_s3_dies_after_the_first_part_warns_that_the_upload_stays_open(
    proxied_moto: ProxiedBucket, caplog: pytest.LogCaptureFixture
) -> None:
    """No abort can reach a dead server: the log must say what will clean up."""
    store = _store(proxied_moto, max_attempts=2)
    proxied_moto.proxy.cut(0, request="partNumber=2", direction="up", times=None)
    proxied_moto.proxy.cut(0, request="partNumber=3", direction="up", times=None)
    proxied_moto.proxy.cut(0, request="DELETE", direction="up", times=None)

    ledger.upload()
    with caplog.at_level(logging.INFO), pytest.raises(StorageUnavailableError):
        store.put(KEY, BODY)

    warnings = [m for m in caplog.messages if m.startswith("object.abort_failed")]
    assert len(warnings) == 1, caplog.messages
    assert "lifecycle" in warnings[0]
    assert objects_left(proxied_moto.server, proxied_moto.bucket) == []
    # The open upload is the one thing a dead server leaves; abort it as the rule would.
    admin = proxied_moto.admin()
    for upload in proxied_moto.server.list_multipart_uploads(proxied_moto.bucket):
        admin.abort_multipart_upload(
            Bucket=proxied_moto.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
