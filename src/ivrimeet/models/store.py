"""``ModelStore``: models from the bucket when stored there, else from Hugging Face into the bucket.

Lookup order of every load (``ModelStore.open``)::

    1. bucket: refs/<repo>/<revision> -> commit -> manifests/<repo>/<commit>.json
         -> restore blobs into a fresh temporary cache (parallel, sha256-verified)
         -> corrupt or missing blobs healed from Hugging Face, file by file
         -> config files checked (config_guard) -> loader runs offline (0 Hub requests)
       (a complete manifest whose ref is missing is adopted and its ref written: lookup.py)
    2. not stored: take the fill lease, or wait for whoever holds it (importing the
       loader's libraries meanwhile), then go to 1
         -> files of the repo another stored closure holds are restored first (seeding.py)
         -> loader runs online into a fresh temporary cache
         -> config files checked again (never store what a restore would refuse)
         -> upload every blob of the closure (skipping those present)
         -> manifest, create-only, LAST (the commit point) -> ref (filling.py)
    3. bucket unreachable: step 2 without the bucket, with a warning;
       Hugging Face unreachable too: one error naming both attempts.

Once a load succeeds, leases of the model left by dead or expired fillers are
removed. The temporary cache is removed when the model is in memory (``load``)
or when the ``open`` block ends (``materialize``); then one ``model.loaded``
line says where the model came from and what was freed (report.py). Within a process, loads of
the same model take turns (single flight); across processes and machines the
lease does the same (see ``lease.py``).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ivrimeet.errors import (
    AccessError,
    ConflictError,
    IvrimeetError,
    UnavailableError,
)
from ivrimeet.models.clock import Clock, SystemClock
from ivrimeet.models.config_guard import guard_cache
from ivrimeet.models.coordination import Warmup, coordinated_fill, single_flight
from ivrimeet.models.filling import write_ref
from ivrimeet.models.heal import heal_blobs
from ivrimeet.models.hub import HubAccess, resolve_commit
from ivrimeet.models.hubfill import both_failed, fill_from_hub
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.lease import Leases
from ivrimeet.models.localcache import BLOB_CACHE_NAME, LocalBlobCache
from ivrimeet.models.lookup import find_manifest
from ivrimeet.models.manifest import Manifest, ModelKind
from ivrimeet.models.progress import NO_EVENTS, TransferEvents
from ivrimeet.models.repo_ids import validate_repo_id, validate_revision
from ivrimeet.models.report import Loaded, LoadReport, Origin, disk_bytes, log_loaded
from ivrimeet.models.restore import restore_closure
from ivrimeet.models.tempcache import temp_cache
from ivrimeet.objects.store import ObjectStore

if TYPE_CHECKING:
    from ivrimeet.models.loaders import Loader

__all__ = ["GIB", "LoadReport", "Loaded", "ModelStore", "serves"]

logger = logging.getLogger(__name__)

GIB = 1024**3
T = TypeVar("T")


def serves(stored: ModelKind, wanted: ModelKind) -> bool:
    """Whether a closure filled by the ``stored`` loader serves the ``wanted`` loader."""
    return stored == wanted or wanted == "snapshot" or (stored, wanted) == ("snapshot", "encoder")


class ModelStore:
    """Models in object storage under ``prefix``, filled from Hugging Face on first use.

    Built once by an entry point (``ivrimeet.runtime.model_store(settings)``) and
    shared. Thread-safe.

    - ``objects``: where the models live (``S3Store`` or ``LocalStore``);
    - ``hub``: Hugging Face endpoint and token (used only when the bucket lacks a model);
    - ``tmp_dir``: where temporary caches are made (``IVRIMEET_TMP_DIR``);
    - ``disk_warning_bytes``: log ``disk.low`` when free space there drops below this;
    - ``lease_seconds``: how long a fill lease lasts before others may take over;
    - ``wait_seconds``: how long to wait for another process's fill before giving up;
    - ``concurrency``: parallel blob transfers;
    - ``cache_max_bytes``: keep verified blobs under ``tmp_dir`` up to this many
      bytes for later loads (``MODEL_CACHE_MAX_BYTES``; 0 keeps nothing);
    - ``clock`` and ``events``: injectable time and progress callbacks.
    """

    def __init__(
        self,
        objects: ObjectStore,
        *,
        hub: HubAccess,
        tmp_dir: Path,
        prefix: str = "models/",
        disk_warning_bytes: int = 2 * GIB,
        lease_seconds: float = 600.0,
        wait_seconds: float = 1800.0,
        concurrency: int = 8,
        cache_max_bytes: int = 0,
        clock: Clock | None = None,
        events: TransferEvents = NO_EVENTS,
        on_loaded: Callable[[LoadReport], None] | None = None,
    ) -> None:
        self.objects = objects
        self.hub = hub
        self.tmp_dir = tmp_dir
        self.layout = BucketLayout(prefix)
        self.disk_warning_bytes = disk_warning_bytes
        self.wait_seconds = wait_seconds
        self.concurrency = concurrency
        self.clock: Clock = clock or SystemClock()
        self.events = events
        # Called with every load's report (the worker turns it into metrics).
        self.on_loaded = on_loaded
        self.leases = Leases(objects, self.layout, self.clock, lease_seconds)
        self.local = (
            LocalBlobCache(tmp_dir / BLOB_CACHE_NAME, cache_max_bytes)
            if cache_max_bytes > 0
            else None
        )

    @property
    def location(self) -> str:
        """``s3://bucket/models/`` or a folder, for messages."""
        return self.objects.url_for(self.layout.prefix + "x")[:-1]

    @property
    def _store_origin(self) -> Origin:
        # Logs must not say "bucket" (or "s3") for the folder store used without S3_BUCKET.
        return "bucket" if self.location.startswith("s3://") else "folder"

    # --- loading ---------------------------------------------------------------

    def load(
        self, loader: Loader[T], repo: str, revision: str | None = None, *, refresh: bool = False
    ) -> Loaded[T]:
        """Load a model; its temporary cache is gone when this returns."""
        with self.open(loader, repo, revision, refresh=refresh) as loaded:
            return loaded

    @contextmanager
    def open(
        self,
        loader: Loader[T],
        repo: str,
        revision: str | None = None,
        *,
        refresh: bool = False,
        strict: bool = False,
    ) -> Iterator[Loaded[T]]:
        """Load a model and keep its temporary cache until the block ends.

        ``refresh`` asks Hugging Face which commit ``revision`` is now and stores
        that one if the bucket lacks it. ``strict`` turns a failed upload to the
        bucket into an error (``models pull``) instead of a warning.
        """
        repo = validate_repo_id(repo)
        revision = validate_revision(revision or "main")
        loaded: Loaded[T] | None = None
        freed = 0
        cache = self.tmp_dir
        try:
            with temp_cache(self.tmp_dir) as cache:
                with single_flight((loader.kind, repo, revision)):
                    loaded = self._prepare(
                        loader, repo, revision, cache, refresh=refresh, strict=strict
                    )
                if self.on_loaded is not None:
                    self.on_loaded(loaded.report)
                self._warn_if_disk_low()
                try:
                    yield loaded
                finally:
                    freed = disk_bytes(cache)
        finally:
            if loaded is not None:
                log_loaded(loaded.report, temp=cache, freed_bytes=freed)
                # After the caller is done with the model: the cleanup's boto3 set-up
                # must not compete with the restore or the model's own loading.
                self._remove_free_leases_meanwhile(repo, revision)

    def _prepare(
        self,
        loader: Loader[T],
        repo: str,
        revision: str,
        cache: Path,
        *,
        refresh: bool,
        strict: bool,
    ) -> Loaded[T]:
        started = self.clock.monotonic()
        warmup = Warmup(loader)
        target = resolve_commit(self.hub, repo, revision) if refresh else None
        bucket_problem: IvrimeetError | None = None
        manifest: Manifest | None = None
        try:
            manifest = self.find_manifest(repo, revision, commit=target)
        except (UnavailableError, AccessError) as exc:
            bucket_problem = exc
            logger.warning(
                "model.bucket_unavailable repo=%s revision=%s location=%s "
                "falling_back=huggingface reason=%s hint=%s",
                repo,
                revision,
                self.location,
                exc.summary,
                exc.hints[0] if exc.hints else "",
            )
        if manifest is not None:
            if target is not None:
                write_ref(self.objects, self.layout, repo, revision, manifest.commit, strict=strict)
            try:
                return self.from_bucket(loader, manifest, revision, cache, started, warmup)
            except UnavailableError as exc:
                # The manifest was readable but the bucket failed mid-restore: the Hub
                # is the promised fallback, into a clean cache (no half-restored files).
                logger.warning(
                    "model.restore_failed repo=%s commit=%s location=%s "
                    "falling_back=huggingface reason=%s",
                    repo,
                    manifest.commit,
                    self.location,
                    exc.summary,
                )
                shutil.rmtree(cache, ignore_errors=True)
                cache.mkdir(parents=True, exist_ok=True)
                return fill_from_hub(
                    self,
                    loader,
                    repo,
                    revision,
                    manifest.commit,
                    cache,
                    started,
                    store=False,
                    bucket_problem=exc,
                    strict=strict,
                )
        if bucket_problem is not None:
            return fill_from_hub(
                self,
                loader,
                repo,
                revision,
                target,
                cache,
                started,
                store=False,
                bucket_problem=bucket_problem,
                strict=strict,
            )
        return coordinated_fill(
            self, loader, repo, revision, target, cache, started, strict, warmup
        )

    # --- leases

    def _remove_free_leases_meanwhile(self, repo: str, revision: str) -> None:
        """Start ``_remove_free_leases`` on a thread; the load does not wait for it.

        Finding leases takes a LIST, which on S3 means a boto3 client (~0.4 s of
        imports and set-up) that a restore from the bucket otherwise never needs;
        it starts once the load's block has ended. If the process exits first, the
        lease is left to the next load, to ``models gc`` or to its expiry: all of
        them remove it (a stale lease of a stored model blocks nobody: only fills
        take leases).
        """
        threading.Thread(
            target=self._remove_free_leases,
            args=(repo, revision),
            name="ivrimeet-lease-cleanup",
            daemon=True,
        ).start()

    def _remove_free_leases(self, repo: str, revision: str) -> None:
        """Remove leases of this model whose owner is provably gone or expired (a dead filler's)."""
        try:
            removed = self.leases.remove_expired(repo, revision)
        except IvrimeetError as exc:
            logger.debug("model.lease_cleanup_failed repo=%s reason=%s", repo, exc.summary)
            return
        for key in removed:
            logger.info("model.lease_removed key=%s reason=owner_gone_or_expired", key)

    # --- from the bucket ------------------------------------------------------

    def find_manifest(
        self, repo: str, revision: str, *, commit: str | None = None
    ) -> Manifest | None:
        """The stored manifest for ``repo@revision`` (or exactly ``commit``), or None."""
        return find_manifest(self.objects, self.layout, repo, revision, commit=commit)

    def from_bucket(
        self,
        loader: Loader[T],
        manifest: Manifest,
        revision: str,
        cache: Path,
        started: float,
        warmup: Warmup,
    ) -> Loaded[T]:
        what = f"{manifest.repo}@{manifest.commit}"
        if not serves(manifest.kind, loader.kind):
            raise ConflictError(
                f"{what} is stored as a {manifest.kind!r} closure; the {loader.kind!r} loader "
                "needs files it does not hold.",
                hints=[
                    f"remove it (`ivrimeet models rm {what}`) and pull it again "
                    f"(`ivrimeet models pull {manifest.repo} --kind {loader.kind}`)",
                ],
            )
        warmup.start()  # import the loader's libraries while the blobs download
        try:
            result = restore_closure(
                self.objects,
                self.layout,
                manifest,
                cache,
                concurrency=self.concurrency,
                events=self.events,
                local=self.local,
            )
        finally:
            warmup.join()
        if result.bad:
            heal_blobs(
                self.objects, self.layout, self.hub, self.tmp_dir, manifest, result.bad, cache
            )
        guard_cache(cache)
        value = loader.load(cache, manifest, self.hub)
        local_only = result.all_local
        report = LoadReport(
            repo=manifest.repo,
            revision=revision,
            commit=manifest.commit,
            kind=loader.kind,
            files=len(manifest.files),
            bytes=manifest.total_bytes,
            seconds=self.clock.monotonic() - started,
            healed=len(result.bad),
            origin="local-cache" if local_only else self._store_origin,
            location="" if local_only else self.location,
        )
        return Loaded(value=value, report=report, manifest=manifest)

    # --- from Hugging Face ----------------------------------------------------

    def both_failed(
        self,
        repo: str,
        revision: str,
        hub_error: IvrimeetError,
        bucket_problem: IvrimeetError | None,
    ) -> IvrimeetError:
        """One error naming why the bucket and why Hugging Face could not serve ``repo``."""
        return both_failed(self, repo, revision, hub_error, bucket_problem)

    # --- reporting ------------------------------------------------------------

    def _warn_if_disk_low(self) -> None:
        free = shutil.disk_usage(self.tmp_dir).free
        if free < self.disk_warning_bytes:
            logger.warning(
                "disk.low path=%s free_bytes=%d threshold_bytes=%d",
                self.tmp_dir,
                free,
                self.disk_warning_bytes,
            )
