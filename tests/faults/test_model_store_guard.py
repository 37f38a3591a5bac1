"""A hostile hyperparams.yaml, on the Hub or in the bucket, runs nothing and is never stored.

The adversarial run's bypass: ``!apply:torch.nn.parallel.distributed.os.system`` passed a
prefix allowlist ("torch.nn.") while HyperPyYAML's ``pydoc.locate`` resolved it to
``os.system``; ``models pull`` stored it and every later restore ran it. The guard now
checks the object each target resolves to, on fill and on restore.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import blake3
import pytest

from ivrimeet.errors import InvalidInputError
from ivrimeet.models import load_speaker_encoder, pull
from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.leftovers import files_left
from tests.faults.models_support import LAYOUT, make_model_store
from tests.hubrepos import SPEECHBRAIN_ECAPA
from tests.servers.hub import StandInHub

pytestmark = pytest.mark.slow

VARIANTS = {
    "module-attribute bypass": '!apply:torch.nn.parallel.distributed.os.system ["touch {m}"]',
    "builtins fallback": "!apply:eval [\"__import__('os').system('touch {m}')\"]",
    "speechbrain module attribute": (
        '!apply:speechbrain.utils.superpowers.subprocess.run [["touch", "{m}"]]'
    ),
    "functools.partial chain": (
        '!new:functools.partial [!name:functools.partial [!name:os.system ["touch {m}"]]]'
    ),
}


def _evil(text: str, variant: str, marker: Path) -> str:
    return text + f"\nadv_probe: {VARIANTS[variant].format(m=marker)}\n"


def _objects(proxied: ProxiedBucket) -> S3Store:
    return S3Store(proxied.server.connection(proxied.bucket))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_hostile_repo_on_the_hub_is_refused_runs_nothing_and_stores_nothing(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    hub_repo_folders: dict[str, Path],
    tmp_path: Path,
    tmp_dir: Path,
    variant: str,
) -> None:
    marker = tmp_path / "ran"
    folder = tmp_path / "evil"
    shutil.copytree(hub_repo_folders[SPEECHBRAIN_ECAPA], folder)
    hyperparams = folder / "hyperparams.yaml"
    hyperparams.write_text(_evil(hyperparams.read_text(), variant, marker))
    repo = f"ivrimeet-test/speechbrain-evil-{uuid.uuid4().hex[:8]}"
    hub.publish(repo, folder)
    objects = _objects(proxied_moto)
    store = make_model_store(objects, hub.endpoint, tmp_dir)
    ledger.fault("hostile hyperparams on the Hub")

    ledger.load()
    with pytest.raises(InvalidInputError, match=r"Refusing .*hyperparams\.yaml"):
        pull(store, repo, kind="encoder")

    assert not marker.exists(), "the command in hyperparams.yaml ran"
    assert list(objects.list(LAYOUT.prefix)) == [], "something was stored"
    assert files_left(tmp_dir) == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_hostile_hyperparams_swapped_into_the_bucket_is_refused_on_restore(
    proxied_moto: ProxiedBucket, hub: StandInHub, tmp_path: Path, tmp_dir: Path, variant: str
) -> None:
    objects = _objects(proxied_moto)
    store = make_model_store(objects, hub.endpoint, tmp_dir)
    load_speaker_encoder(store, SPEECHBRAIN_ECAPA)
    marker = tmp_path / "ran"
    key = LAYOUT.manifest(SPEECHBRAIN_ECAPA, hub.commit(SPEECHBRAIN_ECAPA))
    manifest = json.loads(objects.get_bytes(key))
    [entry] = [f for f in manifest["files"] if f["path"] == "hyperparams.yaml"]
    body = _evil(objects.get_bytes(LAYOUT.blob(entry["sha256"])).decode(), variant, marker)
    # Done as an attacker with write access would: blob and manifest hashes consistent.
    entry["sha256"] = hashlib.sha256(body.encode()).hexdigest()
    entry["size"] = len(body.encode())
    if "blake3" in entry:
        entry["blake3"] = blake3.blake3(body.encode()).hexdigest()
    objects.put(LAYOUT.blob(entry["sha256"]), body.encode())
    objects.put(key, json.dumps(manifest).encode())
    ledger.fault("hostile hyperparams in the bucket")
    hub.outage = True  # nothing to heal from: the bucket's copy is what would run

    ledger.load()
    with pytest.raises(InvalidInputError, match=r"Refusing .*hyperparams\.yaml"):
        load_speaker_encoder(store, SPEECHBRAIN_ECAPA)

    assert not marker.exists(), "the command in hyperparams.yaml ran"
    assert files_left(tmp_dir) == []
