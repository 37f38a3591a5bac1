"""A model repo made for fault cases, stores reached through proxies, and a bucket check.

``FAULT_REPO_FILES``: one 10 MiB weight file (restored with parallel ranged GETs)
and a few small ones (restored as one streaming GET each), so a cut can be aimed
at either path. ``fault_repo`` publishes it on the Hub stand-in under a fresh id.

``verify_bucket(store)`` re-hashes every blob every manifest names (SHA-256, and
BLAKE3 where recorded): the same check as ``ivrimeet models verify``, done from
the test side.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import blake3

from ivrimeet.models import HubAccess, ModelStore
from ivrimeet.models.layout import BucketLayout
from ivrimeet.objects.store import ObjectStore
from tests.faults import ledger
from tests.servers.hub import TEST_TOKEN, StandInHub

__all__ = [
    "BIG_FILE",
    "LAYOUT",
    "FaultRepo",
    "check_loaded",
    "make_model_store",
    "publish_fault_repo",
    "verify_bucket",
]

MiB = 1024 * 1024
LAYOUT = BucketLayout("models/")
BIG_FILE = "weights.bin"


@dataclass(frozen=True)
class FaultRepo:
    """A published repo: its id, commit and the bytes of each file."""

    repo_id: str
    commit: str
    files: dict[str, bytes]

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()


def publish_fault_repo(hub: StandInHub, root: Path, *, big: bool = True) -> FaultRepo:
    """Write and publish a fresh repo (``big``: with the 10 MiB ``weights.bin``)."""
    files = {
        "config.json": json.dumps({"model_type": "ivrimeet-faults"}).encode(),
        "tokenizer/vocab.txt": os.urandom(300 * 1024),
        "extra/a.bin": os.urandom(2 * MiB),
        "extra/b.bin": os.urandom(3 * MiB),
    }
    if big:
        files[BIG_FILE] = os.urandom(10 * MiB)
    repo_id = f"ivrimeet-test/faults-{uuid.uuid4().hex[:12]}"
    folder = root / repo_id
    for path, body in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(body)
    commit = hub.publish(repo_id, folder)
    return FaultRepo(repo_id, commit, files)


def make_model_store(
    objects: ObjectStore, hub_endpoint: str, tmp_dir: Path, **options: object
) -> ModelStore:
    return ModelStore(
        objects,
        hub=HubAccess(endpoint=hub_endpoint, token=TEST_TOKEN),
        tmp_dir=tmp_dir,
        concurrency=4,
        **options,  # type: ignore[arg-type]
    )


def check_loaded(snapshot: Path, repo: FaultRepo) -> None:
    """Every file a load handed out must be byte for byte the published one."""
    for path, body in repo.files.items():
        if (snapshot / path).read_bytes() != body:
            ledger.corrupt_load()
            raise AssertionError(f"{path} was loaded with other bytes than published")


def verify_bucket(objects: ObjectStore) -> list[str]:
    """Problems found re-hashing every blob that a stored manifest names ([] when sound)."""
    problems: list[str] = []
    for info in objects.list(LAYOUT.prefix + "manifests/"):
        manifest = json.loads(objects.get_bytes(info.key))
        for entry in manifest["files"]:
            key = LAYOUT.blob(entry["sha256"])
            try:
                body = objects.get_bytes(key)
            except FileNotFoundError:
                problems.append(f"{info.key}: {key} missing")
                continue
            if hashlib.sha256(body).hexdigest() != entry["sha256"]:
                problems.append(f"{info.key}: {key} does not hash to its name")
            elif "blake3" in entry and blake3.blake3(body).hexdigest() != entry["blake3"]:
                problems.append(f"{info.key}: {key} does not hash to the recorded BLAKE3")
    return problems
