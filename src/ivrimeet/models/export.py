"""Export a stored model from the bucket into a directory, as a Hugging Face cache, and keep it.

``ivrimeet models export REPO[@REVISION] DIR`` (for baking a model into an
image, for debugging, for tools that read the Hugging Face cache)::

    DIR/
      models--org--name/{blobs,snapshots,refs}     every repo of the closure
      ...

Steps: the ref and the manifest are read from the bucket (one GET each); the
closure is restored by ``restore_closure``, exactly as a cold start restores it
(free space checked first, blobs verified while they stream in); the
config files are checked as before a load (``guard_cache``). Everything lands in
a hidden staging folder inside ``DIR`` and is moved into place only when all of
it is verified; on any failure the staging folder is removed (and ``DIR`` too,
if the export created it), so nothing half-written is left. Hugging Face is
never contacted: a model that is not stored is an error (``models pull`` first).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ivrimeet.errors import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    ModelNotFoundError,
)
from ivrimeet.models.config_guard import guard_cache
from ivrimeet.models.repo_ids import validate_repo_id, validate_revision
from ivrimeet.models.restore import restore_closure
from ivrimeet.models.store import ModelStore

__all__ = ["ExportResult", "export_model"]

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".ivrimeet-export-"


@dataclass(frozen=True)
class ExportResult:
    """What ``export_model`` wrote: the model, its commit and the closure's size."""

    repo: str
    revision: str
    commit: str
    directory: Path
    repos: tuple[str, ...]
    files: int
    bytes: int
    seconds: float


def export_model(
    store: ModelStore, repo: str, revision: str | None, directory: Path
) -> ExportResult:
    """Restore ``repo@revision`` (default ``main``) from the bucket into ``directory``.

    ``directory`` must be empty or not exist yet. Raises ``ModelNotFoundError``
    when the bucket does not hold the model, ``ConflictError`` when
    ``directory`` is not empty, ``InvalidInputError`` when it cannot be written,
    ``DiskFullError`` before fetching when the closure does not fit, and
    ``IntegrityError`` when a stored blob does not hash to what the manifest records.
    """
    started = time.monotonic()
    repo = validate_repo_id(repo)
    revision = validate_revision(revision or "main")
    created = _prepare_directory(directory)
    staging = directory / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        staging.mkdir()
        manifest = store.find_manifest(repo, revision)
        if manifest is None:
            raise ModelNotFoundError(
                f"{repo}@{revision} is not stored in {store.location}.",
                hints=[
                    f"store it first: `ivrimeet models pull {repo}"
                    + ("" if revision == "main" else f" --revision {revision}")
                    + "`",
                    "`ivrimeet models list` shows what the bucket holds",
                ],
            )
        result = restore_closure(
            store.objects,
            store.layout,
            manifest,
            staging,
            concurrency=store.concurrency,
            events=store.events,
        )
        if result.bad:
            raise IntegrityError(
                f"{len(result.bad)} blob(s) of {repo}@{manifest.commit} in {store.location} "
                "are missing or corrupt; nothing was exported.",
                details=[
                    f"{store.objects.url_for(store.layout.blob(b.sha256))}: {b.problem}"
                    for b in result.bad
                ],
                hints=[
                    "loading the model heals bad blobs from Hugging Face "
                    "(`ivrimeet models warm`, or `ivrimeet models pull REPO --refresh`)",
                    "`ivrimeet models verify` lists every bad blob in the bucket",
                ],
            )
        guard_cache(staging)
        for entry in sorted(staging.iterdir()):
            if entry.name.startswith("models--"):
                entry.rename(directory / entry.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for entry in directory.iterdir():
                if entry.name.startswith("models--"):
                    shutil.rmtree(entry, ignore_errors=True)
        raise
    shutil.rmtree(staging)
    exported = ExportResult(
        repo=repo,
        revision=revision,
        commit=manifest.commit,
        directory=directory,
        repos=manifest.repos,
        files=len(manifest.files),
        bytes=manifest.total_bytes,
        seconds=time.monotonic() - started,
    )
    logger.info(
        "model.exported repo=%s revision=%s commit=%s path=%s repos=%d files=%d bytes=%d "
        "seconds=%.2f",
        repo,
        revision,
        exported.commit,
        directory,
        len(exported.repos),
        exported.files,
        exported.bytes,
        exported.seconds,
    )
    return exported


def _prepare_directory(directory: Path) -> bool:
    """Make sure ``directory`` exists, is empty and writable; True if it was created here."""
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(
            f"Cannot export into {directory}: it is a file, not a directory.",
            hints=["name a new or empty directory"],
        )
    if directory.is_dir():
        present = sorted(p.name for p in directory.iterdir())
        if present:
            shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
            raise ConflictError(
                f"Cannot export into {directory}: it is not empty ({shown}).",
                hints=["name a new or empty directory, or remove what it holds"],
            )
        if not os.access(directory, os.W_OK | os.X_OK):
            raise _not_writable(directory, "it is not writable")
        return False
    try:
        directory.mkdir(parents=True)
    except OSError as exc:
        raise _not_writable(directory, exc.strerror or str(exc)) from exc
    return True


def _not_writable(directory: Path, why: str) -> InvalidInputError:
    return InvalidInputError(
        f"Cannot export into {directory}: {why}.",
        hints=["choose a directory you can write to, or fix its permissions"],
    )
