"""Who fills a missing model: the lease holder fills, everyone else waits and restores its result.

Also the two in-process helpers of a load: ``Warmup`` (the loader's heavy imports
in a thread, overlapped with a restore or with waiting for another process's
fill) and ``single_flight`` (loads of one model in one process take turns).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ivrimeet.errors import (
    AccessError,
    CreateOnlyUnsupportedError,
    IvrimeetError,
    LeaseTimeoutError,
    UnavailableError,
)
from ivrimeet.models.hubfill import fill_from_hub
from ivrimeet.models.report import Loaded

if TYPE_CHECKING:
    from ivrimeet.models.loaders import Loader
    from ivrimeet.models.store import ModelStore

__all__ = ["Warmup", "coordinated_fill", "single_flight"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# One lock per (kind, repo, revision), shared by every ModelStore of the process.
_FLIGHTS: dict[tuple[str, str, str], threading.Lock] = {}
_FLIGHTS_LOCK = threading.Lock()


class Warmup:
    """The loader's heavy imports (pyannote: ~7 s) in a thread, started once, joined before use.

    Started while blobs download, and already while waiting for another
    process's fill: a wave of waiters is then ready soon after the filler.
    """

    def __init__(self, loader: Loader[object]) -> None:
        self._thread = threading.Thread(target=_prepare_quietly, args=(loader,), daemon=True)

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def join(self) -> None:
        if self._thread.ident is not None:
            self._thread.join()


def coordinated_fill(
    store: ModelStore,
    loader: Loader[T],
    repo: str,
    revision: str,
    target: str | None,
    cache: Path,
    started: float,
    strict: bool,
    warmup: Warmup,
) -> Loaded[T]:
    """Fill under the lease, or wait for the process holding it and restore its result."""
    deadline = store.clock.monotonic() + store.wait_seconds
    delay = 0.2
    waiting_logged = False
    while True:
        try:
            lease = store.leases.acquire(repo, revision)
        except CreateOnlyUnsupportedError:
            logger.info(
                "model.lease_unsupported repo=%s location=%s filling_independently=true",
                repo,
                store.location,
            )
            return fill_from_hub(
                store, loader, repo, revision, target, cache, started, store=True, strict=strict
            )
        except (UnavailableError, AccessError) as exc:
            # E.g. read-only credentials: the model still loads; storing it is tried
            # (and warned about) after the fill.
            logger.warning(
                "model.lease_failed repo=%s location=%s filling_independently=true "
                "reason=%s hint=%s",
                repo,
                store.location,
                exc.summary,
                exc.hints[0] if exc.hints else "",
            )
            return fill_from_hub(
                store, loader, repo, revision, target, cache, started, store=True, strict=strict
            )
        if lease is not None:
            try:
                # Renewed while we fill, so a fill slower than the lease is not taken over.
                with store.leases.keep_alive(lease):
                    # Someone may have finished between our lookup and the lease.
                    manifest = store.find_manifest(repo, revision, commit=target)
                    if manifest is not None:
                        return store.from_bucket(loader, manifest, revision, cache, started, warmup)
                    return fill_from_hub(
                        store,
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
                _release(store, lease.key)
        if not waiting_logged:
            logger.info("model.waiting_for_fill repo=%s revision=%s", repo, revision)
            waiting_logged = True
            warmup.start()
        if store.clock.monotonic() >= deadline:
            raise LeaseTimeoutError(
                f"Gave up waiting {store.wait_seconds:.0f} s for another process to store "
                f"{repo}@{revision} in {store.location}.",
                hints=[
                    "the process filling it may be stuck on a slow download; check its logs",
                    f"leases live under {store.layout.leases_prefix(repo)}; "
                    "`ivrimeet models gc` removes expired ones",
                ],
            )
        store.clock.sleep(delay)
        delay = min(delay * 1.5, 5.0)
        manifest = store.find_manifest(repo, revision, commit=target)
        if manifest is not None:
            return store.from_bucket(loader, manifest, revision, cache, started, warmup)


def _release(store: ModelStore, key: str) -> None:
    try:
        store.objects.delete(key)
    except IvrimeetError as exc:
        logger.warning("model.lease_release_failed key=%s reason=%s", key, exc.summary)


def _prepare_quietly(loader: Loader[object]) -> None:
    try:
        loader.prepare()
    except Exception as exc:  # noqa: BLE001  # the load itself raises it again, translated
        logger.debug("model.prepare_failed kind=%s reason=%s", loader.kind, exc)


@contextmanager
def single_flight(key: tuple[str, str, str]) -> Iterator[None]:
    with _FLIGHTS_LOCK:
        lock = _FLIGHTS.setdefault(key, threading.Lock())
    with lock:
        yield
