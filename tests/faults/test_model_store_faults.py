"""The model store under faults: cut and stalled sockets, corrupt and missing blobs, full disks,
S3 and Hugging Face refusing connections. A load either hands out exactly the published bytes or
fails with one clear error; the temporary cache is always gone afterwards."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ivrimeet.errors import (
    DiskFullError,
    HubUnavailableError,
    IntegrityError,
)
from ivrimeet.models import materialize
from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.diskfull import SmallFilesystem
from tests.faults.leftovers import files_left
from tests.faults.models_support import (
    BIG_FILE,
    LAYOUT,
    FaultRepo,
    check_loaded,
    make_model_store,
    publish_fault_repo,
    verify_bucket,
)
from tests.faults.proxy import FaultProxy, port_of
from tests.servers.hub import StandInHub
from tests.waiting import wait_until

MiB = 1024 * 1024
SMALL_FILE = "extra/b.bin"
IN_MEMORY_FILE = "tokenizer/vocab.txt"  # 300 KiB: under SMALL_BLOB_BYTES, read into memory
# (blob, where the connection is cut): the 10 MiB and 3 MiB blobs take parallel ranged
# GETs, the 300 KiB one a single GET on a pooled connection.
CUT_BLOBS = [(BIG_FILE, MiB), (SMALL_FILE, MiB), (IN_MEMORY_FILE, 100 * 1024)]
CUT_IDS = ["10mib-ranged", "3mib-ranged", "300kib-in-memory"]
# A streamed read resumes from the byte it reached for as long as each try makes
# progress; cut before the first byte, the in-memory read has nothing to resume.
CUT_EVERY_TRY = [(BIG_FILE, MiB), (SMALL_FILE, MiB), (IN_MEMORY_FILE, 0)]


def _objects(proxied: ProxiedBucket, **overrides: object) -> S3Store:
    connection = proxied.connection(**{"max_attempts": 3, "read_timeout": 2.0, **overrides})
    return S3Store(connection, part_size=5 * MiB, concurrency=2)


def _fill(proxied: ProxiedBucket, hub: StandInHub, repo: FaultRepo, tmp_dir: Path) -> None:
    """Store ``repo`` in the bucket (no faults), then forget the Hub's request log."""
    store = make_model_store(_objects(proxied), hub.endpoint, tmp_dir)
    with materialize(store, repo.repo_id) as model:
        check_loaded(model.snapshot, repo)
    hub.reset()


def _load(store, repo: FaultRepo) -> None:  # type: ignore[no-untyped-def]
    ledger.load()
    with materialize(store, repo.repo_id) as model:
        check_loaded(model.snapshot, repo)


def _blob_get(proxied: ProxiedBucket, repo: FaultRepo, path: str) -> str:
    return f"GET /{proxied.bucket}/{LAYOUT.blob(repo.sha256(path))}"


@pytest.mark.parametrize(("path", "cut_after"), CUT_BLOBS, ids=CUT_IDS)
def test_connection_cut_mid_blob_is_retried_and_loads_the_exact_bytes(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    path: str,
    cut_after: int,
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    proxied_moto.proxy.cut(cut_after, request=_blob_get(proxied_moto, repo, path), times=1)
    store = make_model_store(_objects(proxied_moto), hub.endpoint, tmp_dir)

    _load(store, repo)

    assert proxied_moto.proxy.faults == 1
    assert hub.count("/resolve/") == 0
    assert files_left(tmp_dir) == []


@pytest.mark.parametrize(("path", "cut_after"), CUT_EVERY_TRY, ids=CUT_IDS)
def test_blob_cut_on_every_attempt_with_hub_down_is_one_clear_error(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    path: str,
    cut_after: int,
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    proxied_moto.proxy.cut(cut_after, request=_blob_get(proxied_moto, repo, path), times=None)
    hub.outage = True
    store = make_model_store(_objects(proxied_moto, max_attempts=2), hub.endpoint, tmp_dir)

    with pytest.raises(HubUnavailableError) as caught:
        _load(store, repo)

    key = LAYOUT.blob(repo.sha256(path))
    assert "not from the bucket, not from Hugging Face" in caught.value.summary
    assert key in caught.value.render()
    assert files_left(tmp_dir) == []


@pytest.mark.parametrize("path", [BIG_FILE, SMALL_FILE], ids=["ranged-blob", "streamed-blob"])
def test_bucket_failing_mid_restore_falls_back_to_hugging_face_with_a_warning(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    path: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    proxied_moto.proxy.cut(MiB, request=_blob_get(proxied_moto, repo, path), times=None)
    ledger.fault("s3 down")
    store = make_model_store(_objects(proxied_moto, max_attempts=2), hub.endpoint, tmp_dir)

    with caplog.at_level(logging.WARNING):
        _load(store, repo)

    warnings = [m for m in caplog.messages if m.startswith("model.restore_failed")]
    assert len(warnings) == 1
    assert "falling_back=huggingface" in warnings[0]
    assert hub.count("/resolve/") >= len(repo.files)
    assert files_left(tmp_dir) == []


@pytest.mark.parametrize("path", [BIG_FILE, SMALL_FILE, IN_MEMORY_FILE, "config.json"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_flipped_byte_in_any_blob_is_detected_every_time(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    path: str,
    where: str,
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    key = LAYOUT.blob(repo.sha256(path))
    body = bytearray(repo.files[path])
    position = {"first": 0, "middle": len(body) // 2, "last": len(body) - 1}[where]
    body[position] ^= 0x01
    proxied_moto.admin().put_object(Bucket=proxied_moto.bucket, Key=key, Body=bytes(body))
    ledger.fault("corrupt blob")
    hub.outage = True
    store = make_model_store(_objects(proxied_moto), hub.endpoint, tmp_dir)

    with pytest.raises(IntegrityError) as caught:
        _load(store, repo)

    assert caught.value.summary.startswith(f"Blob s3://{proxied_moto.bucket}/{key} of ")
    assert files_left(tmp_dir) == []


@pytest.mark.parametrize("change", ["grown", "shrunk"])
@pytest.mark.parametrize("path", [IN_MEMORY_FILE, SMALL_FILE])
def test_a_blob_of_the_wrong_size_is_refused_without_reading_past_its_size(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    path: str,
    change: str,
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    key = LAYOUT.blob(repo.sha256(path))
    body = repo.files[path]
    # Grown by 4 MiB: the in-memory path reads at most size + 1 bytes of it.
    body = body + b"x" * (4 * MiB) if change == "grown" else body[:-1]
    proxied_moto.admin().put_object(Bucket=proxied_moto.bucket, Key=key, Body=body)
    ledger.fault("corrupt blob")
    hub.outage = True
    store = make_model_store(_objects(proxied_moto), hub.endpoint, tmp_dir)

    with pytest.raises(IntegrityError) as caught:
        _load(store, repo)

    size = len(repo.files[path])
    assert caught.value.summary.startswith(f"Blob s3://{proxied_moto.bucket}/{key} of ")
    if path == IN_MEMORY_FILE and change == "grown":
        assert f"is {size + 1} bytes" in caught.value.render()
    assert files_left(tmp_dir) == []


def test_a_corrupt_blob_is_healed_from_the_hub_and_the_bucket_verifies_again(
    proxied_moto: ProxiedBucket, hub: StandInHub, repo: FaultRepo, tmp_dir: Path
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    key = LAYOUT.blob(repo.sha256(BIG_FILE))
    body = bytearray(repo.files[BIG_FILE])
    body[12345] ^= 0xFF
    proxied_moto.admin().put_object(Bucket=proxied_moto.bucket, Key=key, Body=bytes(body))
    ledger.fault("corrupt blob")
    objects = _objects(proxied_moto)
    assert verify_bucket(objects) != []

    _load(make_model_store(objects, hub.endpoint, tmp_dir), repo)

    assert verify_bucket(objects) == []
    assert hub.count(f"/{BIG_FILE}") >= 1


def test_manifest_whose_blob_is_missing_refills_it_from_the_hub(
    proxied_moto: ProxiedBucket, hub: StandInHub, repo: FaultRepo, tmp_dir: Path
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    key = LAYOUT.blob(repo.sha256(SMALL_FILE))
    proxied_moto.admin().delete_object(Bucket=proxied_moto.bucket, Key=key)
    ledger.fault("missing blob")
    objects = _objects(proxied_moto)

    _load(make_model_store(objects, hub.endpoint, tmp_dir), repo)

    assert objects.exists(key)
    assert verify_bucket(objects) == []
    assert files_left(tmp_dir) == []


@pytest.mark.parametrize("big", [True, False], ids=["ranged-blob", "streamed-blobs"])
def test_disk_filling_up_during_a_restore_is_a_clear_error_and_the_temp_dir_goes(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    tmp_path: Path,
    small_disk: Callable[[int], SmallFilesystem],
    big: bool,
) -> None:
    """The free-space check passes, then the disk fills while the blobs are on their way."""
    repo = publish_fault_repo(hub, tmp_path / "repos", big=big)
    _fill(proxied_moto, hub, repo, tmp_path / "fill-tmp")
    disk = small_disk(96 * MiB)
    # Hold every blob GET until the disk is full.
    proxied_moto.proxy.stall(0, request=f"GET /{proxied_moto.bucket}/models/blobs/", times=None)
    hub.outage = True
    store = make_model_store(_objects(proxied_moto, read_timeout=5.0), hub.endpoint, disk.path)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            _load(store, repo)
        except BaseException as exc:  # noqa: BLE001  # inspected by the test thread
            errors.append(exc)

    thread = threading.Thread(target=load)
    thread.start()
    wait_until(lambda: proxied_moto.proxy.faults >= 1, timeout=20, message="a blob GET stalled")
    disk.leave_free(256 * 1024)
    proxied_moto.proxy.clear()
    thread.join(timeout=60)

    assert len(errors) == 1, errors
    error = errors[0]
    assert isinstance(error, DiskFullError), repr(error)
    assert str(disk.path) in error.summary
    assert "free space on that volume or point IVRIMEET_TMP_DIR elsewhere" in error.render()
    assert files_left(disk.path, "ivrimeet-hfcache-*") == []


def test_too_little_disk_for_a_restore_is_refused_before_any_download(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    small_disk: Callable[[int], SmallFilesystem],
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    disk = small_disk(32 * MiB)
    ledger.fault("disk full")
    before = proxied_moto.proxy.bytes_down
    store = make_model_store(_objects(proxied_moto), hub.endpoint, disk.path)

    with pytest.raises(DiskFullError) as caught:
        _load(store, repo)

    assert caught.value.summary.startswith(f"Not enough free disk under {disk.path}/ivrimeet-")
    assert proxied_moto.proxy.bytes_down - before < MiB, "no blob was downloaded"
    assert disk.entries() == []


# --- S3 and Hugging Face refusing connections -------------------------------------------


@pytest.fixture
def hub_proxy(hub: StandInHub, fault_proxy: Callable[[int], FaultProxy]) -> FaultProxy:
    return fault_proxy(port_of(hub.endpoint))


def test_hugging_face_refusing_connections_does_not_matter_when_the_bucket_has_the_model(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    hub_proxy: FaultProxy,
    repo: FaultRepo,
    tmp_dir: Path,
) -> None:
    _fill(proxied_moto, hub, repo, tmp_dir)
    hub_proxy.refuse()
    ledger.fault("hf down")

    _load(make_model_store(_objects(proxied_moto), hub_proxy.url, tmp_dir), repo)

    assert hub.requests == []


def test_s3_refusing_connections_falls_back_to_hugging_face_with_a_warning(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxied_moto.proxy.refuse()
    ledger.fault("s3 down")
    store = make_model_store(_objects(proxied_moto, max_attempts=1), hub.endpoint, tmp_dir)

    with caplog.at_level(logging.WARNING):
        _load(store, repo)

    warnings = [m for m in caplog.messages if m.startswith("model.bucket_unavailable")]
    assert len(warnings) == 1
    assert f"repo={repo.repo_id}" in warnings[0]
    assert "falling_back=huggingface" in warnings[0]
    assert hub.count("/resolve/") >= len(repo.files)
    assert files_left(tmp_dir) == []


def test_s3_and_hugging_face_both_refusing_is_one_fast_error_naming_both(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    hub_proxy: FaultProxy,
    repo: FaultRepo,
    tmp_dir: Path,
) -> None:
    proxied_moto.proxy.refuse()
    hub_proxy.refuse()
    ledger.fault("s3 down")
    ledger.fault("hf down")
    store = make_model_store(_objects(proxied_moto, max_attempts=1), hub_proxy.url, tmp_dir)
    started = time.monotonic()

    with pytest.raises(HubUnavailableError) as caught:
        _load(store, repo)

    assert time.monotonic() - started < 10, "no long retry loop against a refused port"
    error = caught.value
    assert error.summary == (
        f"Cannot load {repo.repo_id}@main: not from the bucket, not from Hugging Face."
    )
    assert error.details[0].startswith(f"bucket s3://{proxied_moto.bucket}/models/: ")
    assert "cannot connect to the S3 endpoint" in error.details[0]
    assert error.details[1].startswith(f"Hugging Face {hub_proxy.url}: ")
    assert files_left(tmp_dir) == []
