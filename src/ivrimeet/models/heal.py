"""Heal a restored closure's bad blobs: fetch each file again from Hugging Face at its pinned
commit, check it against the manifest, put it in the cache and replace the blob in the bucket."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ivrimeet.errors import IntegrityError, IvrimeetError
from ivrimeet.models.blobs import LocalBlob, upload_blobs
from ivrimeet.models.closure import hash_file
from ivrimeet.models.hub import HubAccess, download_file, resolve_commit
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.manifest import Manifest
from ivrimeet.models.restore import BadBlob, blob_path, link_snapshot
from ivrimeet.models.tempcache import temp_cache
from ivrimeet.objects.store import ObjectStore

__all__ = ["heal_blobs"]

logger = logging.getLogger(__name__)


def heal_blobs(
    objects: ObjectStore,
    layout: BucketLayout,
    hub: HubAccess,
    tmp_dir: Path,
    manifest: Manifest,
    bad: tuple[BadBlob, ...],
    cache: Path,
) -> None:
    """Replace every bad blob in ``cache`` (and the bucket); ``IntegrityError`` if one cannot be."""
    for blob in bad:
        entries = [f for f in manifest.files if f.sha256 == blob.sha256]
        source = entries[0]
        key = layout.blob(blob.sha256)
        logger.warning(
            "model.blob_bad key=%s repo=%s path=%s problem=%s healing_from=huggingface",
            key,
            source.repo,
            source.path,
            blob.problem,
        )
        try:
            with temp_cache(tmp_dir) as heal_dir:
                # One fast request first: hf_hub_download retries an outage for ~20 s.
                resolve_commit(hub, source.repo, source.commit)
                fetched = download_file(hub, source.repo, source.path, source.commit, heal_dir)
                fetched = fetched.resolve()
                size, sha256 = hash_file(fetched)
                if (size, sha256) != (blob.size, blob.sha256):
                    raise IntegrityError(
                        f"Hugging Face's {source.repo}/{source.path}@{source.commit} is "
                        f"{size} bytes hashing to {sha256}; the manifest expects {blob.size} "
                        f"bytes hashing to {blob.sha256}.",
                        hints=["remove the model (`ivrimeet models rm`) and pull it again"],
                    )
                first = blob_path(cache, source.repo, blob.sha256)
                first.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(fetched, first)
        except IvrimeetError as exc:
            raise IntegrityError(
                f"Blob {objects.url_for(key)} of {manifest.repo}@{manifest.commit} "
                f"{blob.problem}, and it could not be fetched again from Hugging Face.",
                details=[
                    f"file: {source.repo}/{source.path}@{source.commit}",
                    f"Hugging Face: {exc.summary}",
                ],
                hints=[
                    "the model was not loaded; retry when Hugging Face is reachable "
                    "(the blob is then replaced), or run `ivrimeet models verify`",
                    *exc.hints,
                ],
            ) from exc
        for repo in {e.repo for e in entries} - {source.repo}:
            other = blob_path(cache, repo, blob.sha256)
            other.parent.mkdir(parents=True, exist_ok=True)
            other.hardlink_to(first)
        for entry in entries:
            link_snapshot(cache, entry)
        try:
            upload_blobs(
                objects,
                layout,
                [LocalBlob(blob.sha256, blob.size, first)],
                overwrite=frozenset({blob.sha256}),
            )
            logger.info("model.blob_healed key=%s bytes=%d", key, blob.size)
        except IvrimeetError as exc:
            logger.warning("model.blob_heal_upload_failed key=%s reason=%s", key, exc.summary)
