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
B1 = "c" * 64
B2 = "d" * 64


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
        _with_file(blake3="C" * 64),
        _with_file(blake3="c" * 63),
        _with_file(blake3="g" * 64),
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
    [
        b"",
        b"not json",
        b"[]",
        _raw(files="nope"),
        _raw(files=[1]),
        _with_file(size="10"),
        _with_file(blake3=None),
        _with_file(blake3=12),
    ],
)
def test_malformed_manifests_are_an_integrity_error(data: bytes) -> None:
    with pytest.raises((IntegrityError, InvalidRepoIdError)):
        Manifest.from_json(data)


def test_blake3_digests_round_trip_and_are_listed_per_body() -> None:
    manifest = _manifest(
        files=(
            ManifestFile("org/segmentation", C2, "pytorch_model.bin", 10, H2, B2),
            ManifestFile("org/pipeline", C1, "config.yaml", 3, H1, B1),
            ManifestFile("org/pipeline", C1, "copy.yaml", 3, H1, B1),
        )
    )
    data = manifest.to_json()

    assert Manifest.from_json(data) == manifest
    assert {f["path"]: f["blake3"] for f in json.loads(data)["files"]} == {
        "config.yaml": B1,
        "copy.yaml": B1,
        "pytorch_model.bin": B2,
    }
    assert manifest.blake3_digests == {H1: B1, H2: B2}
    assert json.loads(data)["schema"] == 1


def test_a_manifest_without_blake3_loads_and_keeps_its_exact_bytes() -> None:
    """Manifests filled before BLAKE3 was recorded: no field, not null; restores use sha256."""
    old = _manifest()
    data = old.to_json()

    assert all("blake3" not in f for f in json.loads(data)["files"])
    assert Manifest.from_json(data).to_json() == data
    assert Manifest.from_json(data).blake3_digests == {}


def test_two_blake3_digests_for_one_body_are_refused() -> None:
    one = ManifestFile("org/pipeline", C1, "config.yaml", 3, H1, B1)
    other = ManifestFile("org/pipeline", C1, "copy.yaml", 3, H1, B2)
    unrecorded = ManifestFile("org/pipeline", C1, "copy.yaml", 3, H1)

    for second in (other, unrecorded):
        with pytest.raises(InvalidRepoIdError, match="two different blake3 digests"):
            _manifest(files=(one, second), refs=())


def test_duplicate_entries_differing_only_in_blake3_are_refused_not_a_crash() -> None:
    with pytest.raises(InvalidRepoIdError, match="twice"):
        _manifest(
            files=(
                ManifestFile("org/pipeline", C1, "config.yaml", 3, H1),
                ManifestFile("org/pipeline", C1, "config.yaml", 3, H1, B1),
            )
        )


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
