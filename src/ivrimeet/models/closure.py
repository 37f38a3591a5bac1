"""The closure of a load: every file a loader left in a Hugging Face cache directory.

A cache filled by ``huggingface_hub`` looks like this (see ``hf_hub_download``)::

    <cache>/
      models--org--name/
        blobs/<etag>                              file bodies
        snapshots/<commit>/<path>  -> ../../blobs/<etag>   (symlinks, or plain files)
        refs/<revision>                           text: the commit <revision> pointed at
      .locks/ CACHEDIR.TAG                        bookkeeping: ignored
      speechbrain/                                SpeechBrain's savedir: ignored

``scan_closure`` reads every ``snapshots`` entry across repos and returns its
repo, commit, path, size, sha256 and BLAKE3 (both hashed in one read of the
file), plus the refs. Only what a loader actually
fetched is there, so this is the closure, with no hard-coded file lists.

SpeechBrain's savedir (pyannote puts it at ``<cache>/speechbrain``) holds only
symlinks into ``snapshots``; SpeechBrain re-creates those links from the cache
when it loads offline, so the savedir is not part of the closure.

Symlinks that point outside their repo's folder, and snapshot entries that are
neither files nor directories, are refused (``IntegrityError``): a restored
cache must never lead a loader to a file elsewhere on disk.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import blake3

from ivrimeet.errors import IntegrityError
from ivrimeet.models.manifest import ManifestFile, ManifestRef
from ivrimeet.models.repo_ids import (
    is_commit,
    validate_repo_file_path,
    validate_repo_id,
    validate_revision,
)
from ivrimeet.objects.store import Digest

__all__ = [
    "Closure",
    "cache_folder_name",
    "hash_file",
    "hash_file_blake3",
    "hash_file_with_blake3",
    "repo_from_folder",
    "scan_closure",
]

_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Closure:
    """What a load left in a cache: its files and the refs that named their commits."""

    files: tuple[ManifestFile, ...]
    refs: tuple[ManifestRef, ...]

    def commit_of(self, repo: str, revision: str) -> str | None:
        """The commit ``revision`` of ``repo`` resolved to, if the cache recorded it."""
        if is_commit(revision) and any(f.repo == repo and f.commit == revision for f in self.files):
            return revision
        for ref in self.refs:
            if ref.repo == repo and ref.revision == revision:
                return ref.commit
        return None


def cache_folder_name(repo: str) -> str:
    """``models--org--name``, the folder huggingface_hub uses for model ``org/name``."""
    return "models--" + validate_repo_id(repo).replace("/", "--")


def repo_from_folder(name: str) -> str | None:
    """The repo id of a ``models--org--name`` folder, or None for anything else."""
    if not name.startswith("models--"):
        return None
    parts = name[len("models--") :].split("--")
    if len(parts) != 2:
        return None
    return validate_repo_id("/".join(parts))


def _read_into(path: Path, *digests: Digest) -> int:
    """Feed the file at ``path`` to every digest in one read; return its size."""
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            for digest in digests:
                digest.update(chunk)
            size += len(chunk)
    return size


def hash_file(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of the file at ``path``."""
    digest = hashlib.sha256()
    return _read_into(path, digest), digest.hexdigest()


def hash_file_blake3(path: Path) -> tuple[int, str]:
    """(size, BLAKE3 hex) of the file at ``path``."""
    digest = blake3.blake3()
    return _read_into(path, digest), digest.hexdigest()


def hash_file_with_blake3(path: Path) -> tuple[int, str, str]:
    """(size, sha256 hex, BLAKE3 hex) of the file at ``path``, from one read."""
    sha256 = hashlib.sha256()
    digest = blake3.blake3()
    return _read_into(path, sha256, digest), sha256.hexdigest(), digest.hexdigest()


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def scan_closure(cache_dir: Path) -> Closure:
    """Every file and ref under ``cache_dir``'s ``models--*`` folders, hashed.

    Bodies shared by several paths (huggingface_hub links identical files to one
    blob) are hashed once.
    """
    files: list[ManifestFile] = []
    refs: list[ManifestRef] = []
    hashed: dict[Path, tuple[int, str, str]] = {}
    cache_dir = cache_dir.resolve()
    for folder in sorted(cache_dir.iterdir()):
        repo = repo_from_folder(folder.name)
        if repo is None or not folder.is_dir() or folder.is_symlink():
            continue
        snapshots = folder / "snapshots"
        if snapshots.is_dir():
            for commit_dir in sorted(snapshots.iterdir()):
                if not is_commit(commit_dir.name) or commit_dir.is_symlink():
                    raise IntegrityError(
                        f"Unexpected entry {commit_dir} in the Hugging Face cache of {repo}.",
                        hints=["snapshots/ must hold only folders named by 40-hex commits"],
                    )
                for path in _walk_files(commit_dir, folder):
                    real = path.resolve()
                    if real not in hashed:
                        hashed[real] = hash_file_with_blake3(real)
                    size, sha256, blake3_hex = hashed[real]
                    relative = path.relative_to(commit_dir).as_posix()
                    files.append(
                        ManifestFile(
                            repo=repo,
                            commit=commit_dir.name,
                            path=validate_repo_file_path(relative),
                            size=size,
                            sha256=sha256,
                            blake3=blake3_hex,
                        )
                    )
        refs.extend(_scan_refs(folder, repo))
    commits = {(f.repo, f.commit) for f in files}
    # A ref to a commit we hold no file of (a failed download) is not part of the closure.
    kept = tuple(r for r in refs if (r.repo, r.commit) in commits)
    return Closure(files=tuple(files), refs=kept)


def _walk_files(commit_dir: Path, repo_folder: Path) -> list[Path]:
    """Files under ``commit_dir``; symlinks must resolve to files inside ``repo_folder``."""
    found: list[Path] = []
    root = repo_folder.resolve()
    for dirpath, dirnames, filenames in os.walk(commit_dir):
        base = Path(dirpath)
        for name in dirnames:
            if (base / name).is_symlink():
                raise IntegrityError(
                    f"Refusing symlinked folder {base / name} in the Hugging Face cache.",
                    hints=["a cache folder must not link elsewhere on disk"],
                )
        for name in filenames:
            path = base / name
            real = path.resolve()
            if not _inside(real, root) or not real.is_file():
                raise IntegrityError(
                    f"Refusing {path}: it points to {real}, outside the cache of its repo.",
                    hints=["a Hugging Face cache must only link into its own blobs/ folder"],
                )
            found.append(path)
    return sorted(found)


def _scan_refs(folder: Path, repo: str) -> list[ManifestRef]:
    refs_dir = folder / "refs"
    found: list[ManifestRef] = []
    if not refs_dir.is_dir():
        return found
    for dirpath, _dirnames, filenames in os.walk(refs_dir):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            commit = path.read_text().strip()
            revision = path.relative_to(refs_dir).as_posix()
            if not is_commit(commit):
                continue
            found.append(
                ManifestRef(repo=repo, revision=validate_revision(revision), commit=commit)
            )
    return sorted(found)
