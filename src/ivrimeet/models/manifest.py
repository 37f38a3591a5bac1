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
      "files": [{"repo": …, "commit": …, "path": "config.yaml", "size": 469,
                 "sha256": "…", "blake3": "…"}, …],
      "refs":  [{"repo": …, "revision": "main", "commit": …}, …]
    }

It is written last and create-only, so a reader never sees a half-filled model.
JSON is canonical (sorted keys, no spaces) so two fillers of the same closure
write identical bytes. ``Manifest.from_json`` validates every field, because a
manifest read back from the bucket is untrusted input: repo ids, commits, paths
(no ``..``, no absolute paths), sizes and digests.

Digests: ``sha256`` is the body's address (``blobs/sha256/<hex>``, the blob's
name in the Hugging Face cache) and is always there. ``blake3`` is the BLAKE3
of the same bytes, computed in the same read at fill time; a restore verifies
with it when present (about four times less CPU than SHA-256 here). It is
optional: manifests written before it existed have none and are verified with
SHA-256, and ivrimeet versions that predate it ignore it and verify with
SHA-256. Adding it changed no field's meaning, so the schema stayed 1.
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
    "validate_blake3",
    "validate_sha256",
]

SCHEMA_VERSION = 1
"""Bumped when a field changes meaning; a reader refuses versions it does not know."""

ModelKind = Literal["pipeline", "encoder", "snapshot"]
"""Which loader filled a closure: a pyannote pipeline, a SpeechBrain encoder, a whole repo."""

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _validate_hex64(digest: str, name: str) -> str:
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise InvalidRepoIdError(
            f"Refusing {name} {str(digest)[:80]!r}: it must be 64 lowercase hex digits.",
        )
    return digest


def validate_sha256(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex digits; else raise ``InvalidRepoIdError``."""
    return _validate_hex64(digest, "sha256")


def validate_blake3(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex digits; else raise ``InvalidRepoIdError``."""
    return _validate_hex64(digest, "blake3")


@dataclass(frozen=True, order=True)
class ManifestFile:
    """One file of a closure: where it lives in the Hugging Face cache and what it hashes to.

    ``blake3`` is None in manifests filled before BLAKE3 digests were recorded.
    """

    repo: str
    commit: str
    path: str
    size: int
    sha256: str
    blake3: str | None = None

    def __post_init__(self) -> None:
        validate_repo_id(self.repo)
        validate_commit(self.commit)
        validate_repo_file_path(self.path)
        validate_sha256(self.sha256)
        if self.blake3 is not None:
            validate_blake3(self.blake3)
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
        seen: set[tuple[str, str, str]] = set()
        blake3_of: dict[str, str | None] = {}
        for entry in self.files:
            where = (entry.repo, entry.commit, entry.path)
            if where in seen:
                raise InvalidRepoIdError(
                    f"Manifest of {self.repo}@{self.commit} lists {entry.repo}/{entry.path} twice."
                )
            seen.add(where)
            if blake3_of.setdefault(entry.sha256, entry.blake3) != entry.blake3:
                raise InvalidRepoIdError(
                    f"Manifest of {self.repo}@{self.commit} records two different blake3 digests "
                    f"for the body sha256 {entry.sha256}."
                )
        # Sorted, so the canonical JSON does not depend on the order files were scanned
        # (after the duplicate check: entries then differ before ``blake3``, which may be None).
        object.__setattr__(self, "files", tuple(sorted(self.files)))
        object.__setattr__(self, "refs", tuple(sorted(self.refs)))
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
    def blake3_digests(self) -> dict[str, str]:
        """Recorded BLAKE3 of unique bodies: sha256 -> blake3 (bodies without one are absent)."""
        return {f.sha256: f.blake3 for f in self.files if f.blake3 is not None}

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
            "files": [_file_dict(f) for f in self.files],
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
                    blake3=_str(f, "blake3") if "blake3" in f else None,
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


def _file_dict(entry: ManifestFile) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "repo": entry.repo,
        "commit": entry.commit,
        "path": entry.path,
        "size": entry.size,
        "sha256": entry.sha256,
    }
    if entry.blake3 is not None:  # absent, not null: older manifests keep their exact bytes
        fields["blake3"] = entry.blake3
    return fields


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
