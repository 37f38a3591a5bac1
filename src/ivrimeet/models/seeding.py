"""Before a fill from Hugging Face, restore the files the bucket already holds for that repo.

A repo can be stored inside another model's closure without a manifest of its
own: a pyannote pipeline whose embedding is ``speechbrain/spkrec-ecapa-voxceleb``
stores that repo's files too, and ``EMBEDDING_MODEL`` names the same repo. On a
cold start the encoder's own fill would then download every one of those files
from Hugging Face a second time. Seeding restores them (verified, as any
restore) into the fill's empty cache at the commit the other closure recorded
for the revision; the loader then runs online as usual and ``huggingface_hub``
finds each file in the cache (a metadata request, no body), downloading only
what the Hub has newer or what the other closure lacked.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivrimeet.errors import IvrimeetError
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.lookup import stored_manifests
from ivrimeet.models.manifest import Manifest
from ivrimeet.models.restore import restore_closure
from ivrimeet.objects.store import ObjectStore

__all__ = ["seed_from_bucket"]

logger = logging.getLogger(__name__)


def _stored_subset(manifests: list[Manifest], repo: str, revision: str) -> Manifest | None:
    """The files of ``repo@revision`` held by the newest closure that recorded them (its own
    manifest, or another model's closure that read the repo)."""
    for manifest in sorted(manifests, key=lambda m: m.created, reverse=True):
        for ref in manifest.refs:
            if ref.repo != repo or revision not in (ref.revision, ref.commit):
                continue
            files = tuple(f for f in manifest.files if f.repo == repo and f.commit == ref.commit)
            if files:
                return Manifest(
                    repo=repo,
                    commit=ref.commit,
                    kind=manifest.kind,
                    files=files,
                    refs=(ref,) if ref.revision == revision else (),
                    created=manifest.created,
                )
    return None


def seed_from_bucket(
    objects: ObjectStore,
    layout: BucketLayout,
    repo: str,
    revision: str,
    cache: Path,
    *,
    concurrency: int,
) -> int:
    """Restore into ``cache`` the files of ``repo@revision`` a stored closure holds.

    Returns how many files were seeded (0 when no closure holds the repo, or the
    bucket could not serve them: the fill then downloads them, as without seeding).
    """
    try:
        subset = _stored_subset(stored_manifests(objects, layout), repo, revision)
        if subset is None:
            return 0
        result = restore_closure(objects, layout, subset, cache, concurrency=concurrency)
    except IvrimeetError as exc:
        logger.info("model.seed_skipped repo=%s revision=%s reason=%s", repo, revision, exc.summary)
        return 0
    seeded = len(subset.files) - sum(
        1 for f in subset.files if f.sha256 in {b.sha256 for b in result.bad}
    )
    logger.info(
        "model.seeded repo=%s revision=%s commit=%s files=%d bytes=%d",
        repo,
        revision,
        subset.commit,
        seeded,
        result.bytes,
    )
    return seeded
