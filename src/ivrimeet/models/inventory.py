"""What the bucket holds, and keeping it healthy: list, verify, remove, collect garbage.

These work on the bucket only (never Hugging Face) and back the ``ivrimeet
models list|verify|rm|gc`` commands.

Garbage collection deletes blobs no manifest references, but only those older
than a grace period: a fill uploads its blobs before it writes its manifest, so
a young unreferenced blob may belong to a fill in progress.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import blake3

from ivrimeet.errors import ObjectNotFoundError
from ivrimeet.models.manifest import Manifest, ModelKind
from ivrimeet.models.repo_ids import validate_commit, validate_repo_id
from ivrimeet.models.store import ModelStore

__all__ = [
    "BlobProblem",
    "GcReport",
    "StoredModel",
    "VerifyReport",
    "collect_garbage",
    "list_models",
    "remove_model",
    "verify_models",
]

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredModel:
    """One stored closure and the revisions that point at it."""

    repo: str
    commit: str
    kind: ModelKind
    files: int
    bytes: int
    created: str
    revisions: tuple[str, ...]


@dataclass(frozen=True)
class BlobProblem:
    """A blob that is missing or does not hash to its name."""

    key: str
    problem: str


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify_models`` checked and what it found wrong."""

    manifests: int
    blobs: int
    bytes: int
    problems: tuple[BlobProblem, ...]


@dataclass(frozen=True)
class GcReport:
    """Blobs deleted (or that would be, on a dry run) and those spared for being young."""

    deleted: tuple[str, ...]
    deleted_bytes: int
    spared_young: int
    leases_removed: tuple[str, ...]
    dry_run: bool


def _manifests(store: ModelStore, repo: str | None) -> Iterator[tuple[str, Manifest]]:
    prefix = store.layout.manifests_prefix(repo)
    for info in store.objects.list(prefix):
        if info.key.endswith(".json"):
            yield (
                info.key,
                Manifest.from_json(
                    store.objects.get_bytes(info.key), source=store.objects.url_for(info.key)
                ),
            )


def list_models(store: ModelStore, repo: str | None = None) -> list[StoredModel]:
    """Every stored closure (of ``repo``), with the revisions that point at it."""
    revisions: dict[tuple[str, str], list[str]] = {}
    for info in store.objects.list(store.layout.refs_prefix(repo)):
        ref_repo = "/".join(info.key[len(store.layout.refs_prefix()) :].split("/")[:2])
        commit = store.objects.get_bytes(info.key).decode("ascii", "replace").strip()
        revision = store.layout.revision_of_ref(info.key)
        revisions.setdefault((ref_repo, commit), []).append(revision)
    found = [
        StoredModel(
            repo=m.repo,
            commit=m.commit,
            kind=m.kind,
            files=len(m.files),
            bytes=m.total_bytes,
            created=m.created,
            revisions=tuple(sorted(revisions.get((m.repo, m.commit), []))),
        )
        for _, m in _manifests(store, repo)
    ]
    return sorted(found, key=lambda s: (s.repo, s.created, s.commit))


def verify_models(store: ModelStore, repo: str | None = None) -> VerifyReport:
    """Re-hash every blob the manifests (of ``repo``) reference, streaming, in parallel.

    Each blob must hash to its name (SHA-256) and, where manifests recorded one,
    to their BLAKE3 (what restores check).
    """
    blobs: dict[str, int] = {}
    recorded: dict[str, dict[str, list[str]]] = {}  # sha256 -> blake3 -> manifest keys
    count = 0
    for manifest_key, manifest in _manifests(store, repo):
        count += 1
        blobs.update(manifest.blobs)
        for sha256, blake3_hex in manifest.blake3_digests.items():
            recorded.setdefault(sha256, {}).setdefault(blake3_hex, []).append(manifest_key)
    events = store.events
    events.started("verify", repo or "all models", len(blobs), sum(blobs.values()))

    def check(item: tuple[str, int]) -> BlobProblem | None:
        sha256, size = item
        key = store.layout.blob(sha256)
        digest = hashlib.sha256()
        second = blake3.blake3() if sha256 in recorded else None
        got = 0
        try:
            with store.objects.get(key) as body:
                while chunk := body.read(_CHUNK):
                    digest.update(chunk)
                    if second is not None:
                        second.update(chunk)
                    got += len(chunk)
                    events.advanced(len(chunk))
        except ObjectNotFoundError:
            return BlobProblem(key, "missing")
        if got != size or digest.hexdigest() != sha256:
            return BlobProblem(key, f"{got} bytes hashing to {digest.hexdigest()}, expected {size}")
        if second is not None:
            got_blake3 = second.hexdigest()
            wrong = sorted(
                store.objects.url_for(manifest_key)
                for blake3_hex, keys in recorded[sha256].items()
                if blake3_hex != got_blake3
                for manifest_key in keys
            )
            if wrong:
                return BlobProblem(
                    key,
                    f"hashes to its name but to BLAKE3 {got_blake3}, not to what "
                    f"{', '.join(wrong)} records (restores refuse it: remove that manifest "
                    "and pull the model again)",
                )
        return None

    try:
        with ThreadPoolExecutor(max_workers=store.concurrency) as pool:
            results = list(pool.map(check, sorted(blobs.items())))
    finally:
        events.finished()
    problems = tuple(r for r in results if r is not None)
    for problem in problems:
        logger.error("model.verify_failed key=%s problem=%s", problem.key, problem.problem)
    return VerifyReport(
        manifests=count, blobs=len(blobs), bytes=sum(blobs.values()), problems=problems
    )


def remove_model(store: ModelStore, repo: str, commit: str | None = None) -> list[str]:
    """Delete the manifest(s) of ``repo`` (one ``commit`` or all) and refs pointing at them.

    Blobs stay until ``collect_garbage``: another model may share them.
    """
    validate_repo_id(repo)
    if commit is not None:
        validate_commit(commit)
    removed: list[str] = []
    for info in list(store.objects.list(store.layout.refs_prefix(repo))):
        pointed = store.objects.get_bytes(info.key).decode("ascii", "replace").strip()
        if commit is None or pointed == commit:
            store.objects.delete(info.key)
            removed.append(info.key)
    for info in list(store.objects.list(store.layout.manifests_prefix(repo))):
        if commit is None or info.key == store.layout.manifest(repo, commit):
            store.objects.delete(info.key)
            removed.append(info.key)
    for key in removed:
        logger.info("model.removed key=%s", key)
    return removed


def collect_garbage(
    store: ModelStore, *, grace_seconds: float = 24 * 3600, dry_run: bool = False
) -> GcReport:
    """Delete blobs no manifest references and older than ``grace_seconds``; expired leases."""
    referenced: set[str] = set()
    for _, manifest in _manifests(store, None):
        referenced.update(manifest.blobs)
    now = store.clock.now()
    deleted: list[str] = []
    deleted_bytes = 0
    spared = 0
    prefix = store.layout.blobs_prefix
    for info in list(store.objects.list(prefix)):
        if info.key[len(prefix) :] in referenced:
            continue
        modified = info.last_modified or datetime.now(UTC)
        if now - modified.timestamp() < grace_seconds:
            spared += 1
            continue
        if not dry_run:
            store.objects.delete(info.key)
            logger.info("model.blob_collected key=%s bytes=%d", info.key, info.size)
        deleted.append(info.key)
        deleted_bytes += info.size
    leases = () if dry_run else tuple(store.leases.remove_expired())
    return GcReport(
        deleted=tuple(deleted),
        deleted_bytes=deleted_bytes,
        spared_young=spared,
        leases_removed=leases,
        dry_run=dry_run,
    )
