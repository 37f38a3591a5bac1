"""Restores verify with the BLAKE3 the manifest recorded at fill time; older manifests with SHA-256.

On moto and rclone: a fill records a BLAKE3 per file that matches the published
bytes; a byte flipped in the bucket is refused by the BLAKE3 check (the error
names the BLAKE3 of the bytes the bucket served); a manifest written before
BLAKE3 was recorded still restores and a flipped byte is then caught by
SHA-256; a manifest whose BLAKE3 is malformed is refused; ``verify_models``
checks the recorded BLAKE3 beside the blob's name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3
import pytest

from ivrimeet.errors import IntegrityError, IvrimeetError
from ivrimeet.models import materialize
from ivrimeet.models.inventory import verify_models
from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.leftovers import files_left
from tests.faults.models_support import (
    BIG_FILE,
    LAYOUT,
    FaultRepo,
    check_loaded,
    make_model_store,
)
from tests.servers.hub import StandInHub
from tests.servers.s3 import S3Server

MiB = 1024 * 1024
SMALL_FILE = "extra/b.bin"


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def server(request: pytest.FixtureRequest) -> S3Server:
    found: S3Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def objects(server: S3Server) -> S3Store:
    connection = server.new_bucket("blake3")
    # 5 MiB parts: the 10 MiB weights come down as parallel ranged GETs.
    return S3Store(connection, part_size=5 * MiB, concurrency=2)


def _load(objects: S3Store, hub: StandInHub, repo: FaultRepo, tmp_dir: Path) -> None:
    ledger.load()
    with materialize(make_model_store(objects, hub.endpoint, tmp_dir), repo.repo_id) as model:
        check_loaded(model.snapshot, repo)


def _manifest_key(repo: FaultRepo) -> str:
    return LAYOUT.manifest(repo.repo_id, repo.commit)


def _rewrite_manifest(
    server: S3Server, objects: S3Store, repo: FaultRepo, change: Callable[[dict[str, Any]], None]
) -> None:
    """Edit each file entry of the stored manifest as someone with bucket access would."""
    key = _manifest_key(repo)
    raw = json.loads(objects.get_bytes(key))
    for entry in raw["files"]:
        change(entry)
    server.admin_client().put_object(
        Bucket=objects.connection.bucket, Key=key, Body=json.dumps(raw).encode()
    )


def _flip(server: S3Server, objects: S3Store, repo: FaultRepo, path: str) -> bytes:
    """Flip one bit in the middle of ``path``'s blob in the bucket; return the new body."""
    body = bytearray(repo.files[path])
    body[len(body) // 2] ^= 0x01
    server.admin_client().put_object(
        Bucket=objects.connection.bucket, Key=LAYOUT.blob(repo.sha256(path)), Body=bytes(body)
    )
    ledger.fault("corrupt blob")
    return bytes(body)


@pytest.mark.parametrize("path", [BIG_FILE, SMALL_FILE], ids=["ranged-blob", "streamed-blob"])
def test_a_fill_records_blake3_and_a_flipped_blob_is_refused_by_it(
    server: S3Server,
    objects: S3Store,
    hub: StandInHub,
    repo: FaultRepo,
    tmp_dir: Path,
    path: str,
) -> None:
    _load(objects, hub, repo, tmp_dir)
    stored = json.loads(objects.get_bytes(_manifest_key(repo)))
    assert {f["path"]: f["blake3"] for f in stored["files"]} == {
        name: blake3.blake3(body).hexdigest() for name, body in repo.files.items()
    }
    flipped = _flip(server, objects, repo, path)
    hub.outage = True

    with pytest.raises(IntegrityError) as caught:
        _load(objects, hub, repo, tmp_dir)

    key = LAYOUT.blob(repo.sha256(path))
    summary = caught.value.summary
    assert summary.startswith(f"Blob s3://{objects.connection.bucket}/{key} of "), summary
    assert f"with BLAKE3 {blake3.blake3(flipped).hexdigest()}, expected" in summary, summary
    assert files_left(tmp_dir) == []


def test_a_manifest_without_blake3_restores_and_is_verified_with_sha256(
    server: S3Server, objects: S3Store, hub: StandInHub, repo: FaultRepo, tmp_dir: Path
) -> None:
    """Manifests filled before BLAKE3 was recorded: restored as before, SHA-256 checked."""
    _load(objects, hub, repo, tmp_dir)
    _rewrite_manifest(server, objects, repo, lambda entry: entry.pop("blake3"))
    hub.outage = True

    _load(objects, hub, repo, tmp_dir)  # intact: restores from the bucket alone

    flipped = _flip(server, objects, repo, BIG_FILE)
    with pytest.raises(IntegrityError) as caught:
        _load(objects, hub, repo, tmp_dir)

    summary = caught.value.summary
    assert f"hashing to {hashlib.sha256(flipped).hexdigest()}, expected" in summary, summary
    assert "BLAKE3" not in summary
    assert files_left(tmp_dir) == []


def test_a_stored_manifest_with_a_malformed_blake3_is_refused(
    server: S3Server, objects: S3Store, hub: StandInHub, repo: FaultRepo, tmp_dir: Path
) -> None:
    _load(objects, hub, repo, tmp_dir)

    def malform(entry: dict[str, Any]) -> None:
        entry["blake3"] = entry["blake3"].upper()

    _rewrite_manifest(server, objects, repo, malform)
    ledger.fault("tampered manifest")
    hub.outage = True

    with pytest.raises(IvrimeetError) as caught:
        _load(objects, hub, repo, tmp_dir)

    rendered = caught.value.render()
    assert "Refusing blake3" in rendered, rendered
    assert _manifest_key(repo) in rendered, rendered
    assert files_left(tmp_dir) == []


def test_verify_checks_the_recorded_blake3_beside_the_blobs_name(
    server: S3Server, objects: S3Store, hub: StandInHub, repo: FaultRepo, tmp_dir: Path
) -> None:
    _load(objects, hub, repo, tmp_dir)
    store = make_model_store(objects, hub.endpoint, tmp_dir)
    assert verify_models(store).problems == ()
    wrong = blake3.blake3(b"other bytes").hexdigest()

    def record_wrong(entry: dict[str, Any]) -> None:
        if entry["path"] == BIG_FILE:
            entry["blake3"] = wrong

    _rewrite_manifest(server, objects, repo, record_wrong)
    ledger.fault("tampered manifest")

    report = verify_models(store)

    assert [p.key for p in report.problems] == [LAYOUT.blob(repo.sha256(BIG_FILE))]
    problem = report.problems[0].problem
    assert problem.startswith("hashes to its name but to BLAKE3 "), problem
    assert objects.url_for(_manifest_key(repo)) in problem
    # A restore refuses the blob too; with Hugging Face down that is the heal path's error.
    hub.outage = True
    with pytest.raises(IntegrityError, match=f"expected {10 * MiB} bytes with {wrong}"):
        _load(objects, hub, repo, tmp_dir)
