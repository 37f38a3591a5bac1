"""A tampered bucket must not make a loader run code or write outside its cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import blake3
import pytest

from ivrimeet.errors import InvalidInputError, InvalidRepoIdError
from ivrimeet.models import load_diarization_pipeline, load_speaker_encoder, materialize
from ivrimeet.models.layout import BucketLayout
from ivrimeet.objects import LocalStore
from tests.hubrepos import PIPELINE, SAFETENSORS, SPEECHBRAIN_ECAPA
from tests.integration.model_store_support import make_store
from tests.servers.hub import StandInHub

pytestmark = pytest.mark.slow

LAYOUT = BucketLayout("models/")


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def objects(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


def _replace_file(objects: LocalStore, repo: str, commit: str, path: str, body: bytes) -> None:
    """Swap one file of a stored closure, consistently: new blob, manifest pointing to it."""
    key = LAYOUT.manifest(repo, commit)
    manifest = json.loads(objects.get_bytes(key))
    digest = hashlib.sha256(body).hexdigest()
    for entry in manifest["files"]:
        if entry["path"] == path:
            entry["sha256"], entry["size"] = digest, len(body)
            if "blake3" in entry:  # an attacker who rewrites the manifest rewrites this too
                entry["blake3"] = blake3.blake3(body).hexdigest()
    objects.put(LAYOUT.blob(digest), body)
    objects.put(key, json.dumps(manifest).encode())


def test_tampered_hyperparams_naming_os_system_is_refused_before_anything_runs(
    objects: LocalStore, hub: StandInHub, tmp_dir: Path, tmp_path: Path
) -> None:
    store = make_store(objects, hub, tmp_dir)
    load_speaker_encoder(store, SPEECHBRAIN_ECAPA)
    marker = tmp_path / "pwned"
    commit = hub.commit(SPEECHBRAIN_ECAPA)
    snapshot_key = LAYOUT.manifest(SPEECHBRAIN_ECAPA, commit)
    original = next(
        f
        for f in json.loads(objects.get_bytes(snapshot_key))["files"]
        if f["path"] == "hyperparams.yaml"
    )
    text = objects.get_bytes(LAYOUT.blob(original["sha256"])).decode()
    evil = text + f'\nboom: !apply:os.system ["touch {marker}"]\n'
    _replace_file(objects, SPEECHBRAIN_ECAPA, commit, "hyperparams.yaml", evil.encode())

    with pytest.raises(InvalidInputError, match=r"os\.system"):
        load_speaker_encoder(store, SPEECHBRAIN_ECAPA)

    assert not marker.exists()
    assert list(tmp_dir.iterdir()) == []


def test_tampered_pipeline_config_naming_os_system_is_refused(
    objects: LocalStore, hub: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(objects, hub, tmp_dir)
    load_diarization_pipeline(store, PIPELINE)
    evil = b"pipeline:\n  name: os.system\n  params: {command: 'touch /tmp/pwned'}\n"
    _replace_file(objects, PIPELINE, hub.commit(PIPELINE), "config.yaml", evil)

    with pytest.raises(InvalidInputError, match="not an allowed pyannote pipeline"):
        load_diarization_pipeline(store, PIPELINE)


@pytest.mark.parametrize("path", ["../../../escaped.txt", "/tmp/escaped.txt"])
def test_manifest_with_a_path_out_of_the_cache_is_refused(
    objects: LocalStore, hub: StandInHub, tmp_dir: Path, path: str
) -> None:
    store = make_store(objects, hub, tmp_dir)
    with materialize(store, SAFETENSORS):
        pass
    key = LAYOUT.manifest(SAFETENSORS, hub.commit(SAFETENSORS))
    manifest = json.loads(objects.get_bytes(key))
    manifest["files"][0]["path"] = path
    objects.put(key, json.dumps(manifest).encode())

    with pytest.raises(InvalidRepoIdError, match="Refusing"), materialize(store, SAFETENSORS):
        pass

    assert not (tmp_dir.parent / "escaped.txt").exists()
    assert list(tmp_dir.iterdir()) == []
