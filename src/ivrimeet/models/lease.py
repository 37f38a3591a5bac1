"""Fill leases: one process at a time fills a model from Hugging Face, across machines.

A lease is a small JSON object written create-only at::

    leases/<org>/<name>/<revision>/<generation>      {"owner": …, "instance": …, "host": …,
                                                      "boot": …, "pid_ns": …, "pid": …,
                                                      "started": …, "expires": <epoch s>}

Acquiring means creating the next generation after the highest one present,
and only when that one is free: expired, or held by a process that is provably
gone (same boot and PID namespace as ours, and not running any more: a
``kill -9`` need not wait for the expiry; see ``processes.py``). A holder in
another container or on another machine cannot be checked: its expiry decides. Two
processes racing for the same generation both try a create-only put; exactly one
wins. Taking over is therefore another create-only put, never an overwrite or a
delete of someone else's lease. The holder deletes only its own key when done.

A fill can take longer than the lease lasts (a slow Hub, a big model), so the
holder keeps its lease alive while it fills (``Leases.keep_alive``): every
third of the lease's lifetime it rewrites its own key with a later expiry. Only
the holder ever writes that key, so the rewrite is a plain put. A waiter
therefore takes over only when the holder stopped renewing (it died, hung, or
lost the bucket for a whole lifetime), never because the fill is merely slow.
If the holder finds a newer generation above its own (it was taken over after
all), it stops renewing and says so; its fill still finishes, and the manifest's
create-only put keeps the bucket consistent.

Servers that ignore create-only puts (rclone) make ``acquire`` raise
``CreateOnlyUnsupportedError``; the caller then fills on its own (duplicate
identical uploads, never corruption).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ivrimeet.errors import (
    AlreadyExistsError,
    CreateOnlyUnsupportedError,
    IvrimeetError,
    ObjectNotFoundError,
)
from ivrimeet.models.clock import Clock
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.processes import ProcessIdentity, current_process, provably_gone
from ivrimeet.objects.store import ObjectStore

__all__ = ["Lease", "LeaseHolder", "Leases"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease, and until when."""

    owner: str
    process: ProcessIdentity
    expires: float

    def is_free(self, now: float) -> bool:
        """True once expired, or when its process is provably gone."""
        return now >= self.expires or provably_gone(self.process)


@dataclass(frozen=True)
class Lease:
    """A lease this process holds."""

    key: str
    holder: LeaseHolder

    @property
    def generations_prefix(self) -> str:
        """The prefix every generation of this lease lives under."""
        return self.key.rsplit("/", 1)[0] + "/"


def _body(holder: LeaseHolder) -> bytes:
    process = holder.process
    return json.dumps(
        {
            "owner": holder.owner,
            "instance": process.instance,
            "host": process.host,
            "boot": process.boot,
            "pid_ns": process.pid_ns,
            "pid": process.pid,
            "started": process.started,
            "expires": holder.expires,
        },
        sort_keys=True,
    ).encode()


class Leases:
    """Acquire and release fill leases in ``objects`` under ``layout``."""

    def __init__(
        self, objects: ObjectStore, layout: BucketLayout, clock: Clock, seconds: float
    ) -> None:
        self._objects = objects
        self._layout = layout
        self._clock = clock
        self._seconds = seconds

    def _generations(self, repo: str, revision: str) -> list[tuple[int, str]]:
        return self._listed(self._layout.leases_prefix(repo, revision))

    def _listed(self, prefix: str) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        for info in self._objects.list(prefix):
            tail = info.key[len(prefix) :]
            if tail.isdigit():
                found.append((int(tail), info.key))
        return sorted(found)

    def _holder(self, key: str) -> LeaseHolder | None:
        try:
            raw = json.loads(self._objects.get_bytes(key))
            return LeaseHolder(
                owner=str(raw["owner"]),
                process=ProcessIdentity(
                    host=str(raw["host"]),
                    pid=int(raw["pid"]),
                    started=int(raw["started"]),
                    # Absent in leases written before instance ids: then only expiry frees them.
                    instance=str(raw.get("instance", "")),
                    boot=str(raw.get("boot", "")),
                    pid_ns=int(raw.get("pid_ns", 0)),
                ),
                expires=float(raw["expires"]),
            )
        except ObjectNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # Unreadable lease: treat as expired rather than blocking fills forever.
            return LeaseHolder(owner="?", process=ProcessIdentity("?", 0, 0), expires=0.0)

    def current(self, repo: str, revision: str) -> tuple[int, LeaseHolder | None]:
        """The highest generation present (-1 if none) and its holder."""
        generations = self._generations(repo, revision)
        if not generations:
            return -1, None
        number, key = generations[-1]
        return number, self._holder(key)

    def acquire(self, repo: str, revision: str) -> Lease | None:
        """Take the lease for ``repo@revision`` if it is free; None if a live holder has it.

        Raises ``CreateOnlyUnsupportedError`` if the server cannot do create-only puts.
        """
        if not self._objects.supports_create_only():
            raise CreateOnlyUnsupportedError(
                f"{self._objects.location} does not honour create-only puts; "
                f"cannot lease the fill of {repo}@{revision}."
            )
        number, holder = self.current(repo, revision)
        now = self._clock.now()
        if holder is not None and not holder.is_free(now):
            return None
        me = current_process()
        mine = LeaseHolder(
            owner=f"{me.host}/{me.pid}/{me.instance}",
            process=me,
            expires=now + self._seconds,
        )
        key = f"{self._layout.leases_prefix(repo, revision)}{number + 1}"
        try:
            self._objects.put_if_absent(key, _body(mine), content_type="application/json")
        except AlreadyExistsError:
            return None
        if holder is not None:
            logger.info(
                "model.lease_taken_over repo=%s revision=%s generation=%d previous=%s",
                repo,
                revision,
                number + 1,
                holder.owner,
            )
        return Lease(key=key, holder=mine)

    def renew(self, lease: Lease) -> Lease | None:
        """Push ``lease``'s expiry a full lifetime from now; None if it was taken over.

        Taken over means a newer generation exists above ours: someone found our
        lease free (expired, or our process looked dead) and created the next one.
        """
        generations = self._listed(lease.generations_prefix)
        if not generations or generations[-1][1] != lease.key:
            return None
        renewed = Lease(
            key=lease.key, holder=replace(lease.holder, expires=self._clock.now() + self._seconds)
        )
        self._objects.put(lease.key, _body(renewed.holder), content_type="application/json")
        return renewed

    @contextmanager
    def keep_alive(self, lease: Lease) -> Iterator[None]:
        """Renew ``lease`` every third of its lifetime until the ``with`` block ends.

        The renewing thread has stopped (and written its last renewal) when the
        block exits, so a ``release`` right after cannot be undone by a late renewal.
        """
        keeper = _KeepAlive(self, lease, interval=self._seconds / 3)
        keeper.start()
        try:
            yield
        finally:
            keeper.stop()

    def release(self, lease: Lease) -> None:
        """Delete our own lease key."""
        self._objects.delete(lease.key)

    def remove_expired(self, repo: str | None = None, revision: str | None = None) -> list[str]:
        """Delete lease keys that are free: expired, or of a provably gone owner.

        ``models gc`` runs it over every lease; a successful load over its own
        model's (a filler killed after its manifest leaves its lease behind).
        """
        removed: list[str] = []
        now = self._clock.now()
        for info in list(self._objects.list(self._layout.leases_prefix(repo, revision))):
            holder = self._holder(info.key)
            if holder is None or holder.is_free(now):
                self._objects.delete(info.key)
                removed.append(info.key)
        return removed


class _KeepAlive:
    """The thread behind ``Leases.keep_alive``."""

    def __init__(self, leases: Leases, lease: Lease, *, interval: float) -> None:
        self._leases = leases
        self._lease = lease
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-keepalive-{lease.key.rsplit('/', 1)[-1]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                renewed = self._leases.renew(self._lease)
            except IvrimeetError as exc:
                # The bucket hiccuped: the lease is still ours until it expires; try again.
                logger.warning(
                    "model.lease_renew_failed key=%s reason=%s", self._lease.key, exc.summary
                )
                continue
            if renewed is None:
                logger.warning("model.lease_lost key=%s taken_over=true", self._lease.key)
                return
            self._lease = renewed
            logger.debug(
                "model.lease_renewed key=%s expires=%.0f", renewed.key, renewed.holder.expires
            )
