"""Manifests: canonical JSON, round trips, and refusal of anything hostile or malformed."""

from __future__ import annotations

import json

import pytest

from ivrimeet.errors import IntegrityError, InvalidRepoIdError
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.manifest import SCHEMA_VERSION, Manifest, ManifestFile, ManifestRef

C1 = "1" * 40
C2 = "2" * 40
H1 = "a" * 64
H2 = "b" * 64


def _manifest(**overrides: object) -> Manifest:
    values: dict[str, object] = {
        "repo": "org/pipeline",
        "commit": C1,
        "kind": "pipeline",
        "files": (
            ManifestFile("org/segmentation", C2, "pytorch_model.bin", 10, H2),
            ManifestFile("org/pipeline", C1, "config.yaml", 3, H1),
        ),
        "refs": (ManifestRef("org/segmentation", "main", C2),),
        "created": "2026-11-26T00:00:00Z",
    }
    values.update(overrides)
    return Manifest(**values)  # type: ignore[arg-type]


def test_manifest_round_trips_through_canonical_json() -> None:
    manifest = _manifest()
    data = manifest.to_json()

    assert Manifest.from_json(data) == manifest
    assert data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":")).encode()
    assert json.loads(data)["schema"] == SCHEMA_VERSION


def test_file_order_does_not_change_the_json() -> None:
    forward = _manifest()
    backward = _manifest(files=tuple(reversed(forward.files)))

    assert forward.to_json() == backward.to_json()


def test_totals_count_unique_blobs_and_repos() -> None:
    manifest = _manifest()

    assert manifest.total_bytes == 13
    assert manifest.blobs == {H1: 3, H2: 10}
    assert manifest.repos == ("org/pipeline", "org/segmentation")


def _raw(**changes: object) -> bytes:
    raw = json.loads(_manifest().to_json())
    raw.update(changes)
    return json.dumps(raw).encode()


def _with_file(**changes: object) -> bytes:
    raw = json.loads(_manifest().to_json())
    raw["files"][0].update(changes)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    "data",
    [
        _with_file(path="../../etc/passwd"),
        _with_file(path="/etc/passwd"),
        _with_file(path="a/../b"),
        _with_file(path="a\\b"),
        _with_file(repo="../x"),
        _with_file(repo="a/b/c"),
        _with_file(commit="main"),
        _with_file(sha256="A" * 64),
        _with_file(sha256="short"),
        _with_file(size=-1),
        _raw(repo="evil/../x"),
        _raw(kind="shell"),
        _raw(schema=99),
    ],
)
def test_hostile_manifest_values_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidRepoIdError, match="Refusing"):
        Manifest.from_json(data, source="s3://bucket/models/manifests/x.json")


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[]", _raw(files="nope"), _raw(files=[1]), _with_file(size="10")],
)
def test_malformed_manifests_are_an_integrity_error(data: bytes) -> None:
    with pytest.raises((IntegrityError, InvalidRepoIdError)):
        Manifest.from_json(data)


def test_duplicate_file_entries_are_refused() -> None:
    entry = ManifestFile("org/pipeline", C1, "config.yaml", 3, H1)

    with pytest.raises(InvalidRepoIdError, match="twice"):
        _manifest(files=(entry, entry))


def test_a_ref_to_a_commit_without_files_is_refused() -> None:
    with pytest.raises(InvalidRepoIdError, match="holds none of its files"):
        _manifest(refs=(ManifestRef("org/other", "main", C2),))


def test_bucket_keys_follow_the_documented_layout() -> None:
    layout = BucketLayout("models")

    assert layout.blob(H1) == f"models/blobs/sha256/{H1}"
    assert layout.manifest("org/name", C1) == f"models/manifests/org/name/{C1}.json"
    assert layout.ref("org/name", "main") == "models/refs/org/name/main"
    assert layout.ref("org/name", "refs/pr/1") == "models/refs/org/name/refs%2Fpr%2F1"
    assert layout.revision_of_ref("models/refs/org/name/refs%2Fpr%2F1") == "refs/pr/1"
    assert layout.leases_prefix("org/name", "main") == "models/leases/org/name/main/"
    assert BucketLayout("").blob(H1) == f"blobs/sha256/{H1}"
    with pytest.raises(InvalidRepoIdError):
        layout.manifest("../x", C1)
