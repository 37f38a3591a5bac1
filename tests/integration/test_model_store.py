"""The model store end to end: real pyannote.audio, SpeechBrain and huggingface_hub,
the Hub stand-in, and a bucket (local folder store and moto)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ivrimeet.errors import HubUnavailableError, IntegrityError, PermissionDeniedError
from ivrimeet.models import (
    load_diarization_pipeline,
    load_speaker_encoder,
    materialize,
)
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.loaders import PipelineLoader, SnapshotLoader
from ivrimeet.objects import LocalStore, S3Store
from ivrimeet.objects.store import ObjectStore
from tests.hubrepos import (
    PIPELINE,
    PIPELINE_CLOSURES,
    PIPELINE_SPEECHBRAIN,
    SAFETENSORS,
    SAFETENSORS_SHAPES,
    SPEECHBRAIN_ECAPA,
)
from tests.integration.model_store_support import downloads, make_store
from tests.servers.hub import StandInHub

pytestmark = pytest.mark.slow

LAYOUT = BucketLayout("models/")


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def local_objects(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


@pytest.fixture
def moto_objects(moto_s3) -> S3Store:  # type: ignore[no-untyped-def]
    return S3Store(moto_s3.new_bucket("models"))


@pytest.fixture(params=["local", "moto"])
def objects(request: pytest.FixtureRequest) -> ObjectStore:
    return request.getfixturevalue(f"{request.param}_objects")  # type: ignore[no-any-return]


def _stored_manifest(objects: ObjectStore, repo: str, hub: StandInHub) -> dict[str, object]:
    commit = hub.commit(repo)
    return json.loads(objects.get_bytes(LAYOUT.manifest(repo, commit)))  # type: ignore[no-any-return]


def test_first_load_fills_bucket_and_second_load_makes_no_hub_request(
    objects: ObjectStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(objects, hub_client, tmp_dir)

    first = store.load(PipelineLoader(), PIPELINE)

    assert first.report.origin == "huggingface" and not first.report.from_bucket
    assert first.report.stored
    fetched = downloads(hub_client)
    assert fetched, "the first load should download from the Hub"
    assert all(count == 1 for count in fetched.values()), fetched
    manifest = _stored_manifest(objects, PIPELINE, hub_client)
    repos = {f["repo"] for f in manifest["files"]}  # type: ignore[attr-defined]
    assert repos == PIPELINE_CLOSURES[PIPELINE]
    assert list(tmp_dir.iterdir()) == []

    hub_client.reset()
    hub_client.outage = True
    second = store.load(PipelineLoader(), PIPELINE)

    assert second.report.from_bucket
    assert second.report.origin == ("folder" if isinstance(objects, LocalStore) else "bucket")
    assert second.report.commit == first.report.commit
    assert hub_client.requests == []
    assert list(tmp_dir.iterdir()) == []
    assert type(second.value).__name__ == "SpeakerDiarization"


def test_speechbrain_pipeline_closure_spans_its_repos_and_loads_offline(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir)

    load_diarization_pipeline(store, PIPELINE_SPEECHBRAIN)
    manifest = _stored_manifest(local_objects, PIPELINE_SPEECHBRAIN, hub_client)
    hub_client.reset()
    hub_client.outage = True
    pipeline = load_diarization_pipeline(store, PIPELINE_SPEECHBRAIN)

    repos = {f["repo"] for f in manifest["files"]}  # type: ignore[attr-defined]
    assert repos == PIPELINE_CLOSURES[PIPELINE_SPEECHBRAIN]
    paths = {f["path"] for f in manifest["files"]}  # type: ignore[attr-defined]
    assert "hyperparams.yaml" in paths
    assert not any(p.startswith("speechbrain/") for p in paths), "savedir is recreated, not stored"
    assert hub_client.requests == []
    assert type(pipeline).__name__ == "SpeakerDiarization"


def test_speaker_encoder_loads_from_bucket_after_first_fill(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir)
    load_speaker_encoder(store, SPEECHBRAIN_ECAPA)
    hub_client.reset()
    hub_client.outage = True

    encoder = load_speaker_encoder(store, SPEECHBRAIN_ECAPA)

    import torch

    embedding = encoder.encode_batch(torch.zeros(1, 16000))
    assert embedding.shape[-1] > 0
    assert hub_client.requests == []
    assert list(tmp_dir.iterdir()) == []


def test_plain_safetensors_repo_materializes_as_hugging_face_cache(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    from huggingface_hub import hf_hub_download
    from safetensors.numpy import load_file

    store = make_store(local_objects, hub_client, tmp_dir)
    with materialize(store, SAFETENSORS):
        pass
    hub_client.reset()
    hub_client.outage = True

    with materialize(store, SAFETENSORS) as model:
        path = hf_hub_download(
            SAFETENSORS, "model.safetensors", cache_dir=model.cache_dir, local_files_only=True
        )
        tensors = load_file(path)
        assert (model.snapshot / "config.json").is_file()
        cache_dir = model.cache_dir

    assert {name: tuple(t.shape) for name, t in tensors.items()} == SAFETENSORS_SHAPES
    assert not cache_dir.exists()
    assert hub_client.requests == []


def test_hub_down_with_bucket_filled_still_loads(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir)
    with materialize(store, SAFETENSORS):
        pass
    hub_client.outage = True

    with materialize(store, SAFETENSORS) as model:
        assert (model.snapshot / "model.safetensors").is_file()


def test_empty_bucket_and_hub_down_raise_one_error_naming_both(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir)
    hub_client.outage = True

    with pytest.raises(HubUnavailableError) as caught, materialize(store, SAFETENSORS):
        pass

    message = str(caught.value)
    assert "not from the bucket, not from Hugging Face" in message
    assert "not stored" in message
    assert hub_client.endpoint in message
    assert list(tmp_dir.iterdir()) == []


def test_gated_repo_without_token_says_so(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir, token=None)

    with pytest.raises(PermissionDeniedError, match="gated"):
        load_diarization_pipeline(store, "pyannote/speaker-diarization-3.1")


def test_corrupted_blob_is_refused_and_healed_from_hub(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir)
    with materialize(store, SAFETENSORS):
        pass
    manifest = _stored_manifest(local_objects, SAFETENSORS, hub_client)
    weights = next(f for f in manifest["files"] if f["path"] == "model.safetensors")  # type: ignore[attr-defined]
    key = LAYOUT.blob(weights["sha256"])
    body = bytearray(local_objects.get_bytes(key))
    body[len(body) // 2] ^= 0xFF
    local_objects.put(key, bytes(body))

    loaded = store.load(SnapshotLoader(), SAFETENSORS)

    assert loaded.report.healed == 1
    assert local_objects.get_bytes(key) != bytes(body), "the bucket copy is replaced"
    assert hashlib.sha256(local_objects.get_bytes(key)).hexdigest() == weights["sha256"]


def test_corrupted_blob_with_hub_down_is_a_clear_integrity_error(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir)
    with materialize(store, SAFETENSORS):
        pass
    manifest = _stored_manifest(local_objects, SAFETENSORS, hub_client)
    weights = next(f for f in manifest["files"] if f["path"] == "model.safetensors")  # type: ignore[attr-defined]
    key = LAYOUT.blob(weights["sha256"])
    local_objects.put(key, local_objects.get_bytes(key)[:-10])
    hub_client.outage = True

    with pytest.raises(IntegrityError) as caught, materialize(store, SAFETENSORS):
        pass

    assert key in str(caught.value)
    assert list(tmp_dir.iterdir()) == []


@pytest.fixture
def unreachable_objects(moto_s3) -> S3Store:  # type: ignore[no-untyped-def]
    from tests.servers.process import free_port

    connection = moto_s3.connection(
        "gone",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=1,
        connect_timeout=1.0,
    )
    return S3Store(connection)


def test_bucket_down_falls_back_to_hub_with_a_warning(
    unreachable_objects: S3Store,
    hub_client: StandInHub,
    tmp_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = make_store(unreachable_objects, hub_client, tmp_dir)

    with caplog.at_level("WARNING"), materialize(store, SAFETENSORS) as model:
        assert (model.snapshot / "model.safetensors").is_file()

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.startswith("model.bucket_unavailable") for m in warnings), warnings
    assert downloads(hub_client)


def test_bucket_and_hub_down_raise_one_error_naming_both(
    unreachable_objects: S3Store, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(unreachable_objects, hub_client, tmp_dir)
    hub_client.outage = True

    with pytest.raises(HubUnavailableError) as caught:
        load_speaker_encoder(store, SPEECHBRAIN_ECAPA)

    message = str(caught.value)
    assert "not from the bucket, not from Hugging Face" in message
    assert unreachable_objects.location in message
    assert hub_client.endpoint in message
    assert "TEST_SECRET" not in message and "ivrimeet-test-secret" not in message


def test_cache_budget_keeps_verified_blobs_for_the_next_load(
    local_objects: LocalStore,
    hub_client: StandInHub,
    tmp_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir, cache_max_bytes=64 * 1024 * 1024)
    with materialize(store, SAFETENSORS):
        pass
    kept = sorted(p.name for p in (tmp_dir / "ivrimeet-blobcache").iterdir())
    manifest = _stored_manifest(local_objects, SAFETENSORS, hub_client)
    assert kept == sorted({f["sha256"] for f in manifest["files"]})  # type: ignore[attr-defined]
    local_objects.delete_prefix("models/blobs/")
    hub_client.outage = True

    def no_sha256(path: Path) -> tuple[int, str]:
        raise AssertionError(f"{path} re-hashed with SHA-256: the manifest records BLAKE3")

    monkeypatch.setattr("ivrimeet.models.localcache.hash_file", no_sha256)
    with materialize(store, SAFETENSORS) as model:
        assert (model.snapshot / "model.safetensors").read_bytes()

    assert [p.name for p in tmp_dir.iterdir()] == ["ivrimeet-blobcache"]


def test_cache_budget_is_respected_and_a_damaged_local_copy_is_refetched(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    manifest_store = make_store(local_objects, hub_client, tmp_dir)
    with materialize(manifest_store, SAFETENSORS):
        pass
    manifest = _stored_manifest(local_objects, SAFETENSORS, hub_client)
    sizes = {f["sha256"]: f["size"] for f in manifest["files"]}  # type: ignore[attr-defined]
    budget = sum(sizes.values()) - 1  # everything but not quite: the biggest must go
    store = make_store(local_objects, hub_client, tmp_dir, cache_max_bytes=budget)

    with materialize(store, SAFETENSORS):
        pass
    cache = tmp_dir / "ivrimeet-blobcache"
    assert sum(p.stat().st_size for p in cache.iterdir()) <= budget
    victim = next(cache.iterdir())
    damaged = bytearray(victim.read_bytes())
    damaged[0] ^= 0xFF
    victim.write_bytes(bytes(damaged))

    with materialize(store, SAFETENSORS) as model:
        restored = model.cache_dir / "models--ivrimeet-test--safetensors-tiny" / "blobs"
        assert (restored / victim.name).read_bytes() != bytes(damaged)
        assert hashlib.sha256((restored / victim.name).read_bytes()).hexdigest() == victim.name
    # The manifest records BLAKE3: that is what the local copy was checked against.
    assert all(f.get("blake3") for f in manifest["files"])  # type: ignore[attr-defined]


class _ReadOnlyStore(LocalStore):
    """A bucket these credentials may read but not write (s3:PutObject denied)."""

    def _denied(self, key: str) -> PermissionDeniedError:
        return PermissionDeniedError(f"Cannot write {key}: AccessDenied.")

    def put(self, key, body, **options):  # type: ignore[no-untyped-def]
        raise self._denied(key)

    def put_if_absent(self, key, data, **options):  # type: ignore[no-untyped-def]
        raise self._denied(key)


def test_read_only_bucket_still_loads_from_hub_with_warnings(
    tmp_path: Path, hub_client: StandInHub, tmp_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    objects = _ReadOnlyStore(tmp_path / "bucket")
    store = make_store(objects, hub_client, tmp_dir)

    with caplog.at_level("WARNING"), materialize(store, SAFETENSORS) as model:
        assert (model.snapshot / "model.safetensors").is_file()

    events = [r.getMessage().split()[0] for r in caplog.records if r.levelname == "WARNING"]
    assert "model.lease_failed" in events and "model.store_failed" in events
    assert list(objects.list("models/")) == []


def test_restore_uses_no_more_disk_than_the_model_and_leaves_nothing(
    local_objects: LocalStore, hub_client: StandInHub, tmp_dir: Path
) -> None:
    store = make_store(local_objects, hub_client, tmp_dir)
    with materialize(store, SAFETENSORS):
        pass
    manifest = _stored_manifest(local_objects, SAFETENSORS, hub_client)
    model_bytes = sum(f["size"] for f in manifest["files"])  # type: ignore[attr-defined]

    with materialize(store, SAFETENSORS) as model:
        on_disk = sum(
            p.stat().st_size
            for p in model.cache_dir.rglob("*")
            if p.is_file() and not p.is_symlink()
        )

    assert model_bytes <= on_disk <= model_bytes + 64 * 1024 * 1024
    assert list(tmp_dir.iterdir()) == []
