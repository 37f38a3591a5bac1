"""``ModelStore``: models from the bucket when stored there, else from Hugging Face into the bucket.

Lookup order of every load (``ModelStore.open``)::

    1. bucket: refs/<repo>/<revision> -> commit -> manifests/<repo>/<commit>.json
         -> restore blobs into a fresh temporary cache (parallel, sha256-verified)
         -> corrupt or missing blobs healed from Hugging Face, file by file
         -> config files checked (config_guard) -> loader runs offline (0 Hub requests)
    2. not stored: take the fill lease (or wait for whoever holds it, then go to 1)
         -> loader runs online into a fresh temporary cache
         -> upload every blob of the closure (skipping those present)
         -> manifest, create-only, LAST (the commit point) -> ref
    3. bucket unreachable: step 2 without the bucket, with a warning;
       Hugging Face unreachable too: one error naming both attempts.

The temporary cache is removed when the model is in memory (``load``) or when
the ``open`` block ends (``materialize``). Within a process, loads of the same
model take turns (single flight); across processes and machines the lease does
the same (see ``lease.py``).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from ivrimeet.errors import (
    AccessError,
    AlreadyExistsError,
    ConflictError,
    CreateOnlyUnsupportedError,
    IntegrityError,
    IvrimeetError,
    LeaseTimeoutError,
    ModelNotFoundError,
    ObjectNotFoundError,
    UnavailableError,
)
from ivrimeet.models.blobs import LocalBlob, upload_blobs
from ivrimeet.models.clock import Clock, SystemClock
from ivrimeet.models.closure import cache_folder_name, hash_file, scan_closure
from ivrimeet.models.config_guard import guard_cache
from ivrimeet.models.hub import HubAccess, download_file, resolve_commit
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.lease import Lease, Leases
from ivrimeet.models.localcache import BLOB_CACHE_NAME, LocalBlobCache
from ivrimeet.models.manifest import Manifest, ManifestRef, ModelKind
from ivrimeet.models.progress import NO_EVENTS, TransferEvents
from ivrimeet.models.repo_ids import (
    is_commit,
    validate_commit,
    validate_repo_id,
    validate_revision,
)
from ivrimeet.models.restore import (
    BadBlob,
    blob_path,
    link_snapshot,
    restore_closure,
)
from ivrimeet.models.tempcache import temp_cache
from ivrimeet.objects.store import ObjectStore

if TYPE_CHECKING:
    from ivrimeet.models.loaders import Loader

__all__ = ["GIB", "LoadReport", "Loaded", "ModelStore", "Source", "serves"]

logger = logging.getLogger(__name__)

GIB = 1024**3
T = TypeVar("T")
Source = Literal["s3", "hf"]

# One lock per (kind, repo, revision), shared by every ModelStore of the process.
_FLIGHTS: dict[tuple[str, str, str], threading.Lock] = {}
_FLIGHTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class LoadReport:
    """Where a model came from and what it cost: one ``model.loaded`` log line."""

    repo: str
    revision: str
    commit: str
    kind: ModelKind
    source: Source
    files: int
    bytes: int
    seconds: float
    healed: int = 0
    stored: bool = False


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A loaded model, its report and the manifest of its closure."""

    value: T
    report: LoadReport
    manifest: Manifest


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
        with ExitStack() as stack:
            cache = stack.enter_context(temp_cache(self.tmp_dir))
            with _single_flight((loader.kind, repo, revision)):
                loaded = self._prepare(
                    loader, repo, revision, cache, refresh=refresh, strict=strict
                )
            self._log_loaded(loaded.report)
            if self.on_loaded is not None:
                self.on_loaded(loaded.report)
            self._warn_if_disk_low()
            yield loaded

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
                self._write_ref(repo, revision, manifest.commit, strict=strict)
            try:
                return self._from_bucket(loader, manifest, revision, cache, started)
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
                return self._from_hub(
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
            return self._from_hub(
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
        return self._coordinated_fill(loader, repo, revision, target, cache, started, strict)

    def _coordinated_fill(
        self,
        loader: Loader[T],
        repo: str,
        revision: str,
        target: str | None,
        cache: Path,
        started: float,
        strict: bool,
    ) -> Loaded[T]:
        """Fill under the lease, or wait for the process holding it and restore its result."""
        deadline = self.clock.monotonic() + self.wait_seconds
        delay = 0.2
        waiting_logged = False
        while True:
            try:
                lease = self.leases.acquire(repo, revision)
            except CreateOnlyUnsupportedError:
                logger.info(
                    "model.lease_unsupported repo=%s location=%s filling_independently=true",
                    repo,
                    self.location,
                )
                return self._from_hub(
                    loader, repo, revision, target, cache, started, store=True, strict=strict
                )
            except (UnavailableError, AccessError) as exc:
                # E.g. read-only credentials: the model still loads; storing it is tried
                # (and warned about) after the fill.
                logger.warning(
                    "model.lease_failed repo=%s location=%s filling_independently=true "
                    "reason=%s hint=%s",
                    repo,
                    self.location,
                    exc.summary,
                    exc.hints[0] if exc.hints else "",
                )
                return self._from_hub(
                    loader, repo, revision, target, cache, started, store=True, strict=strict
                )
            if lease is not None:
                try:
                    # Renewed while we fill, so a fill slower than the lease is not taken over.
                    with self.leases.keep_alive(lease):
                        # Someone may have finished between our lookup and the lease.
                        manifest = self.find_manifest(repo, revision, commit=target)
                        if manifest is not None:
                            return self._from_bucket(loader, manifest, revision, cache, started)
                        return self._from_hub(
                            loader,
                            repo,
                            revision,
                            target,
                            cache,
                            started,
                            store=True,
                            strict=strict,
                        )
                finally:
                    self._release(lease)
            if not waiting_logged:
                logger.info("model.waiting_for_fill repo=%s revision=%s", repo, revision)
                waiting_logged = True
            if self.clock.monotonic() >= deadline:
                raise LeaseTimeoutError(
                    f"Gave up waiting {self.wait_seconds:.0f} s for another process to store "
                    f"{repo}@{revision} in {self.location}.",
                    hints=[
                        "the process filling it may be stuck on a slow download; check its logs",
                        f"leases live under {self.layout.leases_prefix(repo)}; "
                        "`ivrimeet models gc` removes expired ones",
                    ],
                )
            self.clock.sleep(delay)
            delay = min(delay * 1.5, 5.0)
            manifest = self.find_manifest(repo, revision, commit=target)
            if manifest is not None:
                return self._from_bucket(loader, manifest, revision, cache, started)

    def _release(self, lease: Lease) -> None:
        try:
            self.leases.release(lease)
        except IvrimeetError as exc:
            logger.warning("model.lease_release_failed key=%s reason=%s", lease.key, exc.summary)

    # --- from the bucket ------------------------------------------------------

    def find_manifest(
        self, repo: str, revision: str, *, commit: str | None = None
    ) -> Manifest | None:
        """The stored manifest for ``repo@revision`` (or exactly ``commit``), or None."""
        if commit is None and is_commit(revision):
            commit = revision
        if commit is None:
            try:
                raw = self.objects.get_bytes(self.layout.ref(repo, revision))
            except ObjectNotFoundError:
                return None
            commit = validate_commit(raw.decode("ascii", "replace").strip())
        key = self.layout.manifest(repo, commit)
        try:
            data = self.objects.get_bytes(key)
        except ObjectNotFoundError:
            return None
        manifest = Manifest.from_json(data, source=self.objects.url_for(key))
        if manifest.repo != repo or manifest.commit != commit:
            raise IntegrityError(
                f"{self.objects.url_for(key)} describes {manifest.repo}@{manifest.commit}, "
                "not the model its key names.",
                hints=["remove it (`ivrimeet models rm REPO@COMMIT`) and pull the model again"],
            )
        return manifest

    def _from_bucket(
        self,
        loader: Loader[T],
        manifest: Manifest,
        revision: str,
        cache: Path,
        started: float,
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
        # Import the loader's libraries (pyannote: ~7 s) while the blobs download.
        warming = threading.Thread(target=_prepare_quietly, args=(loader,), daemon=True)
        warming.start()
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
            warming.join()
        if result.bad:
            self._heal(manifest, result.bad, cache)
        guard_cache(cache)
        value = loader.load(cache, manifest, self.hub)
        report = LoadReport(
            repo=manifest.repo,
            revision=revision,
            commit=manifest.commit,
            kind=loader.kind,
            source="s3",
            files=len(manifest.files),
            bytes=manifest.total_bytes,
            seconds=self.clock.monotonic() - started,
            healed=len(result.bad),
        )
        return Loaded(value=value, report=report, manifest=manifest)

    def _heal(self, manifest: Manifest, bad: tuple[BadBlob, ...], cache: Path) -> None:
        """Fetch each bad blob's file from Hugging Face at its pinned commit; re-upload it."""
        for blob in bad:
            entries = [f for f in manifest.files if f.sha256 == blob.sha256]
            source = entries[0]
            key = self.layout.blob(blob.sha256)
            logger.warning(
                "model.blob_bad key=%s repo=%s path=%s problem=%s healing_from=huggingface",
                key,
                source.repo,
                source.path,
                blob.problem,
            )
            try:
                with temp_cache(self.tmp_dir) as heal_dir:
                    # One fast request first: hf_hub_download retries an outage for ~20 s.
                    resolve_commit(self.hub, source.repo, source.commit)
                    fetched = download_file(
                        self.hub, source.repo, source.path, source.commit, heal_dir
                    ).resolve()
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
                    f"Blob {self.objects.url_for(key)} of {manifest.repo}@{manifest.commit} "
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
                    self.objects,
                    self.layout,
                    [LocalBlob(blob.sha256, blob.size, first)],
                    overwrite=frozenset({blob.sha256}),
                )
                logger.info("model.blob_healed key=%s bytes=%d", key, blob.size)
            except IvrimeetError as exc:
                logger.warning("model.blob_heal_upload_failed key=%s reason=%s", key, exc.summary)

    # --- from Hugging Face ----------------------------------------------------

    def _from_hub(
        self,
        loader: Loader[T],
        repo: str,
        revision: str,
        target: str | None,
        cache: Path,
        started: float,
        *,
        store: bool,
        strict: bool,
        bucket_problem: IvrimeetError | None = None,
    ) -> Loaded[T]:
        try:
            # Pin the commit first: every file then comes from one commit even if the
            # branch moves meanwhile, and an unreachable Hub fails in one fast request
            # (hf_hub_download retries 503s for ~20 s before giving up).
            fill_revision = target or (
                revision if is_commit(revision) else resolve_commit(self.hub, repo, revision)
            )
            value = loader.fill(cache, repo, fill_revision, self.hub)
        except (UnavailableError, AccessError, ModelNotFoundError) as exc:
            raise self.both_failed(repo, revision, exc, bucket_problem) from exc
        closure = scan_closure(cache)
        commit = closure.commit_of(repo, fill_revision)
        if commit is None:
            raise IntegrityError(
                f"Loading {repo}@{fill_revision} left no snapshot of it in the cache.",
                hints=["report this: the loader did not read the repo through the HF cache"],
            )
        refs = set(closure.refs)
        if not is_commit(revision):
            refs.add(ManifestRef(repo=repo, revision=revision, commit=commit))
        manifest = Manifest(
            repo=repo,
            commit=commit,
            kind=loader.kind,
            files=closure.files,
            refs=tuple(refs),
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        stored = False
        if store:
            stored = self._store(manifest, cache, revision, strict=strict)
        if self.local is not None:
            for sha256, path in _local_blobs(manifest, cache).items():
                self.local.keep(sha256, path)
        report = LoadReport(
            repo=repo,
            revision=revision,
            commit=commit,
            kind=loader.kind,
            source="hf",
            files=len(manifest.files),
            bytes=manifest.total_bytes,
            seconds=self.clock.monotonic() - started,
            stored=stored,
        )
        return Loaded(value=value, report=report, manifest=manifest)

    def both_failed(
        self,
        repo: str,
        revision: str,
        hub_error: IvrimeetError,
        bucket_problem: IvrimeetError | None,
    ) -> IvrimeetError:
        """One error naming why the bucket and why Hugging Face could not serve ``repo``."""
        if bucket_problem is None:
            bucket_line = (
                f"bucket {self.location}: not stored (no {self.layout.ref(repo, revision)})"
            )
        else:
            bucket_line = f"bucket {self.location}: {bucket_problem.summary}"
        hints = [*hub_error.hints]
        if bucket_problem is not None:
            hints += [h for h in bucket_problem.hints if h not in hints]
        return type(hub_error)(
            f"Cannot load {repo}@{revision}: not from the bucket, not from Hugging Face.",
            details=[
                bucket_line,
                f"Hugging Face {self.hub.endpoint}: {hub_error.summary}",
                *hub_error.details,
            ],
            hints=hints,
        )

    def _store(self, manifest: Manifest, cache: Path, revision: str, *, strict: bool) -> bool:
        """Upload blobs, then the manifest (create-only, last), then the ref."""
        what = f"{manifest.repo}@{manifest.commit}"
        blobs = {
            sha256: LocalBlob(sha256, manifest.blobs[sha256], path)
            for sha256, path in _local_blobs(manifest, cache).items()
        }
        key = self.layout.manifest(manifest.repo, manifest.commit)
        try:
            result = upload_blobs(
                self.objects,
                self.layout,
                blobs.values(),
                concurrency=self.concurrency,
                events=self.events,
            )
            try:
                self.objects.put_if_absent(key, manifest.to_json(), content_type="application/json")
            except AlreadyExistsError:
                logger.info("model.manifest_exists key=%s", key)
            except CreateOnlyUnsupportedError:
                # rclone and friends: identical closures overwrite each other harmlessly.
                self.objects.put(key, manifest.to_json(), content_type="application/json")
            self._write_ref(manifest.repo, revision, manifest.commit, strict=True)
        except IvrimeetError as exc:
            if strict:
                raise
            logger.warning(
                "model.store_failed repo=%s commit=%s location=%s reason=%s hint=%s",
                manifest.repo,
                manifest.commit,
                self.location,
                exc.summary,
                exc.hints[0] if exc.hints else "",
            )
            return False
        logger.info(
            "model.stored repo=%s commit=%s blobs=%d uploaded=%d skipped=%d bytes=%d seconds=%.2f",
            what.split("@")[0],
            manifest.commit,
            len(blobs),
            result.uploaded,
            result.skipped,
            result.bytes,
            result.seconds,
        )
        return True

    def _write_ref(self, repo: str, revision: str, commit: str, *, strict: bool) -> None:
        if is_commit(revision):
            return
        try:
            self.objects.put(self.layout.ref(repo, revision), commit.encode())
        except IvrimeetError as exc:
            if strict:
                raise
            logger.warning(
                "model.ref_failed repo=%s revision=%s reason=%s", repo, revision, exc.summary
            )

    # --- reporting ------------------------------------------------------------

    def _log_loaded(self, report: LoadReport) -> None:
        logger.info(
            "model.loaded repo=%s revision=%s commit=%s kind=%s source=%s files=%d bytes=%d "
            "seconds=%.2f healed=%d",
            report.repo,
            report.revision,
            report.commit,
            report.kind,
            report.source,
            report.files,
            report.bytes,
            report.seconds,
            report.healed,
        )

    def _warn_if_disk_low(self) -> None:
        free = shutil.disk_usage(self.tmp_dir).free
        if free < self.disk_warning_bytes:
            logger.warning(
                "disk.low path=%s free_bytes=%d threshold_bytes=%d",
                self.tmp_dir,
                free,
                self.disk_warning_bytes,
            )


def _local_blobs(manifest: Manifest, cache: Path) -> dict[str, Path]:
    """Where each unique body of a filled closure is on disk: sha256 -> path."""
    found: dict[str, Path] = {}
    for entry in manifest.files:
        if entry.sha256 not in found:
            snapshot = cache / cache_folder_name(entry.repo) / "snapshots" / entry.commit
            found[entry.sha256] = (snapshot / entry.path).resolve()
    return found


def _prepare_quietly(loader: Loader[object]) -> None:
    try:
        loader.prepare()
    except Exception as exc:  # noqa: BLE001  # the load itself raises it again, translated
        logger.debug("model.prepare_failed kind=%s reason=%s", loader.kind, exc)


@contextmanager
def _single_flight(key: tuple[str, str, str]) -> Iterator[None]:
    with _FLIGHTS_LOCK:
        lock = _FLIGHTS.setdefault(key, threading.Lock())
    with lock:
        yield
