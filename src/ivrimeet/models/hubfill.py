"""Fill a model from Hugging Face into a fresh cache, describe its closure, store it.

``fill_from_hub`` seeds the cache with what the bucket already holds of the
repo (``seeding.py``), runs the loader online, checks every config file of
what arrived (``config_guard``: never store what a restore would refuse),
builds the manifest from the cache, and stores it (``filling.py``) when asked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ivrimeet.errors import (
    AccessError,
    IntegrityError,
    IvrimeetError,
    ModelNotFoundError,
    UnavailableError,
)
from ivrimeet.models.cache_growth import watch_growth
from ivrimeet.models.closure import scan_closure
from ivrimeet.models.config_guard import guard_cache
from ivrimeet.models.filling import local_blobs, store_closure
from ivrimeet.models.hub import resolve_commit
from ivrimeet.models.loaders import Seeder, no_seed
from ivrimeet.models.manifest import Manifest, ManifestRef
from ivrimeet.models.repo_ids import is_commit
from ivrimeet.models.report import Loaded, LoadReport
from ivrimeet.models.seeding import seed_from_bucket

if TYPE_CHECKING:
    from ivrimeet.models.loaders import Loader
    from ivrimeet.models.store import ModelStore

__all__ = ["both_failed", "fill_from_hub"]

T = TypeVar("T")


def _seeder(model_store: ModelStore, cache: Path) -> Seeder:
    seeded: set[str] = set()

    def seed(repo: str, revision: str) -> int:
        if repo in seeded:  # a repo is seeded once per fill, at the first revision asked
            return 0
        seeded.add(repo)
        return seed_from_bucket(
            model_store.objects,
            model_store.layout,
            repo,
            revision,
            cache,
            concurrency=model_store.concurrency,
        )

    return seed


def fill_from_hub(
    model_store: ModelStore,
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
    """Load ``repo`` from Hugging Face into ``cache``; ``store``: put its closure in the bucket."""
    try:
        # Pin the commit first: every file then comes from one commit even if the
        # branch moves meanwhile, and an unreachable Hub fails in one fast request
        # (hf_hub_download retries 503s for ~20 s before giving up).
        fill_revision = target or (
            revision if is_commit(revision) else resolve_commit(model_store.hub, repo, revision)
        )
        seed = _seeder(model_store, cache) if store else no_seed
        seed(repo, revision)
        events = model_store.events
        events.started("download", f"{repo} from Hugging Face", 0, None)
        try:
            with watch_growth(cache, events.advanced):
                value = loader.fill(cache, repo, fill_revision, model_store.hub, seed)
        finally:
            events.finished()
    except (UnavailableError, AccessError, ModelNotFoundError) as exc:
        raise both_failed(model_store, repo, revision, exc, bucket_problem) from exc
    closure = scan_closure(cache)
    commit = closure.commit_of(repo, fill_revision)
    if commit is None:
        raise IntegrityError(
            f"Loading {repo}@{fill_revision} left no snapshot of it in the cache.",
            hints=["report this: the loader did not read the repo through the HF cache"],
        )
    # What the Hub served is checked like a restore would be: never store what a
    # later restore would refuse (the loader checked its entry points before running).
    guard_cache(cache)
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
        stored = store_closure(
            model_store.objects,
            model_store.layout,
            manifest,
            cache,
            revision,
            strict=strict,
            concurrency=model_store.concurrency,
            events=model_store.events,
        )
    if model_store.local is not None:
        for sha256, path in local_blobs(manifest, cache).items():
            model_store.local.keep(sha256, path)
    report = LoadReport(
        repo=repo,
        revision=revision,
        commit=commit,
        kind=loader.kind,
        files=len(manifest.files),
        bytes=manifest.total_bytes,
        seconds=model_store.clock.monotonic() - started,
        stored=stored,
        origin="huggingface",
        location=model_store.hub.endpoint,
    )
    return Loaded(value=value, report=report, manifest=manifest)


def both_failed(
    model_store: ModelStore,
    repo: str,
    revision: str,
    hub_error: IvrimeetError,
    bucket_problem: IvrimeetError | None,
) -> IvrimeetError:
    """One error naming why the bucket and why Hugging Face could not serve ``repo``."""
    if bucket_problem is None:
        ref = model_store.layout.ref(repo, revision)
        bucket_line = f"bucket {model_store.location}: not stored (no {ref})"
    else:
        bucket_line = f"bucket {model_store.location}: {bucket_problem.summary}"
    hints = [*hub_error.hints]
    if bucket_problem is not None:
        hints += [h for h in bucket_problem.hints if h not in hints]
    return type(hub_error)(
        f"Cannot load {repo}@{revision}: not from the bucket, not from Hugging Face.",
        details=[
            bucket_line,
            f"Hugging Face {model_store.hub.endpoint}: {hub_error.summary}",
            *hub_error.details,
        ],
        hints=hints,
    )
