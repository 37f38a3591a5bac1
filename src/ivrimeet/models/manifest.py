"""The manifest: the closure of one model, as stored at ``manifests/<repo>/<commit>.json``.

A manifest lists every file a loader read from the Hugging Face cache, across
repos (a pyannote pipeline reads its own ``config.yaml``, a segmentation repo,
an embedding repo and a PLDA repo), and the cache refs that pointed at them::

    {
      "schema": 1,
      "repo": "pyannote/speaker-diarization-3.1",
      "commit": "84fd5d0e…",              # the commit of `repo` this closure was filled from
      "kind": "pipeline",                 # which loader filled it: pipeline | encoder | snapshot
      "created": "2026-11-26T16:13:00Z",
      "files": [{"repo": …, "commit": …, "path": "config.yaml", "size": 469, "sha256": "…"}, …],
      "refs":  [{"repo": …, "revision": "main", "commit": …}, …]
    }

It is written last and create-only, so a reader never sees a half-filled model.
JSON is canonical (sorted keys, no spaces) so two fillers of the same closure
write identical bytes. ``Manifest.from_json`` validates every field, because a
manifest read back from the bucket is untrusted input: repo ids, commits, paths
(no ``..``, no absolute paths), sizes and sha256 digests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from ivrimeet.errors import IntegrityError, InvalidRepoIdError
from ivrimeet.models.repo_ids import (
    validate_commit,
    validate_repo_file_path,
    validate_repo_id,
    validate_revision,
)

__all__ = [
    "SCHEMA_VERSION",
    "Manifest",
    "ManifestFile",
    "ManifestRef",
    "ModelKind",
    "validate_sha256",
]

SCHEMA_VERSION = 1
"""Bumped when a field changes meaning; a reader refuses versions it does not know."""

ModelKind = Literal["pipeline", "encoder", "snapshot"]
"""Which loader filled a closure: a pyannote pipeline, a SpeechBrain encoder, a whole repo."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


def validate_sha256(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex digits; else raise ``InvalidRepoIdError``."""
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise InvalidRepoIdError(
            f"Refusing sha256 {str(digest)[:80]!r}: it must be 64 lowercase hex digits.",
        )
    return digest


@dataclass(frozen=True, order=True)
class ManifestFile:
    """One file of a closure: where it lives in the Hugging Face cache and what it hashes to."""

    repo: str
    commit: str
    path: str
    size: int
    sha256: str

    def __post_init__(self) -> None:
        validate_repo_id(self.repo)
        validate_commit(self.commit)
        validate_repo_file_path(self.path)
        validate_sha256(self.sha256)
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise InvalidRepoIdError(f"Refusing size {self.size!r} of {self.repo}/{self.path}.")


@dataclass(frozen=True, order=True)
class ManifestRef:
    """A cache ref (``refs/<revision>`` of ``repo``) that pointed at ``commit`` when filled."""

    repo: str
    revision: str
    commit: str

    def __post_init__(self) -> None:
        validate_repo_id(self.repo)
        validate_revision(self.revision)
        validate_commit(self.commit)


@dataclass(frozen=True)
class Manifest:
    """The closure of ``repo`` at ``commit`` as filled by the ``kind`` loader."""

    repo: str
    commit: str
    kind: ModelKind
    files: tuple[ManifestFile, ...]
    refs: tuple[ManifestRef, ...] = ()
    created: str = ""
    schema: int = field(default=SCHEMA_VERSION)

    def __post_init__(self) -> None:
        validate_repo_id(self.repo)
        validate_commit(self.commit)
        if self.kind not in get_args(ModelKind):
            raise InvalidRepoIdError(f"Refusing manifest kind {self.kind!r}.")
        if self.schema != SCHEMA_VERSION:
            raise InvalidRepoIdError(
                f"Manifest of {self.repo}@{self.commit} has schema {self.schema!r}; "
                f"this ivrimeet reads schema {SCHEMA_VERSION}.",
                hints=["upgrade ivrimeet, or remove the manifest and pull the model again"],
            )
        # Sorted, so the canonical JSON does not depend on the order files were scanned.
        object.__setattr__(self, "files", tuple(sorted(self.files)))
        object.__setattr__(self, "refs", tuple(sorted(self.refs)))
        seen: set[tuple[str, str, str]] = set()
        for entry in self.files:
            where = (entry.repo, entry.commit, entry.path)
            if where in seen:
                raise InvalidRepoIdError(
                    f"Manifest of {self.repo}@{self.commit} lists {entry.repo}/{entry.path} twice."
                )
            seen.add(where)
        commits = {(f.repo, f.commit) for f in self.files}
        for ref in self.refs:
            if (ref.repo, ref.commit) not in commits:
                raise InvalidRepoIdError(
                    f"Manifest of {self.repo}@{self.commit} has ref {ref.repo}@{ref.revision} "
                    f"pointing at {ref.commit}, which holds none of its files."
                )

    # --- derived values ---------------------------------------------------------

    @property
    def total_bytes(self) -> int:
        """Bytes of every file, counting a body shared by two paths twice."""
        return sum(f.size for f in self.files)

    @property
    def blobs(self) -> dict[str, int]:
        """Unique bodies: sha256 -> size."""
        return {f.sha256: f.size for f in self.files}

    @property
    def repos(self) -> tuple[str, ...]:
        """Every repo the closure reads from, sorted."""
        return tuple(sorted({f.repo for f in self.files}))

    def file(self, repo: str, path: str) -> ManifestFile | None:
        """The entry for ``path`` of ``repo`` (any commit), or None."""
        for entry in self.files:
            if entry.repo == repo and entry.path == path:
                return entry
        return None

    # --- JSON -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data in canonical field order."""
        return {
            "schema": self.schema,
            "repo": self.repo,
            "commit": self.commit,
            "kind": self.kind,
            "created": self.created,
            "files": [
                {
                    "repo": f.repo,
                    "commit": f.commit,
                    "path": f.path,
                    "size": f.size,
                    "sha256": f.sha256,
                }
                for f in self.files
            ],
            "refs": [
                {"repo": r.repo, "revision": r.revision, "commit": r.commit} for r in self.refs
            ],
        }

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, no whitespace, UTF-8."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes, *, source: str = "manifest") -> Manifest:
        """Parse and validate a manifest read from ``source`` (a key, for messages).

        Malformed JSON or a missing field raises ``IntegrityError``; a hostile
        value (``..`` in a path, bad repo id, bad digest) ``InvalidRepoIdError``.
        """
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise TypeError("top level is not an object")
            files = tuple(
                ManifestFile(
                    repo=_str(f, "repo"),
                    commit=_str(f, "commit"),
                    path=_str(f, "path"),
                    size=cast(int, f["size"]),
                    sha256=_str(f, "sha256"),
                )
                for f in _list(raw, "files")
            )
            refs = tuple(
                ManifestRef(
                    repo=_str(r, "repo"), revision=_str(r, "revision"), commit=_str(r, "commit")
                )
                for r in _list(raw, "refs")
            )
            return cls(
                repo=_str(raw, "repo"),
                commit=_str(raw, "commit"),
                kind=cast(ModelKind, _str(raw, "kind")),
                files=files,
                refs=refs,
                created=_str(raw, "created"),
                schema=cast(int, raw["schema"]),
            )
        except InvalidRepoIdError as exc:
            raise InvalidRepoIdError(
                f"Refusing {source}: {exc.summary}",
                hints=[
                    "the manifest was changed by hand or by another tool; remove it "
                    "(`ivrimeet models rm REPO@COMMIT`) and pull the model again",
                ],
            ) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise IntegrityError(
                f"Cannot read {source}: it is not a valid ivrimeet manifest ({exc}).",
                hints=[
                    "remove it (`ivrimeet models rm REPO@COMMIT`) and pull the model again",
                ],
            ) from exc


def _str(raw: Any, name: str) -> str:
    value = raw[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value


def _list(raw: dict[str, Any], name: str) -> list[Any]:
    value = raw[name]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError(f"{name} is not a list of objects")
    return value
