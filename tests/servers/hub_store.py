"""Versioned model repos for the Hugging Face Hub stand-in: what a repo held at each commit.

A repo is published from a plain folder of files. Publishing copies the folder
into an immutable commit and moves the repo's ``main`` branch to it::

    <root>/
      <org>/<name>/
        <commit>/            one folder per commit, never changed once written
          config.yaml
          plda/plda.npz
          ...

The commit id is a sha1 over the sorted (path, git blob sha1) pairs, so
publishing the same content twice gives the same commit, and any change gives a
new one. Old commits stay resolvable by their id after ``main`` has moved on,
as on the real Hub.

Each file carries what the Hub advertises for it: its git blob sha1 (the
``ETag`` of a regular file), its sha256 (the ``X-Linked-Etag`` of an LFS file)
and whether the Hub would have stored it in LFS.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LFS_SUFFIXES", "LFS_THRESHOLD_BYTES", "Commit", "HubStore", "RepoFile"]

#: Files at least this large are stored in LFS, as the Hub does for big files.
LFS_THRESHOLD_BYTES = 1024 * 1024

#: Weight files are always stored in LFS, whatever their size (``.gitattributes`` on the real Hub).
LFS_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".npz", ".pt", ".pth", ".onnx")

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RepoFile:
    """One file of one commit, with the hashes the Hub advertises for it."""

    path: str
    local_path: Path
    size: int
    git_sha1: str
    sha256: str
    lfs: bool


@dataclass(frozen=True)
class Commit:
    """A repo's content at one commit: ``files`` maps repo paths (``plda/plda.npz``) to files."""

    repo_id: str
    sha: str
    files: dict[str, RepoFile]

    def directories(self) -> set[str]:
        """Every folder that holds a file of this commit, at any depth (``""`` is the root)."""
        folders = {""}
        for path in self.files:
            parts = path.split("/")[:-1]
            folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return folders

    def folder_oid(self, folder: str) -> str:
        """A stable id for ``folder`` in this commit, as the ``oid`` of a tree entry."""
        prefix = f"{folder}/" if folder else ""
        listing = "".join(
            f"{path}\0{entry.git_sha1}\n"
            for path, entry in sorted(self.files.items())
            if path.startswith(prefix)
        )
        return hashlib.sha1(listing.encode(), usedforsecurity=False).hexdigest()


@dataclass
class _Repo:
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)


class HubStore:
    """Repos published under ``root``; safe to use from the test and server threads at once."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._repos: dict[str, _Repo] = {}
        self._by_sha256: dict[str, RepoFile] = {}
        self._lock = threading.Lock()

    def publish(self, repo_id: str, folder: Path) -> str:
        """Copy ``folder`` into a new commit of ``repo_id``, move ``main`` to it, return its sha.

        Publishing identical content again is a no-op that returns the same sha.
        """
        _check_repo_id(repo_id)
        sources = sorted(p for p in folder.rglob("*") if p.is_file())
        if not sources:
            raise ValueError(f"cannot publish {repo_id}: {folder} holds no files")
        hashed = {src.relative_to(folder).as_posix(): _hash_file(src) for src in sources}
        listing = "".join(f"{path}\0{hashes[0]}\n" for path, hashes in sorted(hashed.items()))
        sha = hashlib.sha1(listing.encode(), usedforsecurity=False).hexdigest()

        commit_dir = self._root / repo_id / sha
        if not commit_dir.exists():
            staging = self._root / repo_id / f".{sha}.incomplete"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(folder, staging, symlinks=False)
            staging.rename(commit_dir)

        files = {
            path: RepoFile(
                path=path,
                local_path=commit_dir / path,
                size=size,
                git_sha1=git_sha1,
                sha256=sha256,
                lfs=size >= LFS_THRESHOLD_BYTES or path.endswith(LFS_SUFFIXES),
            )
            for path, (git_sha1, sha256, size) in hashed.items()
        }
        commit = Commit(repo_id=repo_id, sha=sha, files=files)
        with self._lock:
            repo = self._repos.setdefault(repo_id, _Repo())
            repo.commits[sha] = commit
            repo.branches["main"] = sha
            for entry in files.values():
                self._by_sha256[entry.sha256] = entry
        return sha

    def has_repo(self, repo_id: str) -> bool:
        """Whether ``repo_id`` was ever published."""
        with self._lock:
            return repo_id in self._repos

    def resolve(self, repo_id: str, revision: str) -> Commit | None:
        """The commit ``revision`` (a branch or a full commit sha) names, or None if none.

        Raises ``KeyError`` when ``repo_id`` itself was never published.
        """
        with self._lock:
            repo = self._repos[repo_id]
            sha = repo.branches.get(revision, revision)
            return repo.commits.get(sha)

    def branches(self, repo_id: str) -> dict[str, str]:
        """Branch name -> commit sha of ``repo_id``; raises ``KeyError`` for an unknown repo."""
        with self._lock:
            return dict(self._repos[repo_id].branches)

    def blob(self, sha256: str) -> RepoFile | None:
        """The published file whose content has this sha256, or None."""
        with self._lock:
            return self._by_sha256.get(sha256)

    def repo_ids(self) -> Iterator[str]:
        """Every published repo id, sorted."""
        with self._lock:
            return iter(sorted(self._repos))


def _check_repo_id(repo_id: str) -> None:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or any(p.startswith(".") for p in parts):
        raise ValueError(f"repo id must look like 'org/name', got {repo_id!r}")


def _hash_file(path: Path) -> tuple[str, str, int]:
    """(git blob sha1, sha256, size) of the file at ``path``."""
    size = path.stat().st_size
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    sha256 = hashlib.sha256()
    with path.open("rb") as fp:
        while chunk := fp.read(_CHUNK):
            git.update(chunk)
            sha256.update(chunk)
    return git.hexdigest(), sha256.hexdigest(), size
