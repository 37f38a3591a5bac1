"""Restore a manifest's closure from the bucket into a fresh Hugging Face cache directory.

Result, for every repo of the closure (the layout ``huggingface_hub`` reads)::

    <cache>/models--org--name/
        blobs/<sha256>                        the body, verified against the manifest
        snapshots/<commit>/<path> -> ../../blobs/<sha256>
        refs/<revision>                       the commit, as recorded at fill time

Bodies are fetched in parallel (largest first), each with
``ObjectStore.download_to_file`` (on S3: parallel ranged GETs written in place,
no boto3 client needed), hashed while they stream in (the downloader feeds the
hasher in order, so no second pass reads the file). The hash is the BLAKE3 the
manifest recorded at fill time (about a quarter of SHA-256's CPU per byte
here, which on a CPU-bound restore is wall time), or SHA-256, the blob's
name, for manifests filled before BLAKE3 was recorded. Each blob lands under
a temporary name and is renamed into place only once its digest and size
match, so a corrupt or truncated blob is never visible to a loader.
Blobs that are missing or do not match are returned in ``RestoreResult.bad``
(the caller heals them from Hugging Face or gives up with an
``IntegrityError``).

Blobs of at most ``SMALL_BLOB_BYTES`` (configs, tokenizers, the 25 small files
of a typical repo) take a shorter path: one GET on a pooled keep-alive
connection, hashed in memory, written once. A small model is mostly such
files, and for them a fresh connection, a sized temp file and a hasher thread
per file cost more than the bytes (``README.md``, Performance).

Before anything is fetched, free space under the cache is checked against the
closure's size (``DiskFullError``).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import blake3

from ivrimeet.errors import DiskFullError, ObjectNotFoundError
from ivrimeet.models.closure import cache_folder_name
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.localcache import LocalBlobCache
from ivrimeet.models.manifest import Manifest, ManifestFile
from ivrimeet.models.progress import NO_EVENTS, TransferEvents
from ivrimeet.objects.store import Digest, ObjectStore

__all__ = [
    "DISK_MARGIN_BYTES",
    "BadBlob",
    "RestoreResult",
    "blob_path",
    "check_free_space",
    "link_snapshot",
    "restore_closure",
    "write_refs",
]

logger = logging.getLogger(__name__)

DISK_MARGIN_BYTES = 64 * 1024 * 1024
"""Free space kept beyond the closure's size, for the loader's own small files."""
SMALL_BLOB_BYTES = 1024 * 1024
"""Blobs up to this size are fetched into memory on a pooled connection (8 threads: <= 8 MiB)."""


@dataclass(frozen=True)
class BadBlob:
    """A blob the bucket could not provide intact: ``problem`` says how."""

    sha256: str
    size: int
    problem: str


@dataclass(frozen=True)
class RestoreResult:
    """What a restore fetched, and which blobs were missing or corrupt."""

    files: int
    bytes: int
    seconds: float
    bad: tuple[BadBlob, ...]
    local_blobs: int = 0
    """How many blobs came from the local blob cache instead of the bucket."""
    blob_count: int = 0

    @property
    def all_local(self) -> bool:
        """True when no blob had to be fetched from the bucket."""
        return not self.bad and self.local_blobs > 0 and self.local_blobs == self.blob_count


def check_free_space(directory: Path, needed: int, what: str) -> None:
    """Raise ``DiskFullError`` unless ``directory`` has ``needed`` bytes plus a margin free."""
    free = shutil.disk_usage(directory).free
    if free < needed + DISK_MARGIN_BYTES:
        raise DiskFullError(
            f"Not enough free disk under {directory} for {what}: "
            f"{needed} bytes needed (+{DISK_MARGIN_BYTES} margin), {free} free.",
            hints=[
                "free space on that volume, or point IVRIMEET_TMP_DIR at a larger one",
                "MODEL_CACHE_MAX_BYTES keeps local model copies: lower it to make room",
            ],
        )


def blob_path(cache_dir: Path, repo: str, sha256: str) -> Path:
    """Where the body ``sha256`` of ``repo`` lives in the restored cache."""
    return cache_dir / cache_folder_name(repo) / "blobs" / sha256


def restore_closure(
    objects: ObjectStore,
    layout: BucketLayout,
    manifest: Manifest,
    cache_dir: Path,
    *,
    concurrency: int = 8,
    events: TransferEvents = NO_EVENTS,
    local: LocalBlobCache | None = None,
) -> RestoreResult:
    """Fetch and verify every blob of ``manifest`` into ``cache_dir``, then link snapshots and refs.

    Snapshot links are made only for intact blobs; see ``RestoreResult.bad``.
    """
    started = time.monotonic()
    sizes = manifest.blobs
    blake3_digests = manifest.blake3_digests
    check_free_space(cache_dir, sum(sizes.values()), f"{manifest.repo}@{manifest.commit}")
    owners: dict[str, list[str]] = {}
    for entry in manifest.files:
        repos = owners.setdefault(entry.sha256, [])
        if entry.repo not in repos:
            repos.append(entry.repo)
    for repo in manifest.repos:
        (cache_dir / cache_folder_name(repo) / "blobs").mkdir(parents=True, exist_ok=True)

    events.started("restore", f"{manifest.repo}", len(sizes), sum(sizes.values()))

    taken_locally: list[str] = []

    def one(sha256: str) -> BadBlob | None:
        first = blob_path(cache_dir, owners[sha256][0], sha256)
        if local is not None and local.take(
            sha256, sizes[sha256], first, blake3_digests.get(sha256)
        ):
            events.advanced(sizes[sha256])
            taken_locally.append(sha256)  # list.append is atomic under the GIL
            problem = None
        else:
            key = layout.blob(sha256)
            problem = _fetch_verified(
                objects, key, sha256, blake3_digests.get(sha256), sizes[sha256], first, events
            )
            if problem is None and local is not None:
                local.keep(sha256, first)
        if problem is not None:
            return BadBlob(sha256=sha256, size=sizes[sha256], problem=problem)
        for repo in owners[sha256][1:]:
            os.link(first, blob_path(cache_dir, repo, sha256))
        return None

    # Largest first: the big ranged downloads start at once, small files fill the gaps.
    order = sorted(sizes, key=lambda s: sizes[s], reverse=True)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(order)))) as pool:
            results = list(pool.map(one, order))
    finally:
        events.finished()
    bad = tuple(r for r in results if r is not None)
    bad_shas = {b.sha256 for b in bad}
    made: set[Path] = set()
    for entry in manifest.files:
        if entry.sha256 not in bad_shas:
            link_snapshot(cache_dir, entry, made)
    write_refs(cache_dir, manifest)
    fetched = sum(size for sha, size in sizes.items() if sha not in bad_shas)
    return RestoreResult(
        files=len(manifest.files),
        bytes=fetched,
        seconds=time.monotonic() - started,
        bad=bad,
        local_blobs=len(taken_locally),
        blob_count=len(sizes),
    )


def _fetch_verified(
    objects: ObjectStore,
    key: str,
    sha256: str,
    blake3_hex: str | None,
    size: int,
    target: Path,
    events: TransferEvents,
) -> str | None:
    """Download ``key`` to ``target`` if it hashes to ``blake3_hex`` (when recorded, else to
    ``sha256``); else a problem description."""
    partial = target.with_name(f".{target.name}.incomplete")
    # No retry loop here: every request of the object store already goes through its
    # one retry policy (objects/retry.py), each part of a download included.
    try:
        digest = hashlib.sha256() if blake3_hex is None else blake3.blake3()
        if size <= SMALL_BLOB_BYTES:
            got_size = _fetch_small(objects, key, size, partial, digest)
            events.advanced(got_size)
        else:
            got_size = objects.download_to_file(
                key, partial, progress=events.advanced, digest=digest
            ).size
        got_hex = digest.hexdigest()
    except ObjectNotFoundError:
        partial.unlink(missing_ok=True)
        return "missing from the bucket"
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if got_size != size or got_hex != (blake3_hex or sha256):
        partial.unlink(missing_ok=True)
        if blake3_hex is None:
            return f"is {got_size} bytes hashing to {got_hex}, expected {size} bytes"
        return f"is {got_size} bytes with BLAKE3 {got_hex}, expected {size} bytes with {blake3_hex}"
    os.replace(partial, target)
    return None


def _fetch_small(objects: ObjectStore, key: str, size: int, partial: Path, digest: Digest) -> int:
    """Read a small blob into memory, hash it, write it to ``partial``; returns its size.

    At most ``size + 1`` bytes are read, so a blob that grew in the bucket costs no
    memory beyond that and is reported as the wrong size.
    """
    with objects.get(key, start=0, end=size) as handle:
        data = handle.read()
    digest.update(data)
    try:
        with open(partial, "wb") as out:
            out.write(data)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"Not enough disk for {partial.parent} ({len(data)} bytes of {key}).",
                hints=["free space on that volume or point IVRIMEET_TMP_DIR elsewhere"],
            ) from exc
        raise
    return len(data)


def link_snapshot(cache_dir: Path, entry: ManifestFile, made: set[Path] | None = None) -> None:
    """Make ``snapshots/<commit>/<path>`` of ``entry`` a relative link to its blob.

    ``made``: folders already created by earlier calls (skips a ``mkdir`` per
    file: system calls are slow in sandboxed containers).
    """
    repo_dir = cache_dir / cache_folder_name(entry.repo)
    link = repo_dir / "snapshots" / entry.commit / entry.path
    if made is None or link.parent not in made:
        link.parent.mkdir(parents=True, exist_ok=True)
        if made is not None:
            made.add(link.parent)
    target = os.path.relpath(repo_dir / "blobs" / entry.sha256, link.parent)
    try:
        link.symlink_to(target)
    except FileExistsError:
        link.unlink()
        link.symlink_to(target)


def write_refs(cache_dir: Path, manifest: Manifest) -> None:
    """Write every ref of ``manifest`` as ``refs/<revision>`` files of its repo."""
    for ref in manifest.refs:
        path = cache_dir / cache_folder_name(ref.repo) / "refs" / ref.revision
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ref.commit)
