"""Scanning a Hugging Face cache for the closure: files, hashes, refs, and refused links."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import blake3
import pytest

from ivrimeet.errors import IntegrityError
from ivrimeet.models.closure import scan_closure
from ivrimeet.models.manifest import ManifestRef

C1 = "1" * 40
C2 = "2" * 40


def _put(
    cache: Path, repo: str, commit: str, path: str, body: bytes, *, ref: str | None = None
) -> None:
    """Lay a file out as huggingface_hub does: blob + relative snapshot link (+ ref)."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    digest = hashlib.sha256(body).hexdigest()
    blob = folder / "blobs" / digest
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(body)
    link = folder / "snapshots" / commit / path
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    if ref:
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / ref).write_text(commit)


def test_scan_records_every_file_across_repos_with_hashes_and_refs(tmp_path: Path) -> None:
    _put(tmp_path, "org/pipe", C1, "config.yaml", b"pipeline: {}", ref="main")
    _put(tmp_path, "org/plda", C2, "plda/plda.npz", b"weights", ref="main")
    (tmp_path / ".locks").mkdir()
    (tmp_path / "CACHEDIR.TAG").write_text("x")
    savedir = tmp_path / "speechbrain"
    savedir.mkdir()
    (savedir / "hyperparams.yaml").symlink_to(tmp_path / "CACHEDIR.TAG")

    closure = scan_closure(tmp_path)

    assert [(f.repo, f.commit, f.path, f.size) for f in closure.files] == [
        ("org/pipe", C1, "config.yaml", 12),
        ("org/plda", C2, "plda/plda.npz", 7),
    ]
    assert closure.files[1].sha256 == hashlib.sha256(b"weights").hexdigest()
    assert closure.files[1].blake3 == blake3.blake3(b"weights").hexdigest()
    assert closure.files[0].blake3 == blake3.blake3(b"pipeline: {}").hexdigest()
    assert closure.refs == (
        ManifestRef("org/pipe", "main", C1),
        ManifestRef("org/plda", "main", C2),
    )
    assert closure.commit_of("org/pipe", "main") == C1
    assert closure.commit_of("org/pipe", C1) == C1
    assert closure.commit_of("org/pipe", "v2") is None


def test_link_out_of_the_cache_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _put(cache, "org/pipe", C1, "config.yaml", b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    (cache / "models--org--pipe" / "snapshots" / C1 / "evil.txt").symlink_to(secret)

    with pytest.raises(IntegrityError, match="outside the cache"):
        scan_closure(cache)


def test_symlinked_folder_in_a_snapshot_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _put(cache, "org/pipe", C1, "config.yaml", b"x")
    (cache / "models--org--pipe" / "snapshots" / C1 / "etc").symlink_to("/etc")

    with pytest.raises(IntegrityError, match="symlinked folder"):
        scan_closure(cache)


def test_snapshot_folder_not_named_by_a_commit_is_refused(tmp_path: Path) -> None:
    _put(tmp_path, "org/pipe", C1, "config.yaml", b"x")
    (tmp_path / "models--org--pipe" / "snapshots" / "main").mkdir()

    with pytest.raises(IntegrityError, match="Unexpected entry"):
        scan_closure(tmp_path)


def test_ref_to_a_commit_without_files_is_dropped(tmp_path: Path) -> None:
    _put(tmp_path, "org/pipe", C1, "config.yaml", b"x", ref="main")
    (tmp_path / "models--org--pipe" / "refs" / "v2").write_text(C2)

    closure = scan_closure(tmp_path)

    assert closure.refs == (ManifestRef("org/pipe", "main", C1),)
