"""Find a stored manifest: by ref, by commit, or adopt a complete one whose ref is missing.

The manifest is the commit point: once it is stored (every blob first), the
model is stored, whether or not its ``refs/<repo>/<revision>`` made it too. A
filler killed between its manifest and its ref (or whose ref PUT failed) leaves
a complete manifest with no ref; the next lookup of that revision finds it by
the ``refs`` the manifest records, checks that every blob it names is present
with the recorded size, writes the missing ref and uses it. (Every blob is
verified again while it is restored; a bad one is healed or named then.)
"""

from __future__ import annotations

import logging

from ivrimeet.errors import IntegrityError, IvrimeetError, ObjectNotFoundError
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.manifest import Manifest
from ivrimeet.models.repo_ids import is_commit, validate_commit
from ivrimeet.objects.store import ObjectStore

__all__ = ["find_manifest", "stored_manifests"]

logger = logging.getLogger(__name__)


def _read(objects: ObjectStore, layout: BucketLayout, repo: str, commit: str) -> Manifest | None:
    key = layout.manifest(repo, commit)
    try:
        data = objects.get_bytes(key)
    except ObjectNotFoundError:
        return None
    manifest = Manifest.from_json(data, source=objects.url_for(key))
    if manifest.repo != repo or manifest.commit != commit:
        raise IntegrityError(
            f"{objects.url_for(key)} describes {manifest.repo}@{manifest.commit}, "
            "not the model its key names.",
            hints=["remove it (`ivrimeet models rm REPO@COMMIT`) and pull the model again"],
        )
    return manifest


def find_manifest(
    objects: ObjectStore,
    layout: BucketLayout,
    repo: str,
    revision: str,
    *,
    commit: str | None = None,
) -> Manifest | None:
    """The stored manifest for ``repo@revision`` (or exactly ``commit``), or None.

    A revision whose ref is missing is looked up among the repo's manifests
    (``_adopt_orphan``), and its ref written when one is found complete.
    """
    if commit is None and is_commit(revision):
        commit = revision
    if commit is not None:
        return _read(objects, layout, repo, commit)
    try:
        raw = objects.get_bytes(layout.ref(repo, revision))
    except ObjectNotFoundError:
        return _adopt_orphan(objects, layout, repo, revision)
    return _read(objects, layout, repo, validate_commit(raw.decode("ascii", "replace").strip()))


def stored_manifests(
    objects: ObjectStore, layout: BucketLayout, repo: str | None = None
) -> list[Manifest]:
    """Every readable manifest under ``repo`` (all repos if None); unreadable ones are skipped."""
    found: list[Manifest] = []
    for info in list(objects.list(layout.manifests_prefix(repo))):
        try:
            found.append(
                Manifest.from_json(objects.get_bytes(info.key), source=objects.url_for(info.key))
            )
        except ObjectNotFoundError:
            continue  # removed since the listing
        except IvrimeetError as exc:
            logger.warning("model.manifest_unreadable key=%s reason=%s", info.key, exc.summary)
    return found


def _complete(objects: ObjectStore, layout: BucketLayout, manifest: Manifest) -> bool:
    for sha256, size in manifest.blobs.items():
        try:
            if objects.head(layout.blob(sha256)).size != size:
                return False
        except ObjectNotFoundError:
            return False
    return True


def _adopt_orphan(
    objects: ObjectStore, layout: BucketLayout, repo: str, revision: str
) -> Manifest | None:
    """A complete manifest that records ``repo@revision`` although its ref is missing."""
    candidates = [
        manifest
        for manifest in stored_manifests(objects, layout, repo)
        if any(ref.repo == repo and ref.revision == revision for ref in manifest.refs)
    ]
    # Newest fill first: a revision that moved has its latest commit adopted.
    for manifest in sorted(candidates, key=lambda m: m.created, reverse=True):
        if not _complete(objects, layout, manifest):
            logger.info(
                "model.orphan_incomplete repo=%s commit=%s revision=%s",
                repo,
                manifest.commit,
                revision,
            )
            continue
        key = layout.ref(repo, revision)
        try:
            objects.put(key, manifest.commit.encode())
            logger.info(
                "model.ref_repaired repo=%s revision=%s commit=%s key=%s",
                repo,
                revision,
                manifest.commit,
                key,
            )
        except IvrimeetError as exc:
            # Still usable: the manifest is complete; the next load tries the ref again.
            logger.warning("model.ref_repair_failed key=%s reason=%s", key, exc.summary)
        return manifest
    return None
