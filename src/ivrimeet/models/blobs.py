"""Upload a closure's file bodies to ``blobs/sha256/<hex>``, each once, in parallel.

A blob's key is its content's sha256, so uploading one that is already there is
skipped (one HEAD), and two processes uploading the same blob at once write
identical bytes: harmless. ``overwrite`` names blobs to upload even if present,
for healing a blob found corrupt in the bucket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.progress import NO_EVENTS, TransferEvents
from ivrimeet.objects.store import ObjectStore

__all__ = ["LocalBlob", "UploadResult", "upload_blobs"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalBlob:
    """A body on local disk, known by its sha256 and size."""

    sha256: str
    size: int
    path: Path


@dataclass(frozen=True)
class UploadResult:
    """How many blobs went up, how many were already there, and the bytes sent."""

    uploaded: int
    skipped: int
    bytes: int
    seconds: float


# Progress moves per chunk handed to the uploader (as rich's ``wrap_file`` counts
# reads): an object store that reports once per object would otherwise hold a bar
# of a 300 MB blob at 0 until it jumps to 100 %. The S3 uploader reads at most its
# part buffers ahead of what the server has acknowledged.
_READ_CHUNK = 1024 * 1024


def _read_counted(path: Path, on_bytes: Callable[[int], None]) -> Generator[bytes, None, None]:
    """``path``'s body in chunks, calling ``on_bytes`` with each chunk's size as it is read."""
    with open(path, "rb") as body:
        while chunk := body.read(_READ_CHUNK):
            on_bytes(len(chunk))
            yield chunk


def upload_blobs(
    objects: ObjectStore,
    layout: BucketLayout,
    blobs: Iterable[LocalBlob],
    *,
    concurrency: int = 8,
    events: TransferEvents = NO_EVENTS,
    overwrite: frozenset[str] = frozenset(),
) -> UploadResult:
    """Put every blob not yet in the bucket; raise the first object-store error."""
    unique = {b.sha256: b for b in blobs}
    started = time.monotonic()
    events.started("upload", "upload to bucket", len(unique), sum(b.size for b in unique.values()))

    def one(blob: LocalBlob) -> int:
        key = layout.blob(blob.sha256)
        if blob.sha256 not in overwrite and objects.exists(key):
            events.advanced(blob.size)
            return -1
        with closing(_read_counted(blob.path, events.advanced)) as body:
            objects.put(key, body)
        logger.debug("model.blob_uploaded key=%s bytes=%d", key, blob.size)
        return blob.size

    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            results = list(pool.map(one, unique.values()))
    finally:
        events.finished()
    sent = [r for r in results if r >= 0]
    return UploadResult(
        uploaded=len(sent),
        skipped=len(results) - len(sent),
        bytes=sum(sent),
        seconds=time.monotonic() - started,
    )
