"""Where the model store keeps things in the bucket (under a prefix, default ``models/``)::

    models/
      blobs/sha256/<hex>                     file bodies, content-addressed, written once
      manifests/<org>/<name>/<commit>.json   closures (see manifest.py), written last, create-only
      refs/<org>/<name>/<revision>           text: the commit a revision was pinned to
      leases/<org>/<name>/<revision>/<n>     fill leases, generation n (see lease.py)

Revisions may hold ``/`` (``refs/pr/1``); in keys they are percent-encoded so a
revision is always one key segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from ivrimeet.models.manifest import validate_sha256
from ivrimeet.models.repo_ids import validate_commit, validate_repo_id, validate_revision

__all__ = ["BucketLayout"]


@dataclass(frozen=True)
class BucketLayout:
    """Object keys of the model store under ``prefix`` (``""`` or ending in ``/``)."""

    prefix: str = "models/"

    def __post_init__(self) -> None:
        cleaned = self.prefix.strip("/")
        object.__setattr__(self, "prefix", f"{cleaned}/" if cleaned else "")

    @property
    def blobs_prefix(self) -> str:
        return f"{self.prefix}blobs/sha256/"

    def blob(self, sha256: str) -> str:
        return self.blobs_prefix + validate_sha256(sha256)

    def manifests_prefix(self, repo: str | None = None) -> str:
        base = f"{self.prefix}manifests/"
        return base if repo is None else f"{base}{validate_repo_id(repo)}/"

    def manifest(self, repo: str, commit: str) -> str:
        return f"{self.manifests_prefix(repo)}{validate_commit(commit)}.json"

    def refs_prefix(self, repo: str | None = None) -> str:
        base = f"{self.prefix}refs/"
        return base if repo is None else f"{base}{validate_repo_id(repo)}/"

    def ref(self, repo: str, revision: str) -> str:
        return self.refs_prefix(repo) + quote(validate_revision(revision), safe="")

    def revision_of_ref(self, key: str) -> str:
        """The revision a ``ref`` key names (inverse of ``ref``)."""
        return validate_revision(unquote(key.rsplit("/", 1)[-1]))

    def leases_prefix(self, repo: str | None = None, revision: str | None = None) -> str:
        base = f"{self.prefix}leases/"
        if repo is None:
            return base
        base += f"{validate_repo_id(repo)}/"
        if revision is None:
            return base
        return f"{base}{quote(validate_revision(revision), safe='')}/"
