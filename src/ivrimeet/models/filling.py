"""Store a filled closure in the bucket: blobs first, then the manifest (create-only), then the ref.

The order is what makes a crash harmless at every point:

    lease  ->  blobs/sha256/<hex> (each, skipped if present)  ->  manifests/<repo>/<commit>.json
           ->  refs/<repo>/<revision>  ->  lease released

* killed before the manifest: only content-addressed blobs exist, which the
  next fill skips uploading (and ``models gc`` removes if never referenced);
* killed after the manifest, before the ref: the manifest is complete and is
  adopted by the next lookup, which writes the ref (``lookup.py``);
* killed before releasing the lease: the next successful load of the model,
  or ``models gc``, removes a lease whose owner is provably gone or expired.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivrimeet.errors import AlreadyExistsError, CreateOnlyUnsupportedError, IvrimeetError
from ivrimeet.models.blobs import LocalBlob, upload_blobs
from ivrimeet.models.closure import cache_folder_name
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.manifest import Manifest
from ivrimeet.models.progress import NO_EVENTS, TransferEvents
from ivrimeet.models.repo_ids import is_commit
from ivrimeet.objects.store import ObjectStore

__all__ = ["local_blobs", "store_closure", "write_ref"]

logger = logging.getLogger(__name__)


def local_blobs(manifest: Manifest, cache: Path) -> dict[str, Path]:
    """Where each unique body of a filled closure is on disk: sha256 -> path."""
    found: dict[str, Path] = {}
    for entry in manifest.files:
        if entry.sha256 not in found:
            snapshot = cache / cache_folder_name(entry.repo) / "snapshots" / entry.commit
            found[entry.sha256] = (snapshot / entry.path).resolve()
    return found


def store_closure(
    objects: ObjectStore,
    layout: BucketLayout,
    manifest: Manifest,
    cache: Path,
    revision: str,
    *,
    strict: bool,
    concurrency: int = 8,
    events: TransferEvents = NO_EVENTS,
) -> bool:
    """Upload blobs, then the manifest (create-only, last), then the ref; True if all stored.

    ``strict``: a failure raises (``models pull``) instead of a ``model.store_failed`` warning.
    """
    blobs = [
        LocalBlob(sha256, manifest.blobs[sha256], path)
        for sha256, path in local_blobs(manifest, cache).items()
    ]
    key = layout.manifest(manifest.repo, manifest.commit)
    try:
        result = upload_blobs(objects, layout, blobs, concurrency=concurrency, events=events)
        try:
            objects.put_if_absent(key, manifest.to_json(), content_type="application/json")
        except AlreadyExistsError:
            logger.info("model.manifest_exists key=%s", key)
        except CreateOnlyUnsupportedError:
            # rclone and friends: identical closures overwrite each other harmlessly.
            objects.put(key, manifest.to_json(), content_type="application/json")
        write_ref(objects, layout, manifest.repo, revision, manifest.commit, strict=True)
    except IvrimeetError as exc:
        if strict:
            raise
        logger.warning(
            "model.store_failed repo=%s commit=%s location=%s reason=%s hint=%s",
            manifest.repo,
            manifest.commit,
            objects.location,
            exc.summary,
            exc.hints[0] if exc.hints else "",
        )
        return False
    logger.info(
        "model.stored repo=%s commit=%s blobs=%d uploaded=%d skipped=%d bytes=%d seconds=%.2f",
        manifest.repo,
        manifest.commit,
        len(blobs),
        result.uploaded,
        result.skipped,
        result.bytes,
        result.seconds,
    )
    return True


def write_ref(
    objects: ObjectStore,
    layout: BucketLayout,
    repo: str,
    revision: str,
    commit: str,
    *,
    strict: bool,
) -> None:
    """Point ``refs/<repo>/<revision>`` at ``commit`` (nothing to do for a commit revision)."""
    if is_commit(revision):
        return
    try:
        objects.put(layout.ref(repo, revision), commit.encode())
    except IvrimeetError as exc:
        if strict:
            raise
        logger.warning(
            "model.ref_failed repo=%s revision=%s reason=%s", repo, revision, exc.summary
        )
